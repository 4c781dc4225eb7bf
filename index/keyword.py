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
import fcntl
import json
import os
import shutil
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .text import query_tokens, tokens

_POINTER = "keyword.json"


class KeywordIndex:
    """BM25 over chunk texts, each tokenised in its document's language."""

    def __init__(
        self, ids: list[str], doc_ids: list[str], bm25, documents: dict[str, dict] | None = None
    ) -> None:
        self.ids = ids
        # doc id -> path, title, date, source, file: the documents as the store knows them
        self.documents = documents or {}
        self.doc_ids = np.asarray(doc_ids, dtype=object)
        self.bm25 = bm25
        self.position = {cid: i for i, cid in enumerate(ids)}

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
        cls, chunks: Iterable[tuple[str, str, str, str]], documents: dict[str, dict] | None = None
    ) -> KeywordIndex:
        """Build from (chunk id, doc id, text, language) tuples, read once.

        Each text becomes its distinct token numbers and their counts as it comes (4 + 4 bytes
        per distinct token, in flat arrays: no per-chunk objects), which are the rows of the
        chunk × term matrix. BM25's scores are computed on those arrays in place and turned
        into bm25s's column (term) layout by scipy's CSR → CSC conversion, which allocates only
        its output. bm25s's own `index` builds a Counter per chunk, three flat copies, and
        then an int64 sort key and sort order: at 112k chunks that was about 300 MB more at
        the peak than this. The scores are bm25s's Lucene BM25 (tests hold the two equal)."""
        import bm25s
        from scipy import sparse

        ids, doc_ids, vocab = [], [], {}
        terms, counts, distinct, lengths = array("i"), array("f"), array("q", [0]), array("f")
        for chunk_id, doc_id, text, lang in chunks:
            ids.append(chunk_id)
            doc_ids.append(doc_id)
            found = [vocab.setdefault(t, len(vocab)) for t in tokens(text, lang)]
            numbers, tf = np.unique(np.asarray(found, dtype=np.int32), return_counts=True)
            terms.frombytes(numbers.tobytes())
            counts.frombytes(tf.astype(np.float32).tobytes())
            distinct.append(distinct[-1] + len(numbers))
            lengths.append(len(found))
        if not ids:
            return cls(ids, doc_ids, None, documents)
        bm25 = bm25s.BM25()
        if bm25.method not in ("lucene", "robertson") or bm25.idf_method not in (None, "lucene"):
            raise RuntimeError(f"bm25s's default BM25 is now {bm25.method}/{bm25.idf_method}")
        columns = np.frombuffer(terms, dtype=np.int32)
        indptr = np.frombuffer(distinct, dtype=np.int64)
        doc_len = np.frombuffer(lengths, dtype=np.float32)
        n, k1, b = len(ids), bm25.k1, bm25.b
        df = np.bincount(columns, minlength=len(vocab))
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        # score = idf · tf / (k1 · (1 − b + b · length / mean length) + tf), in tf's own buffer
        data = np.frombuffer(counts, dtype=np.float32)
        norm = np.repeat(k1 * ((1 - b) + b * doc_len / doc_len.mean()), np.diff(indptr))
        norm += data
        np.divide(data, norm, out=data)
        del norm
        data *= idf[columns]
        by_term = sparse.csr_matrix((data, columns, indptr), shape=(n, len(vocab)), copy=False)
        by_term = by_term.tocsc()
        bm25.scores = {
            "data": by_term.data.astype(np.float32, copy=False),
            "indices": by_term.indices,
            "indptr": by_term.indptr,
            "num_docs": n,
        }
        vocab[""] = len(vocab)  # as bm25s's `index` does: scores chunks without any token
        bm25.vocab_dict = vocab
        bm25.unique_token_ids_set = set(vocab.values())
        bm25.nonoccurrence_array = None
        return cls(ids, doc_ids, bm25, documents)

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
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

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
        (folder / "ids.json").write_text(
            json.dumps(
                {"ids": self.ids, "doc_ids": self.doc_ids.tolist(), "documents": self.documents}
            )
        )
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
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(ids, doc_ids, bm25, saved.get("documents"))


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
