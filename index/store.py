"""The vector store: one Chroma collection, cosine space, embeddings supplied by dossier.

Embedded (a `PersistentClient` directory) or on a Chroma server (`HttpClient`). On a server,
several dossier processes may write the collection: every write then also puts a fresh token
in a one-record companion collection (`NAME-state`), which readers compare with the token their
keyword index was built for. (Not in the collection's own metadata: `modify(metadata=…)`
replaces the whole dict, so a token written there could wipe the model record another process
had just written.) A handle to a collection that another process dropped and created again
(`dossier index --rebuild`) follows it by name instead of failing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLLECTION = "dossier-chunks"
STATE_SUFFIX = "-state"
_TOKEN_ID = "generation"


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    metadata: dict


class _Following:
    """A server collection that follows its name: a call that finds the collection gone
    (dropped, perhaps created again, by another process) fetches it by name and tries once more;
    if it is still gone, chromadb's NotFoundError goes up."""

    def __init__(self, client, name: str, collection) -> None:
        self._client, self._name, self._collection = client, name, collection

    def refresh(self) -> None:
        self._collection = self._client.get_collection(self._name, embedding_function=None)

    def __getattr__(self, attr: str):
        target = getattr(self._collection, attr)
        if not callable(target):
            return target

        def call(*args, **kwargs):
            from chromadb.errors import NotFoundError

            try:
                return getattr(self._collection, attr)(*args, **kwargs)
            except NotFoundError:
                self.refresh()
                return getattr(self._collection, attr)(*args, **kwargs)

        return call


class ChromaStore:
    """Chunks with their vectors and metadata in a Chroma collection: in a `PersistentClient`
    directory (`path`), or on the Chroma server at `url` (see `remote.py`)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        url: str | None = None,
        collection: str = COLLECTION,
        create: bool = True,
    ) -> None:
        import chromadb
        from chromadb.config import Settings

        self.name = collection
        self.remote = url is not None
        if url is not None:
            from .remote import check_server, http_client, parse_url

            address = parse_url(url)
            check_server(address)
            self.client = http_client(address)
            self.where = f"on the Chroma server at {address.url}"
        else:
            assert path is not None, "ChromaStore needs a directory or a server URL"
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(
                path=str(path), settings=Settings(anonymized_telemetry=False)
            )
            self.where = f"in {path.parent}/"
        self.collection = self._follow(
            self._open()
            if create
            else self.client.get_collection(collection, embedding_function=None)
        )
        self._state = None  # the companion collection holding the token (server only)
        self.max_batch = int(self.client.get_max_batch_size())

    def _open(self):
        return self.client.get_or_create_collection(
            self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def _follow(self, collection):
        return _Following(self.client, self.name, collection) if self.remote else collection

    @property
    def state(self):
        if self._state is None:
            self._state = self.client.get_or_create_collection(
                self.name + STATE_SUFFIX, embedding_function=None
            )
        return self._state

    @property
    def identity(self) -> str:
        """Which collection this is: another after a drop, or on another server."""
        if self.remote:
            self.collection.refresh()
        return str(self.collection.id)

    def drop(self) -> None:
        """Delete the collection and start an empty one (`dossier index --rebuild`)."""
        self.client.delete_collection(self.name)
        self.collection = self._follow(self._open())
        self._changed()

    # -- metadata: the model that built the collection, the generation token ------------------
    def _metadata(self) -> dict:
        """The collection's metadata; fetched afresh on a server, where others may change it
        (a collection deleted and created again by another process is followed too)."""
        if self.remote:
            self.collection.refresh()
        return dict(self.collection.metadata or {})

    def model_info(self) -> dict | None:
        raw = self._metadata().get("dossier_model")
        return json.loads(raw) if raw else None

    def set_model_info(self, info: dict) -> None:
        meta = self._metadata()
        meta["dossier_model"] = json.dumps(info)
        self.collection.modify(metadata=meta)

    def generation(self) -> str:
        """The server collection's change token: one small request ("" before any write)."""
        got = self.state.get(ids=[_TOKEN_ID], include=["metadatas"])
        return str(got["metadatas"][0]["token"]) if got["ids"] else ""

    def _changed(self) -> None:
        """After a write on a server: a fresh token tells every reader its keyword index is
        stale. A random token (not a counter) cannot be lost to two writers' read-add-write."""
        if self.remote:
            self.state.upsert(
                ids=[_TOKEN_ID], embeddings=[[0.0]], metadatas=[{"token": uuid.uuid4().hex}]
            )

    # -- writes, in batches Chroma accepts ----------------------------------------------------
    def _batches(self, n: int) -> Iterator[slice]:
        for i in range(0, n, self.max_batch):
            yield slice(i, i + self.max_batch)

    def upsert(
        self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict]
    ) -> None:
        for part in self._batches(len(ids)):
            self.collection.upsert(
                ids=ids[part],
                embeddings=vectors[part],
                documents=texts[part],
                metadatas=metadatas[part],
            )
        self._changed()

    def update_metadata(self, ids: list[str], metadatas: list[dict]) -> None:
        for part in self._batches(len(ids)):
            self.collection.update(ids=ids[part], metadatas=metadatas[part])
        self._changed()

    def delete(self, ids: list[str]) -> None:
        for part in self._batches(len(ids)):
            self.collection.delete(ids=ids[part])
        self._changed()

    # -- reads ------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.collection.count())

    def chunks_of_files(self, files: list[str]) -> dict[str, dict]:
        """chunk id -> metadata for every chunk stored for these files (absolute paths)."""
        if not files:
            return {}
        got = self.collection.get(where={"file": {"$in": files}}, include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"], strict=True))

    def chunks_of_document(self, doc_id: str) -> list[StoredChunk]:
        got = self.collection.get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        return [
            StoredChunk(cid, text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the chunks `ids` that exist (a third of the cost of also
        fetching their texts and metadata)."""
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["embeddings"])
        return {
            cid: np.asarray(vector, dtype=np.float32)
            for cid, vector in zip(got["ids"], got["embeddings"], strict=True)
        }

    def chunks(self, ids: list[str]) -> list[StoredChunk]:
        """The chunks `ids` that exist, with text and metadata."""
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        return [
            StoredChunk(cid, text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def vectors_by_text(self, text_shas: list[str]) -> dict[str, np.ndarray]:
        """A stored vector for each chunk text hash (`text_sha` metadata) already indexed."""
        found: dict[str, np.ndarray] = {}
        for part in self._batches(len(text_shas)):
            got = self.collection.get(
                where={"text_sha": {"$in": text_shas[part]}}, include=["embeddings", "metadatas"]
            )
            for vector, meta in zip(got["embeddings"], got["metadatas"], strict=True):
                found[meta["text_sha"]] = np.asarray(vector, dtype=np.float32)
        return found

    def query(
        self, vector: np.ndarray, n: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """The ids of the `n` nearest chunks with their cosine similarity, best first. Ids and
        distances only: with texts and metadata the query costs 2.5× as much (8.5 ms against
        3.3 ms for 30 of 10,000 chunks), and a search needs the texts of about k of them."""
        if n <= 0:
            return []
        # No count() first: Chroma 1.5 clamps n to what the collection holds, embedded or
        # server, and a count costs ~2 ms (a tenth of a search on 2 cores).
        got = self.collection.query(
            query_embeddings=[vector], n_results=n, where=where, include=["distances"]
        )
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def iter_all(self, page: int = 500) -> Iterator[StoredChunk]:
        """Every chunk (text and metadata, no vectors), a page at a time: the ids first (one
        request), then their chunks by id. Paging by offset made Chroma skip the rows before
        each page again (10 s against 6 s for 112k chunks here). Chroma's memory grows with
        the page it returns, at the same speed from 500 to 5,000: pages of 2,000 held 70 MB
        more at 112k chunks than pages of 500. Chunks deleted meanwhile are left out."""
        ids = self.collection.get(include=[])["ids"]
        for start in range(0, len(ids), page):
            got = self.collection.get(
                ids=ids[start : start + page], include=["documents", "metadatas"]
            )
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                yield StoredChunk(cid, text, meta)
