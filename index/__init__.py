"""The corpus side of dossier: load articles, chunk, embed, store, and search them.

from index import Index
with Index(".dossier") as idx:
    idx.add(["corpus/"])
    for passage in idx.search("why was the agent arrested?", k=3):
        print(passage.rank, passage.path, passage.text[:80])
"""

from .core import Index
from .embeddings import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder, make_embedder
from .errors import (
    ChromaServerError,
    ConfigError,
    DossierError,
    IndexNotFoundError,
    LoadError,
    ModelMismatchError,
)
from .fusion import Fusion, FusionMethod
from .indexer import IndexReport
from .onnx_backend import OnnxEmbedder
from .types import Article, Passage

__all__ = [
    "DEFAULT_MODEL",
    "Article",
    "ChromaServerError",
    "ConfigError",
    "DossierError",
    "Embedder",
    "Fusion",
    "FusionMethod",
    "Index",
    "IndexNotFoundError",
    "IndexReport",
    "LoadError",
    "ModelMismatchError",
    "OnnxEmbedder",
    "Passage",
    "SentenceTransformerEmbedder",
    "make_embedder",
]
