"""`Index`: an index directory (Chroma store, keyword index, manifest) opened for search and
for adding files. This is the entry point other apps import.

With `chroma_url`, the chunks live on a Chroma server that several dossier processes may share;
the index directory then holds this machine's file records (the manifest) and the keyword
index, a cache rebuilt from the server's chunks whenever the server's generation token moves.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .chunking import DEFAULT_OVERLAP, DEFAULT_SIZE
from .dates import date_to_int, parse_bound
from .embeddings import (
    BACKENDS,
    DEFAULT_MODEL,
    Embedder,
    embed_queries,
    make_embedder,
    probe_vector,
    same_space,
)
from .errors import ConfigError, IndexNotFoundError, ModelMismatchError
from .fusion import Candidate, Fusion, fuse, fusion_for
from .indexer import DEFAULT_MAX_FILE_MB, FLUSH_CHUNKS, IndexReport, run_index
from .keyword import KeywordIndex
from .lock import WriterLock
from .manifest import Manifest
from .store import COLLECTION, ChromaStore, StoredChunk
from .text import coverage, query_terms, question_language, repeats
from .types import Passage

CANDIDATES = 30  # each side's list before fusion; at least 4·k


class Index:
    """An index directory. Open it with `Index(path)`; build it with `add([...paths])`.
    `Index(path, chroma_url="http://host:8000")` keeps the chunks on a Chroma server instead
    (in the collection `collection`), and only the file records and keyword cache in `path`.

    The embedding model is loaded on first need (searching, or indexing changed files) and
    checked against the model that built the index.
    """

    def __init__(
        self,
        index_dir: str | Path = ".dossier",
        *,
        embed_model: str = DEFAULT_MODEL,
        embedder: Embedder | None = None,
        fusion: Fusion | None = None,
        chunk_size: int = DEFAULT_SIZE,
        chunk_overlap: int = DEFAULT_OVERLAP,
        create: bool = True,
        chroma_url: str | None = None,
        collection: str = COLLECTION,
        embed_backend: str = "auto",
        notify: Callable[[str], None] | None = None,
    ) -> None:
        if embed_backend not in BACKENDS:
            raise ConfigError(
                f"embedding backend {embed_backend!r}: expected one of {', '.join(BACKENDS)}."
            )
        self.dir = Path(index_dir)
        self.embed_backend = embed_backend
        self.notify = notify
        self.chroma_url = chroma_url
        self.remote = chroma_url is not None
        if self.remote:
            self.store = _server_store(chroma_url, collection, create)
        elif not create and not (self.dir / "manifest.sqlite3").exists():
            raise IndexNotFoundError(
                f"No index in {self.dir}/: build one with `dossier index corpus/` "
                "(or point --index-dir / DOSSIER_INDEX_DIR at an existing one)."
            )
        self.embed_model = embed_model
        # None: the one chosen for the model (index/fusion.py's MODEL_FUSIONS)
        self.fusion = fusion or fusion_for(getattr(embedder, "name", None) or embed_model)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.manifest = Manifest(self.dir / "manifest.sqlite3")
        if not self.remote:
            self.store = ChromaStore(self.dir / "chroma", collection=collection)
        self._embedder = embedder
        self._checked = False
        # A server's first requests arrive together: one of them loads the model, the rest wait
        # (each loaded its own copy: 40 first searches at once took 11 s instead of 1 s).
        self._embedder_lock = threading.Lock()
        self._keyword: KeywordIndex | None = None
        self._keyword_generation = -1
        self._keyword_lock = threading.RLock()
        self.flush_chunks = FLUSH_CHUNKS
        # What a second writer is told holds the index directory (the CLI names itself).
        self.writer_name = "an app writing with dossier's Index"
        self._hold: WriterLock | None = None
        self._adding = threading.Lock()  # one run at a time within this process too

    def close(self) -> None:
        if self._hold is not None:
            self._hold.release()
            self._hold = None
        self.manifest.close()

    def hold_writer(self, wait: float = 0.0, on_wait=None, **about: str) -> None:
        """Hold the index directory's writer lock until `close` (a server that indexes
        uploads, and keeps the embedded store open, as Chroma asks of one process); `about`
        is shown to other writers (url, and the secret with which they hand it their runs).
        IndexBusyError if another process holds it after `wait` seconds."""
        if self._hold is None:
            lock = WriterLock(self.dir, self.writer_name, **about)
            lock.acquire(wait, on_wait)
            self._hold = lock
            atexit.register(lock.release)  # a server stopped by a signal: its secret goes too

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded once, and checked against the one that built the index."""
        if self._embedder is None or not self._checked:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = self._load_embedder()
                if not self._checked:
                    self._check_model(self._embedder)
                    self._checked = True
        return self._embedder

    @property
    def backend(self) -> str:
        """The embedding backend in use (`auto` until the model is first needed; `custom` for an
        app's own Embedder without a `backend`, as the index records it)."""
        if self._embedder is not None:
            return getattr(self._embedder, "backend", "custom")
        return self.embed_backend

    def _load_embedder(self) -> Embedder:
        """`auto` follows the backend that built the index (PyTorch for indexes from before
        backends were recorded); a new index gets onnx-int8, or PyTorch if that cannot load."""
        backend = self.embed_backend
        if backend != "auto":
            return make_embedder(self.embed_model, backend, notify=self.notify)
        info = self.store.model_info()
        if info is not None or self.store.count() > 0:
            built = (info or {}).get("backend", "torch")
            return make_embedder(self.embed_model, built if built in BACKENDS else "torch")
        return make_embedder(self.embed_model, "auto", notify=self.notify)

    def _check_model(self, embedder: Embedder) -> None:
        info = self.store.model_info()
        backend = getattr(embedder, "backend", None)  # None: an app's own Embedder
        probe = probe_vector(embedder)
        if info is None:
            if self.store.count() == 0:
                self.store.set_model_info(
                    {
                        "name": embedder.name,
                        "dimensions": embedder.dimensions,
                        "probe": probe,
                        "backend": backend or "custom",
                    }
                )
            return
        built = info.get("backend", "torch")
        known = {"torch", "onnx-int8"}  # an app's own Embedder: the probe below decides
        if {built, backend} <= known and built != backend:
            raise ModelMismatchError(
                f"The index {self.store.where} was built with the {built} backend of "
                f"{info['name']}; vectors from the {backend} backend would not match them "
                f"exactly. Use --embed-backend {built} (or auto), or re-index with "
                "`dossier index --rebuild PATH...`."
            )
        if info["dimensions"] != embedder.dimensions or not same_space(info["probe"], probe):
            raise ModelMismatchError(
                f"The index {self.store.where} was built with {info['name']} ({info['dimensions']} "
                f"dims); the embedding model now configured, {embedder.name} "
                f"({embedder.dimensions} dims), gives other vectors. Re-index with "
                f"`dossier index --rebuild PATH...`, or use --embed-model {info['name']}."
            )

    # -- keyword side -----------------------------------------------------------------------
    def generation(self) -> int | str:
        """What the keyword index must match: the manifest's counter in an index directory;
        on a Chroma server, the collection's token, which every writer changes (one request)."""
        return self.store.generation() if self.remote else self.manifest.generation()

    @property
    def keyword(self) -> KeywordIndex:
        """The keyword index matching the store: loaded once; rebuilt if stale (in memory for
        an index directory, where only writers save it; on a server, saved as a cache)."""
        with self._keyword_lock:  # a server searches in several threads while it indexes
            generation = self.generation()
            if self._keyword is None or self._keyword_generation != generation:
                keyword = KeywordIndex.load(self.dir, generation)
                self._keyword = keyword or self.rebuild_keyword(generation, save=self.remote)
                self._keyword_generation = generation
            return self._keyword

    def rebuild_keyword(self, generation: int | str, *, save: bool) -> KeywordIndex:
        """Build the keyword index from every chunk in the store; writers `save` it."""
        with self._keyword_lock:
            return self._rebuild_keyword(generation, save)

    def _rebuild_keyword(self, generation: int | str, save: bool) -> KeywordIndex:
        documents: dict[str, dict] = {}

        def chunks():  # streamed from the store, a page at a time
            for chunk in self.store.iter_all():
                meta = chunk.metadata
                if meta["doc_id"] not in documents:
                    documents[meta["doc_id"]] = {k: meta.get(k) for k in _DOCUMENT_KEYS}
                lang = meta.get("lang", "en")
                yield (
                    chunk.chunk_id,
                    meta["doc_id"],
                    chunk.text,
                    lang,
                    meta.get("start"),
                    meta.get("end"),
                )

        keyword = KeywordIndex.from_chunks(chunks(), documents, spill=self.dir)
        if save:
            keyword.save(self.dir, generation)
        self._keyword, self._keyword_generation = keyword, generation
        return keyword

    # -- adding files -----------------------------------------------------------------------
    def add(
        self,
        paths: list[str | Path],
        *,
        prune: bool = False,
        progress: bool = False,
        max_file_mb: float = DEFAULT_MAX_FILE_MB,
        wait: float = 0.0,
    ) -> IndexReport:
        """Index new and changed files under `paths`; see `indexer.run_index`. Files over
        `max_file_mb` megabytes are refused, unread. Takes the index directory's writer lock
        (waiting up to `wait` seconds for another process's run to finish; IndexBusyError
        naming it after that)."""
        with self._adding:
            lock = WriterLock(self.dir, self.writer_name)
            lock.acquire(wait)
            try:
                return run_index(
                    self,
                    [Path(p) for p in paths],
                    prune=prune,
                    progress=progress,
                    max_file_mb=max_file_mb,
                )
            finally:
                lock.release()

    # -- counts -----------------------------------------------------------------------------
    # On a Chroma server, documents are known from the chunks' metadata (another process may
    # have indexed them), not from this machine's manifest.
    def count_documents(self) -> int:
        return len(self.keyword.documents) if self.remote else self.manifest.count_documents()

    def count_chunks(self) -> int:
        return self.store.count()

    def document_names(self) -> set[str]:
        """Every document's id and its file's name: what a Q&A set's `sources` may name."""
        if not self.remote:
            return self.manifest.document_names()
        names: set[str] = set()
        for doc_id, doc in self.keyword.documents.items():
            names.update((doc_id, Path(doc["path"]).name))
        return names

    def document_text(self, doc_id: str) -> str | None:
        """The document's text (on a server: rebuilt from its chunks, which cover it but for
        the whitespace between sentences; that comes back as spaces, so offsets still hold)."""
        if not self.remote:
            doc = self.manifest.document(doc_id)
            return doc.text if doc else None
        chunks = self.store.chunks_of_document(doc_id)
        if not chunks:
            return None
        text = [" "] * max(int(c.metadata["end"]) for c in chunks)
        for chunk in chunks:
            text[int(chunk.metadata["start"]) : int(chunk.metadata["end"])] = chunk.text
        return "".join(text)

    def documents_matching(
        self, *, after: str | None = None, before: str | None = None, source: str | None = None
    ) -> set[str] | None:
        """Ids of the documents the filters keep (see `search`); None when there are none."""
        after, before = parse_bound(after, "after"), parse_bound(before, "before")
        if not (after or before or source):
            return None
        if not self.remote:
            return set(self.manifest.filter_documents(after, before, source))
        return {
            doc_id
            for doc_id, doc in self.keyword.documents.items()
            if _keeps(doc, after, before, source)
        }

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 5,
        *,
        after: str | None = None,
        before: str | None = None,
        source: str | None = None,
    ) -> list[Passage]:
        """The `k` passages that best match `query`, best first, above the relevance floor.

        `after`/`before` (YYYY-MM-DD, inclusive) keep dated articles in that range;
        `source` keeps articles whose source or path contains it (case-insensitive).
        A passage whose text repeats one ranked above it (the same article under two names,
        a wire story two papers ran) is left out: each text is shown once.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}.")
        after, before = parse_bound(after, "after"), parse_bound(before, "before")
        if not query.strip():
            return []
        keyword = self.keyword
        if not keyword.ids and not self.remote and self.store.count() == 0:
            return []  # an empty index: no model to load (a server's returns nothing anyway)
        docs = self.documents_matching(after=after, before=before, source=source)
        if docs is not None and not docs:
            return []
        candidates = self._candidates(query, max(CANDIDATES, 4 * k), after, before, source, docs)
        terms = query_terms(query)
        chunks: dict[str, StoredChunk] = {}  # fetched as the fused ranking reaches them
        cover, cross = self._signals(query, terms, candidates, chunks)
        passages: list[Passage] = []
        ranked = fuse(candidates, self.fusion, cover, cross)
        for i, (candidate, score) in enumerate(ranked):
            if candidate.chunk_id not in chunks:
                ahead = [c.chunk_id for c, _ in ranked[i:] if c.chunk_id not in chunks][:k]
                chunks.update((c.chunk_id, c) for c in self._chunks(keyword, ahead))
                if candidate.chunk_id not in chunks:
                    continue  # deleted since the keyword index was built
            chunk = chunks[candidate.chunk_id]
            lang = chunk.metadata.get("lang", "en")
            # Coverage (tokenising the chunk) only matters below the similarity floor.
            if (
                self.fusion.passes(candidate.dense, 0.0)
                or self.fusion.passes(candidate.dense, coverage(terms, chunk.text, lang))
            ) and not repeats(chunk.text, [p.text for p in passages]):
                passages.append(_passage(len(passages) + 1, score, chunk))
                if len(passages) == k:
                    break
        return passages

    def _chunks(self, keyword: KeywordIndex, ids: list[str]) -> list[StoredChunk]:
        """The chunks `ids`, cut from their documents' texts in the manifest where the keyword
        index knows their spans (one SQLite read where the store's took 0.65 ms), the rest
        read from the store: on a server, or for a text changed since the index was built."""
        spans = keyword.spans
        if self.remote or spans is None:
            return self.store.chunks(ids)
        position = keyword.position
        known = [cid for cid in ids if cid in position]
        texts = self.manifest.document_texts({keyword.doc_ids[position[c]] for c in known})
        found: dict[str, StoredChunk] = {}
        for cid in known:
            doc_id = keyword.doc_ids[position[cid]]
            doc, text = keyword.documents.get(doc_id), texts.get(doc_id)
            cut = spans.chunk(position[cid], text) if doc and text is not None else None
            if cut is not None:
                meta = {**doc, "doc_id": doc_id, "start": cut[1], "end": cut[2], "lang": cut[3]}
                found[cid] = StoredChunk(cid, cut[0], meta)
        rest = [cid for cid in ids if cid not in found]
        found.update((c.chunk_id, c) for c in self.store.chunks(rest))
        return [found[cid] for cid in ids if cid in found]

    def candidates(self, query: str, n: int = CANDIDATES) -> list[Candidate]:
        """Each side's best `n` chunks for `query`, with both sides' scores, before fusion and
        the relevance floor (what `search` ranks; eval/known_item_study.py studies fusions
        on them)."""
        return self._candidates(query, n, None, None, None, None)

    def signals(self, query: str, candidates: list[Candidate]) -> tuple[float, bool]:
        """What the fusion weighs `query`'s two sides by: the share of its content words that
        its best keyword hit holds (0 when no query term occurs), and whether it is in another
        language than its best dense match."""
        return self._signals(query, query_terms(query), candidates, {}, always=True)

    def _signals(
        self, query, terms, candidates, chunks: dict[str, StoredChunk], always: bool = False
    ) -> tuple[float, bool]:
        fusion = self.fusion
        want_cover = always or fusion.weak_keyword_weight is not None
        want_cross = always or fusion.cross_lingual_weight is not None
        if not candidates or not (want_cover or want_cross):
            return 1.0, False
        best_kw = max(candidates, key=lambda c: c.keyword)
        # From the keyword index's postings: no store read (a Chroma get was 0.5 ms a search).
        cover = 1.0
        if want_cover:
            cover = self.keyword.coverage(best_kw.chunk_id, terms) if best_kw.keyword > 0 else 0.0
        cross = False
        if want_cross:
            best_dense = max(candidates, key=lambda c: c.dense)
            chunks.update((c.chunk_id, c) for c in self.store.chunks([best_dense.chunk_id]))
            if best_dense.chunk_id in chunks:
                lang = chunks[best_dense.chunk_id].metadata.get("lang", "en")
                cross = question_language(query) != lang
        return cover, cross

    def _candidates(self, query, n, after, before, source, docs) -> list[Candidate]:
        keyword = self.keyword
        vector = embed_queries(self.embedder, [query])[0]
        dense = self.store.query(vector, n, _where(after, before, docs if source else None))
        kw_scores = keyword.scores(query)
        kw_top = keyword.top(kw_scores, n, docs)
        sims = dict(dense)
        # Keyword hits the dense side missed: their vectors now (fusion needs them).
        missing = [cid for cid, _ in kw_top if cid not in sims]
        for cid, stored in self.store.vectors(missing).items():
            sims[cid] = float(np.dot(stored, vector))
        return [
            Candidate(
                cid,
                sims[cid],
                float(kw_scores[keyword.position[cid]]) if cid in keyword.position else 0.0,
            )
            for cid in sims
        ]


_DOCUMENT_KEYS = ("path", "title", "date", "source", "file")


def _keeps(doc: dict, after: str | None, before: str | None, source: str | None) -> bool:
    """`Manifest.filter_documents` for one document known from its chunks' metadata."""
    date = doc.get("date")
    if (after or before) and not date:
        return False
    if (after and date < after) or (before and date > before):
        return False
    if source:
        wanted = source.casefold()
        return wanted in (doc.get("source") or "").casefold() or wanted in doc["path"].casefold()
    return True


def _server_store(url: str, collection: str, create: bool) -> ChromaStore:
    from chromadb.errors import NotFoundError

    try:
        return ChromaStore(url=url, collection=collection, create=create)
    except NotFoundError:
        raise IndexNotFoundError(
            f"No dossier index on the Chroma server at {url.rstrip('/')} (no collection "
            f"{collection!r}): build one with `dossier index --chroma-url {url} corpus/`."
        ) from None


def _passage(rank: int, score: float, chunk: StoredChunk) -> Passage:
    meta = chunk.metadata
    return Passage(
        rank=rank,
        score=round(float(score), 4),
        chunk_id=chunk.chunk_id,
        doc_id=meta["doc_id"],
        title=meta.get("title", ""),
        date=meta.get("date"),
        source=meta.get("source"),
        path=meta["path"],
        text=chunk.text,
        start=int(meta["start"]),
        end=int(meta["end"]),
    )


def _where(after: str | None, before: str | None, docs: set[str] | None) -> dict | None:
    """The vector store's filter: dates as numbers (YYYYMMDD), sources as document ids."""
    terms: list[dict] = []
    if after:
        terms.append({"date_int": {"$gte": date_to_int(after)}})
    if before:
        terms.append({"date_int": {"$lte": date_to_int(before)}})
    if docs is not None:
        terms.append({"doc_id": {"$in": sorted(docs)}})
    if len(terms) > 1:
        return {"$and": terms}
    return terms[0] if terms else None
