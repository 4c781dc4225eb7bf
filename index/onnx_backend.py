"""The `onnx-int8` embedding backend: the sentence-transformers model exported to ONNX once,
its weights quantised to int8, run by onnxruntime with the model's own fast tokenizer.

Why not sentence-transformers' `backend="onnx"`: it needs `optimum-onnx`, which requires
transformers < 4.58, and sentence-transformers 6 requires transformers 5. The recipe here is
the one optimum applies: `torch.onnx.export` of the transformer, then onnxruntime's
`quantize_dynamic` with per-channel int8 weights and `reduce_range` (7-bit), which CPUs
without VNNI (AVX2 only, like these) need to avoid overflow in their u8×s8 products; without
it the vectors drift to a cosine of 0.76 from PyTorch's, with it they keep 0.99.

The export takes ~10 s and is cached under `DOSSIER_CACHE_DIR` (default
`~/.cache/dossier`), keyed by the model folder, its weights' size and time, and the versions
that shape the file. Each new export is checked against PyTorch on a few texts before use.
Searching and indexing then import neither torch nor sentence-transformers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np

from .errors import ConfigError

RECIPE = "onnx-int8-1"  # bump when the export or quantisation below changes
# One text per call: int8 activations are quantised per call (one scale for the whole input),
# so in a batch a text's vector moves with its batchmates and even with the padding
# (max |batched - alone| 0.021, cosine 0.985-0.99); padding to fixed length buckets does not
# help, because the scale is taken over the padded rows too. Alone, a text always gets the
# same vector, in a clean build, a resumed one, or as a query. Speed comes instead from
# running texts side by side: one single-threaded session per core, each text alone. On 2
# cores this gives 82-89 texts/s where one two-threaded session gave 47-78 and batches of 8
# 68-79 (PyTorch at 8: 32-34), `python -m eval.onnx_variants`, issue 18: the two-thread
# session waits on its partner thread inside every small operator, and loses half its speed
# whenever the VM's scheduler delays one core. A lone text (a query) still uses all cores:
# 1.3 ms against 1.8 ms on one.
ONNX_BATCH = 1
SLICE = 4  # texts a worker takes at a time: small, so the cores finish together
MIN_COSINE = 0.97  # a fresh export must keep at least this cosine with PyTorch's vectors
_CHECK_TEXTS = [
    "La France a annoncé ce vendredi la suspension de sa coopération antiterroriste.",
    "The agent was arrested in Bamako on Friday after a long investigation.",
    "Flooding on the Somerset Levels forced 300 families from their homes.",
    "Le procès de l'escroquerie immobilière s'est ouvert à Marseille.",
]


def cache_dir() -> Path:
    explicit = os.environ.get("DOSSIER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dossier"


def _model_key(folder: Path) -> str:
    """Changes when the model's files or the versions that shape the exported file change."""
    parts = [RECIPE, str(folder.resolve()), version("onnxruntime"), version("onnx")]
    for item in sorted(folder.rglob("*")):
        if item.is_file():
            stat = item.stat()
            parts.append(f"{item.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _pooling(folder: Path) -> str:
    """`mean` or `cls`, from the model's sentence-transformers modules; other poolings are
    refused rather than approximated."""
    modules = folder / "modules.json"
    pooling_dir = folder / "1_Pooling"
    if modules.exists():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith("Pooling"):
                pooling_dir = folder / module.get("path", "1_Pooling")
    config_file = pooling_dir / "config.json"
    if not config_file.exists():
        return "mean"  # sentence-transformers' own default for a bare transformer
    config = json.loads(config_file.read_text())
    chosen = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
    if chosen == ["pooling_mode_mean_tokens"]:
        return "mean"
    if chosen == ["pooling_mode_cls_token"]:
        return "cls"
    raise ConfigError(
        f"The embedding model in {folder} pools with {', '.join(chosen) or 'nothing'}; the "
        "onnx-int8 backend does mean or CLS pooling only: use --embed-backend torch."
    )


def _max_length(folder: Path) -> int:
    config = folder / "sentence_bert_config.json"
    if config.exists():
        length = json.loads(config.read_text()).get("max_seq_length")
        if length:
            return int(length)
    return 512


def _export(folder: Path, target: Path) -> dict:
    """Export the model in `folder` to `target` (an int8 ONNX file); return its check figures."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # Eager attention traces to plain ops that onnxruntime runs for any batch and length.
    model = SentenceTransformer(
        str(folder), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    transformer = model[0].auto_model.eval()
    sample = model[0].tokenizer(["a short text", "two"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        _trace_and_quantise(Hidden(transformer), sample, names, target)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]  # the quantiser calls logging.basicConfig
    reference = model.encode(_CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    return {"reference": reference.tolist()}


def _trace_and_quantise(module, sample, names: list[str], target: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with (
        tempfile.TemporaryDirectory(dir=target.parent) as tmp,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it treats as constant
        logging.getLogger().setLevel(logging.ERROR)  # the quantiser: "consider pre-processing"
        plain = Path(tmp) / "model.onnx"
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
        with torch.no_grad():
            torch.onnx.export(
                module,
                tuple(sample[n] for n in names),
                str(plain),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        quantize_dynamic(
            str(plain),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )


class OnnxEmbedder:
    """A sentence-transformers model as an int8 ONNX graph in onnxruntime (see module doc)."""

    backend = "onnx-int8"

    def __init__(
        self,
        name: str,
        batch_size: int = ONNX_BATCH,
        notify: Callable[[str], None] | None = None,
        cache: Path | None = None,
        workers: int | None = None,
    ) -> None:
        from .embeddings import model_prompts, resolve_model_path

        folder = Path(resolve_model_path(name))
        self.query_prefix, self.passage_prefix = model_prompts(name, folder)
        if not (folder / "tokenizer.json").exists():
            raise ConfigError(
                f"The onnx-int8 backend needs a model folder with a tokenizer.json; {name!r} "
                "is not one: use --embed-backend torch, or give a local model folder."
            )
        self.name = name
        self.batch_size = batch_size
        self.pooling = _pooling(folder)
        self.path = self._prepare(folder, cache or cache_dir(), notify)
        try:
            self.session = _session(self.path)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ConfigError(
                f"The cached ONNX model {self.path} cannot be loaded ({exc}); delete "
                f"{self.path.parent} and it will be exported again."
            ) from None
        self.tokenizer = _tokenizer(folder)
        self.max_tokens = _max_length(folder)
        self.dimensions = int(self.session.get_outputs()[0].shape[-1])
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._side_by_side = None  # (single-threaded session, thread pool), made on first use

    def _prepare(self, folder: Path, cache: Path, notify) -> Path:
        """The cached int8 file for `folder`, exported first if missing (one process at a
        time: others wait on the lock, then find the file)."""
        slug = re.sub(r"[^\w.-]+", "_", self.name).strip("_")[-48:] or "model"
        home = cache / "onnx" / f"{slug}-{_model_key(folder)}"
        target = home / "model-int8.onnx"
        if target.exists():
            return target
        try:
            home.mkdir(parents=True, exist_ok=True)
            lock = open(home / ".lock", "w")  # noqa: SIM115 - held across the export
        except OSError as exc:
            raise ConfigError(
                f"Cannot write the ONNX model cache {home} ({exc.strerror}): set "
                "DOSSIER_CACHE_DIR to a writable folder, or use --embed-backend torch."
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.exists():
                return target
            if notify:
                notify(f"Preparing the onnx-int8 embedding model once (about 15 s): {home}")
            partial = home / "model-int8.onnx.partial"
            try:
                check = _export(folder, partial)
                self._verify(partial, folder, check["reference"])
            except ConfigError:
                partial.unlink(missing_ok=True)
                raise
            except Exception as exc:  # torch's exporter and onnx raise many kinds
                partial.unlink(missing_ok=True)
                raise ConfigError(
                    f"Cannot export {folder} to ONNX ({exc.__class__.__name__}: {exc}); use "
                    "--embed-backend torch."
                ) from None
            os.replace(partial, target)
        return target

    def _verify(self, path: Path, folder: Path, reference: list) -> None:
        session, tokenizer = _session(path), _tokenizer(folder)
        got = _encode(session, tokenizer, self.pooling, self.batch_size, _CHECK_TEXTS)
        cosines = (got * np.asarray(reference, dtype=np.float32)).sum(axis=1)
        if float(cosines.min()) < MIN_COSINE:
            raise ConfigError(
                f"The int8 export of {folder} drifts from PyTorch (cosine {cosines.min():.3f}, "
                f"under {MIN_COSINE}): use --embed-backend torch."
            )
        (path.parent / "check.json").write_text(
            json.dumps({"min_cosine": round(float(cosines.min()), 4)}), encoding="utf-8"
        )

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts)]

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self.workers < 2 or len(texts) < 2 or self.batch_size != 1:
            return _encode(self.session, self.tokenizer, self.pooling, self.batch_size, texts)
        session, pool = self._pool()
        slices = [texts[i : i + SLICE] for i in range(0, len(texts), SLICE)]
        tokenizer, pooling = self.tokenizer, self.pooling
        parts = pool.map(lambda part: _encode(session, tokenizer, pooling, 1, part), slices)
        return np.concatenate(list(parts))

    def _pool(self):
        if self._side_by_side is None:
            from concurrent.futures import ThreadPoolExecutor

            # onnxruntime's run() is thread-safe and releases the GIL; one session serves all
            self._side_by_side = (
                _session(self.path, threads=1),
                ThreadPoolExecutor(self.workers, thread_name_prefix="dossier-onnx"),
            )
        return self._side_by_side


def _session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _tokenizer(folder: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every text to 128 tokens
    tokenizer.enable_truncation(_max_length(folder))
    return tokenizer


def _encode(session, tokenizer, pooling: str, batch_size: int, texts: list[str]) -> np.ndarray:
    """Unit vectors for `texts`, batched by length so that each batch pads little."""
    inputs = [i.name for i in session.get_inputs()]
    encodings = tokenizer.encode_batch(texts)
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(-lengths, kind="stable")
    out = None
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        width = int(lengths[rows].max())
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, i in enumerate(rows):
            ids[r, : lengths[i]] = encodings[i].ids
            mask[r, : lengths[i]] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: feed[k] for k in inputs})[0]
        if pooling == "cls":
            vectors = hidden[:, 0]
        else:
            vectors = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        vectors = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[rows] = vectors
    return out
