"""The corpus side of dossier: load articles, chunk, embed, store, and search them.

from index import Index
with Index(".dossier") as idx:
    idx.add(["corpus/"])
    for passage in idx.search("why was the agent arrested?", k=3):
        print(passage.rank, passage.path, passage.text[:80])
"""

from importlib import import_module

# Names are loaded on first use, so that `dossier --help` (which needs only index.dates and
# index.errors) does not import numpy, Chroma or the indexer.
_WHERE = {
    "Index": "core",
    "DEFAULT_MODEL": "embeddings",
    "Embedder": "embeddings",
    "SentenceTransformerEmbedder": "embeddings",
    "make_embedder": "embeddings",
    "OnnxEmbedder": "onnx_backend",
    "ChromaServerError": "errors",
    "ConfigError": "errors",
    "DossierError": "errors",
    "IndexBusyError": "errors",
    "IndexNotFoundError": "errors",
    "LoadError": "errors",
    "ModelMismatchError": "errors",
    "Fusion": "fusion",
    "FusionMethod": "fusion",
    "fusion_for": "fusion",
    "IndexReport": "indexer",
    "Article": "types",
    "Passage": "types",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
