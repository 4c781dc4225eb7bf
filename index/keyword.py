"""The keyword side: a BM25 index (bm25s) over the same chunks as the vector store.

It is derived data: rebuilt from the vector store's chunk texts by every indexing run that
changed the store (or finds the saved one stale), and saved under the manifest's generation
number. A reader that finds the saved index stale (a run died, or is still writing) rebuilds
it in memory from the store and never saves it: only writers save.

With a Chroma server (`Index(chroma_url=...)`) this index is a cache in each machine's index
directory, keyed by the token every writer puts in the collection's metadata; a search that
finds another token rebuilds it from the server's chunks (and saves it), so the keyword side
follows what any process wrote, as of its previous write. Chroma 1.5's own keyword search
cannot replace it on a self-hosted server: `Collection.search` (Knn/Rrf ranking) answers "Search
operation is not implemented for local executor", a sparse vector index is refused ("Sparse
vector indexing is not enabled in local") and so are sparse vectors in metadata; those are
Chroma Cloud features. `where_document` `$contains`/`$regex` filter but do not rank, and
Chroma's BM25 embedding function knows neither French stemming nor per-document language.
Limits: a search checks the token (one request, 2-3 ms on loopback); a rebuild reads and
re-tokenises every chunk (1.3 s for 5,000 chunks here, 0.4 s of it fetching), so readers pay
that after each writer's flush, and a change is seen at the next search, not mid-search.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import os
import shutil
import tempfile
import zlib
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .text import query_tokens, tokens

_POINTER = "keyword.json"


class KeywordIndex:
    """BM25 over chunk texts, each tokenised in its document's language."""

    def __init__(
        self,
        ids: list[str],
        doc_ids: list[str],
        bm25,
        documents: dict[str, dict] | None = None,
        spans: Spans | None = None,
    ) -> None:
        self.ids = ids
        # doc id -> path, title, date, source, file: the documents as the store knows them
        self.documents = documents or {}
        self.doc_ids = np.asarray(doc_ids, dtype=object)
        self.bm25 = bm25
        self.spans = spans  # where each chunk's text lies in its document, when known

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Chunk id -> row, made on the first search (an indexing run never needs it: 10 MB
        at 112k chunks). Two threads may both make it; they make the same."""
        return {cid: i for i, cid in enumerate(self.ids)}

    @classmethod
    def build(
        cls,
        ids: list[str],
        doc_ids: list[str],
        texts: list[str],
        langs: list[str],
        documents: dict[str, dict] | None = None,
    ) -> KeywordIndex:
        return cls.from_chunks(zip(ids, doc_ids, texts, langs, strict=True), documents)

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[tuple],
        documents: dict[str, dict] | None = None,
        spill: Path | None = None,
    ) -> KeywordIndex:
        """Build from (chunk id, doc id, text, language) tuples, read once; with (…, start,
        end) tuples, the index also knows where each text lies in its document (`spans`).

        bm25s wants the chunk × term matrix by term (CSC), which needs every term's chunk
        count before the first chunk can be placed. So the chunks are read once: each text
        becomes its distinct token numbers and their counts, which go to two temporary files
        in `spill` (the index directory; the system's temporary folder when None), while the
        counts per term and the chunk lengths stay in memory (a few bytes per chunk). The
        files are then read back a block at a time and each block's BM25 scores are placed in
        their terms' columns. Memory holds the finished matrix and one block, not the matrix
        twice: bm25s's own `index` peaked about 300 MB higher at 112k chunks, and building by
        chunk in memory, then converting, 70 MB higher. The scores are bm25s's Lucene BM25
        (tests hold the two equal)."""
        import bm25s

        bm25 = bm25s.BM25()
        if bm25.method not in ("lucene", "robertson") or bm25.idf_method not in (None, "lucene"):
            raise RuntimeError(f"bm25s's default BM25 is now {bm25.method}/{bm25.idf_method}")
        ids: list[str] = []
        doc_ids: list[str] = []
        vocab: dict[str, int] = {}
        same: dict[str, str] = {}  # one string object per document id
        distinct, lengths = array("q", [0]), array("f")
        with (
            tempfile.TemporaryFile(dir=spill, prefix="keyword-terms-") as term_file,
            tempfile.TemporaryFile(dir=spill, prefix="keyword-counts-") as count_file,
        ):
            per_term = _Spill(term_file, count_file)
            spans: _SpanBuilder | None = _SpanBuilder()
            for chunk_id, doc_id, text, lang, *where in chunks:
                if spans is not None:
                    spans = spans.add(text, lang, where)
                ids.append(chunk_id)
                doc_ids.append(same.setdefault(doc_id, doc_id))
                found = [vocab.setdefault(t, len(vocab)) for t in tokens(text, lang)]
                numbers, tf = np.unique(np.asarray(found, dtype=np.int32), return_counts=True)
                per_term.add(numbers, tf)
                distinct.append(distinct[-1] + len(numbers))
                lengths.append(len(found))
            spans = spans.finish() if spans is not None else None
            if not ids:
                return cls(ids, doc_ids, None, documents)
            df = per_term.finish(len(vocab))
            _release_freed_memory()
            n, k1, b = len(ids), bm25.k1, bm25.b
            indptr = np.frombuffer(distinct, dtype=np.int64)
            doc_len = np.frombuffer(lengths, dtype=np.float32)
            idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
            norm = (k1 * ((1 - b) + b * doc_len / doc_len.mean())).astype(np.float32)
            index_type = np.int32 if indptr[-1] < 2**31 else np.int64
            col_ptr = np.zeros(len(vocab) + 1, dtype=index_type)
            np.cumsum(df, out=col_ptr[1:])
            rows = np.empty(int(indptr[-1]), dtype=index_type)
            data = np.empty(int(indptr[-1]), dtype=np.float32)
            cursor = col_ptr[:-1].astype(np.int64)
            for first, last, terms, tf in per_term.blocks(indptr):
                row = np.repeat(
                    np.arange(first, last, dtype=index_type), np.diff(indptr[first : last + 1])
                )
                # score = idf · tf / (tf + k1 · (1 − b + b · length / mean length))
                score = tf / (norm[row] + tf)
                score *= idf[terms]
                order = np.argsort(terms, kind="stable")  # by term, chunks in order
                terms = terms[order]
                in_block = np.bincount(terms, minlength=len(vocab))
                starts = np.cumsum(in_block) - in_block
                place = cursor[terms] + (np.arange(len(terms)) - starts[terms])
                rows[place] = row[order]
                data[place] = score[order]
                cursor += in_block
        bm25.scores = {"data": data, "indices": rows, "indptr": col_ptr, "num_docs": n}
        vocab[""] = len(vocab)  # as bm25s's `index` does: scores chunks without any token
        bm25.vocab_dict = vocab
        bm25.unique_token_ids_set = set(vocab.values())
        bm25.nonoccurrence_array = None
        return cls(ids, doc_ids, bm25, documents, spans)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros where no query term occurs)."""
        if self.bm25 is None:
            return np.zeros(0, dtype=np.float32)
        vocab = self.bm25.vocab_dict
        terms = [t for t in query_tokens(query) if t in vocab]
        if not terms:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)

    def coverage(self, chunk_id: str, terms: list[frozenset[str]]) -> float:
        """Share of the query's content words (`query_terms`) that occur in the chunk: what
        `text.coverage` gives on its text, read from the index's postings, not the text."""
        position = self.position.get(chunk_id)
        if not terms or position is None or self.bm25 is None:
            return 0.0
        vocab, postings = self.bm25.vocab_dict, self.bm25.scores
        indices, indptr = postings["indices"], postings["indptr"]

        def holds(token: str) -> bool:
            t = vocab.get(token)
            return t is not None and bool(np.any(indices[indptr[t] : indptr[t + 1]] == position))

        return sum(1 for stems in terms if any(holds(s) for s in stems)) / len(terms)

    def top(
        self, scores: np.ndarray, n: int, docs: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """The `n` best chunk ids by `scores` with a positive score, optionally only
        from the documents `docs`."""
        if not len(scores):
            return []
        if docs is not None:
            mask = np.fromiter((d in docs for d in self.doc_ids), dtype=bool, count=len(scores))
            scores = np.where(mask, scores, 0.0)
        hits = np.flatnonzero(scores > 0)  # a few thousand of 100,000: partition only those
        if len(hits) > n:
            hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
        hits = hits[np.lexsort((hits, -scores[hits]))]  # best first; ties by position
        return [(self.ids[i], float(scores[i])) for i in hits]

    # -- persistence ------------------------------------------------------------------------
    def save(self, index_dir: Path, generation: int | str) -> None:
        """Write a new generation folder, then switch the pointer file to it atomically.

        Under an exclusive lock on the index directory's `keyword.lock`: in server mode every
        process that rebuilds the cache saves it, and two may share an index directory (a
        `dossier serve` and a `dossier index` in the same working directory).
        """
        with _locked(index_dir, fcntl.LOCK_EX):
            self._save(index_dir, generation)

    def _save(self, index_dir: Path, generation: int | str) -> None:
        folder = index_dir / f"keyword-{generation}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if self.bm25 is not None:
            self.bm25.save(str(folder), show_progress=False)
        saved = {"ids": self.ids, "doc_ids": self.doc_ids.tolist(), "documents": self.documents}
        if self.spans is not None:
            np.save(folder / "spans.npy", self.spans.where)
            saved["langs"] = self.spans.langs
        (folder / "ids.json").write_text(json.dumps(saved))
        tmp = index_dir / (_POINTER + ".tmp")
        tmp.write_text(json.dumps({"generation": generation, "folder": folder.name}))
        os.replace(tmp, index_dir / _POINTER)
        for old in index_dir.glob("keyword-*"):
            if old.name != folder.name:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def saved_generation(index_dir: Path) -> int | str | None:
        """The generation the saved keyword index was built for, None if there is none."""
        try:
            return json.loads((index_dir / _POINTER).read_text())["generation"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def load(cls, index_dir: Path, generation: int | str) -> KeywordIndex | None:
        """The saved index if it matches `generation`, else None (the caller rebuilds it)."""
        with _locked(index_dir, fcntl.LOCK_SH):  # not while another process saves
            return cls._load(index_dir, generation)

    @classmethod
    def _load(cls, index_dir: Path, generation: int | str) -> KeywordIndex | None:
        import bm25s

        try:
            pointer = json.loads((index_dir / _POINTER).read_text())
            if pointer["generation"] != generation:
                return None
            folder = index_dir / pointer["folder"]
            saved = json.loads((folder / "ids.json").read_text())
            ids, doc_ids = saved["ids"], saved["doc_ids"]
            bm25 = bm25s.BM25.load(str(folder), mmap=True, show_progress=False) if ids else None
            spans = None
            if "langs" in saved and (folder / "spans.npy").exists():
                where = np.load(folder / "spans.npy")
                if len(where) == len(ids):
                    spans = Spans(where, saved["langs"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(ids, doc_ids, bm25, saved.get("documents"), spans)


class Spans:
    """Each chunk's start and end in its document's text, a CRC-32 of its text (to catch a
    document text that has changed since), and its language: 32 bytes a chunk, so that a
    search can cut the passages it shows from the documents' texts instead of reading them
    from the store."""

    def __init__(self, where: np.ndarray, langs: list[str]) -> None:
        self.where = where  # rows of (start, end, crc32, language number), int64
        self.langs = langs

    def chunk(self, position: int, document_text: str) -> tuple[str, int, int, str] | None:
        """(text, start, end, language) of the chunk at `position`, cut from its document's
        text; None when that text no longer holds it."""
        start, end, crc, lang = (int(x) for x in self.where[position])
        text = document_text[start:end]
        if zlib.crc32(text.encode("utf-8")) != crc:
            return None
        return text, start, end, self.langs[lang]


class _SpanBuilder:
    def __init__(self) -> None:
        self.rows = array("q")
        self.langs: dict[str, int] = {}

    def add(self, text: str, lang: str, where: list) -> _SpanBuilder | None:
        """This builder with the chunk added; None (no spans) for a chunk without them."""
        if len(where) != 2 or where[0] is None or where[1] is None:
            return None
        code = self.langs.setdefault(lang, len(self.langs))
        crc = zlib.crc32(text.encode("utf-8"))
        self.rows.extend((int(where[0]), int(where[1]), crc, code))
        return self

    def finish(self) -> Spans:
        where = np.frombuffer(self.rows, dtype=np.int64).reshape(-1, 4).copy()
        return Spans(where, list(self.langs))


class _Spill:
    """Chunks' distinct term numbers and counts, written to two files as they come, with
    each term's chunk count kept in memory; read back a block of whole chunks at a time."""

    BLOCK = 1 << 18  # entries per write and per block read back (2 MB)

    def __init__(self, term_file, count_file) -> None:
        self.term_file, self.count_file = term_file, count_file
        self.terms, self.counts = array("i"), array("f")
        self.df = np.zeros(0, dtype=np.int64)

    def add(self, numbers: np.ndarray, tf: np.ndarray) -> None:
        self.terms.frombytes(numbers.tobytes())
        self.counts.frombytes(tf.astype(np.float32).tobytes())
        if len(self.terms) >= self.BLOCK:
            self._write()

    def _write(self) -> None:
        terms = np.frombuffer(self.terms, dtype=np.int32)
        found = np.bincount(terms, minlength=len(self.df))
        found[: len(self.df)] += self.df
        self.df = found
        self.term_file.write(self.terms.tobytes())
        self.count_file.write(self.counts.tobytes())
        self.terms, self.counts = array("i"), array("f")

    def finish(self, vocabulary: int) -> np.ndarray:
        """Write what is left; each term's chunk count, for `vocabulary` terms."""
        self._write()
        df = np.zeros(vocabulary, dtype=np.int64)
        df[: len(self.df)] = self.df
        self.term_file.seek(0)
        self.count_file.seek(0)
        return df

    def blocks(self, indptr: np.ndarray) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """(first chunk, end chunk, their term numbers, their counts), in chunk order."""
        first, n = 0, len(indptr) - 1
        while first < n:
            last = int(np.searchsorted(indptr, indptr[first] + self.BLOCK, side="right")) - 1
            last = min(n, max(last, first + 1))
            size = int(indptr[last] - indptr[first])
            terms = np.frombuffer(self.term_file.read(4 * size), dtype=np.int32)
            tf = np.frombuffer(self.count_file.read(4 * size), dtype=np.float32)
            yield first, last, terms, tf
            first = last


def _release_freed_memory() -> None:
    """Hand memory that Python and Chroma freed back to the system (glibc's malloc_trim), so
    that the arrays allocated next do not sit on top of it at the peak. Elsewhere, nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def _locked(index_dir: Path, how: int) -> Iterator[None]:
    """An advisory lock on `index_dir/keyword.lock` (shared to read, exclusive to write);
    none for a reader of a directory it cannot write to (nobody can save there either)."""
    try:
        handle = open(index_dir / "keyword.lock", "a")  # noqa: SIM115 - closed below
    except OSError:
        if how == fcntl.LOCK_EX:
            raise
        yield
        return
    with handle:
        fcntl.flock(handle, how)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
