"""The vector store: one Chroma collection, cosine space, embeddings supplied by dossier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLLECTION = "dossier-chunks"


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    metadata: dict


class ChromaStore:
    """Chunks with their vectors and metadata in a Chroma `PersistentClient` directory."""

    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False)
        )
        self.collection = self.client.get_or_create_collection(
            COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self.max_batch = int(self.client.get_max_batch_size())

    # -- the model that built the collection ------------------------------------------------
    def model_info(self) -> dict | None:
        raw = (self.collection.metadata or {}).get("dossier_model")
        return json.loads(raw) if raw else None

    def set_model_info(self, info: dict) -> None:
        meta = dict(self.collection.metadata or {})
        meta["dossier_model"] = json.dumps(info)
        self.collection.modify(metadata=meta)

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

    def update_metadata(self, ids: list[str], metadatas: list[dict]) -> None:
        for part in self._batches(len(ids)):
            self.collection.update(ids=ids[part], metadatas=metadatas[part])

    def delete(self, ids: list[str]) -> None:
        for part in self._batches(len(ids)):
            self.collection.delete(ids=ids[part])

    # -- reads ------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.collection.count())

    def chunks_of_files(self, files: list[str]) -> dict[str, dict]:
        """chunk id -> metadata for every chunk stored for these files (absolute paths)."""
        if not files:
            return {}
        got = self.collection.get(where={"file": {"$in": files}}, include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"], strict=True))

    def get_with_vectors(self, ids: list[str]) -> list[tuple[StoredChunk, np.ndarray]]:
        """The chunks `ids` (those that exist) with their stored vectors."""
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["embeddings", "documents", "metadatas"])
        return [
            (StoredChunk(cid, text, meta), np.asarray(vector, dtype=np.float32))
            for cid, vector, text, meta in zip(
                got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True
            )
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
    ) -> list[tuple[StoredChunk, float]]:
        """The `n` nearest chunks with their cosine similarity, best first."""
        total = self.count()
        if total == 0 or n <= 0:
            return []
        got = self.collection.query(
            query_embeddings=[vector],
            n_results=min(n, total),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (StoredChunk(cid, text, meta), 1.0 - float(dist))
            for cid, text, meta, dist in zip(
                got["ids"][0],
                got["documents"][0],
                got["metadatas"][0],
                got["distances"][0],
                strict=True,
            )
        ]

    def iter_all(self, page: int = 5000) -> Iterator[StoredChunk]:
        """Every chunk (text and metadata, no vectors), a page at a time."""
        offset = 0
        while True:
            got = self.collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                return
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                yield StoredChunk(cid, text, meta)
            offset += len(got["ids"])
