"""What survives a stop at the worst moment, and what a re-run puts right."""

from __future__ import annotations

import json
import shutil

import pytest

from index import Index
from index.store import ChromaStore

from .conftest import CORPUS, NEWS, SAMPLE

pytestmark = pytest.mark.integration


class StopAfterUpsert(ChromaStore):
    """The real store, stopped as by Ctrl-C right after its first write of new chunks: the
    store is changed, the manifest and keyword index are not yet."""

    def upsert(self, *args, **kwargs) -> None:
        super().upsert(*args, **kwargs)
        raise KeyboardInterrupt


class RecordingStore(ChromaStore):
    """The real store, recording the size of every write it sends to Chroma."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.sizes: list[int] = []
        real = self.collection

        class Recorder:
            def __getattr__(self, name):
                return getattr(real, name)

            def upsert(inner, **kwargs):
                self.sizes.append(len(kwargs["ids"]))
                return real.upsert(**kwargs)

        self.collection = Recorder()


def _ids(idx: Index) -> list[str]:
    return sorted(c.chunk_id for c in idx.store.iter_all())


def _stop_after_upsert(idx: Index, paths) -> None:
    good = idx.store
    idx.store = StopAfterUpsert(idx.dir / "chroma")
    with pytest.raises(KeyboardInterrupt):
        idx.add(paths)
    idx.store = good


def test_stop_after_the_store_write_then_revert_the_file(make_index, corpus_copy):
    idx = make_index()
    idx.add([corpus_copy])
    original = _ids(idx)
    path = corpus_copy / SAMPLE
    before = path.read_bytes()
    path.write_text(
        path.read_text(encoding="utf-8") + "\n\nUn paragraphe ajouté puis retiré.\n",
        encoding="utf-8",
    )
    _stop_after_upsert(idx, [corpus_copy])
    assert len(_ids(idx)) > len(original), "the new version's chunks reached the store"

    path.write_bytes(before)  # e.g. `git checkout` of the file
    report = idx.add([corpus_copy])
    assert _ids(idx) == original, "the half-indexed version leaves nothing behind"
    assert report.failed == []
    assert sorted(idx.keyword.ids) == original


def test_stop_after_the_store_write_on_a_new_file_then_delete_it(make_index, corpus_copy):
    idx = make_index()
    idx.add([corpus_copy])
    original = _ids(idx)
    extra = corpus_copy / "extra.txt"
    extra.write_text(
        "Un article nouveau sur les vendanges en Bourgogne, précoces cette année.", encoding="utf-8"
    )
    _stop_after_upsert(idx, [corpus_copy])
    extra.unlink()
    report = idx.add([corpus_copy], prune=True)
    assert _ids(idx) == original
    assert report.documents == 1


def test_a_search_during_a_run_that_then_stops_leaves_no_stale_keyword_index(
    make_index, embedder, tmp_path
):
    class SearchedMidRun(ChromaStore):
        """The real store; after its first write a reader searches, after its second the
        writer is stopped (as by Ctrl-C)."""

        writes = 0

        def upsert(self, *args, **kwargs) -> None:
            super().upsert(*args, **kwargs)
            self.writes += 1
            if self.writes == 1:
                reader = Index(idx.dir, embedder=embedder, create=False)
                assert sorted(reader.keyword.ids) == _ids(idx), "readers see the store"
                reader.close()
            else:
                raise KeyboardInterrupt

    folder = tmp_path / "two"
    folder.mkdir()
    for name in sorted(p.name for p in NEWS.glob("*.txt"))[:2]:
        shutil.copy(NEWS / name, folder / name)
    idx = make_index()
    idx.flush_chunks = 1  # one file per write
    idx.store = SearchedMidRun(idx.dir / "chroma")
    with pytest.raises(KeyboardInterrupt):
        idx.add([folder])
    idx.store = ChromaStore(idx.dir / "chroma")
    report = idx.add([folder])  # the second file's chunks are stored: nothing to write
    assert report.embedded == 0 and report.documents == 2
    fresh = Index(idx.dir, embedder=embedder, create=False)
    assert sorted(fresh.keyword.ids) == _ids(idx), "the saved keyword index is complete"
    fresh.close()


def test_removed_date_and_source_leave_the_passages(make_index, tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    article = {
        "id": "a1",
        "title": "Vendanges",
        "date": "2025-09-02",
        "source": "Les Échos",
        "text": "Les vendanges ont commencé en Bourgogne avec deux semaines d'avance.",
    }
    path = folder / "feed.jsonl"
    path.write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
    idx = make_index()
    idx.add([folder])
    top = idx.search("vendanges en Bourgogne", k=1)[0]
    assert (top.date, top.source) == ("2025-09-02", "Les Échos")
    assert idx.search("vendanges", source="ÉCHOS"), "source filter folds non-ASCII case"

    del article["date"], article["source"]
    path.write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
    report = idx.add([folder])
    assert report.embedded == 0, "same text: metadata only"
    top = idx.search("vendanges en Bourgogne", k=1)[0]
    assert (top.date, top.source) == (None, None)
    assert idx.search("vendanges", after="2025-01-01") == []


def test_changing_the_chunk_size_rechunks_every_file(make_index, embedder, tmp_path):
    idx = make_index()
    idx.add([CORPUS])
    idx.close()
    smaller = Index(idx.dir, embedder=embedder, chunk_size=400, chunk_overlap=100)
    report = smaller.add([CORPUS])
    assert report.indexed == 1 and report.unchanged == 0
    clean = make_index("clean", chunk_size=400, chunk_overlap=100)
    clean.add([CORPUS])
    assert _ids(smaller) == _ids(clean)
    smaller.close()


def test_an_index_inside_the_indexed_folder_is_not_indexed(make_index, tmp_path, embedder):
    tree = tmp_path / "tree"
    shutil.copytree(CORPUS, tree)
    idx = Index(tree / "idx", embedder=embedder)
    idx.add([tree])
    again = idx.add([tree])
    assert again.failed == [] and again.documents == 1
    idx.close()


def test_writes_are_split_within_chromas_batch_limit(make_index, news_index):
    idx = make_index()
    idx.store = RecordingStore(idx.dir / "chroma")
    idx.store.max_batch = 7
    report = idx.add([NEWS, CORPUS])
    assert report.chunks == news_index.count_chunks() == sum(idx.store.sizes)
    assert max(idx.store.sizes) == 7 and len(idx.store.sizes) >= report.chunks // 7
    assert _ids(idx) == _ids(news_index), "same chunks as one unbatched build"
