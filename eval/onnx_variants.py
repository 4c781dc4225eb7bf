"""onnx-int8 variants against PyTorch on the same texts (issue 18's measurements).

    python -m eval.onnx_variants WORK_DIR [PASSAGES.jsonl]

Exports MiniLM to a plain ONNX file in WORK_DIR the way dossier does, then builds the int8
variants below, and embeds the same 160 texts with each, with dossier's own `OnnxEmbedder`
and with PyTorch at batch 8 (the torch backend's batch), in 3 alternating rounds. Texts are
the passages' first 800 characters, or without PASSAGES the chunks of the bench's ingest
corpus (numbered copies of the sample article). Prints, for each: texts/s, the ratio to
PyTorch, the smallest cosine to PyTorch's vectors, and how far a text's vector moves when it
is embedded among others rather than alone (0 means reproducible whatever the batchmates).

- dynamic int8, per-channel, reduce_range (dossier's file): one two-thread session at batch
  1 and 8; with graph optimisation basic and extended (all is the default); without
  spinning; and as dossier runs it, one single-thread session per core, each text alone.
- O2: onnxruntime.transformers' BERT fusion (attention, skip-LayerNorm, bias-GELU), then
  the same int8, per-channel and per-tensor.
- static int8 (activation scales calibrated on the sample article and the Q&A questions).
- MatMulNBits 8-bit weights with int8 compute (accuracy level 4), if `onnx_ir` is installed.
- plain float32 ONNX.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import index.onnx_backend as ob
from index.embeddings import DEFAULT_MODEL, resolve_model_path

ROOT = Path(__file__).resolve().parent.parent


def _plain_export(folder: Path, plain: Path) -> None:
    """dossier's export (`onnx_backend._export`), stopped before quantisation."""
    import torch

    def keep(module, sample, names, _target):
        axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
        with torch.no_grad():
            torch.onnx.export(
                module, tuple(sample[n] for n in names), str(plain), input_names=names,
                output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip

    saved = ob._trace_and_quantise
    ob._trace_and_quantise = keep
    try:
        ob._export(folder, plain.with_name("unused.onnx"))
    finally:
        ob._trace_and_quantise = saved


def _calibration_texts() -> list[str]:
    from eval.bench import chunk_texts

    texts = chunk_texts(ROOT / "corpus") + list(ob._CHECK_TEXTS)
    for qaset in sorted((ROOT / "eval" / "sets").glob("*.jsonl")):
        for line in qaset.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line).get("question", ""))
    return [t for t in texts if t][:200]


def _static(pre: Path, target: Path, tokenizer) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(_calibration_texts())

        def get_next(self):
            text = next(self.items, None)
            if text is None:
                return None
            ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
            mask = np.ones_like(ids)
            return {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * mask}

    quantize_static(
        str(pre), str(target), Reader(), quant_format=QuantFormat.QOperator,
        op_types_to_quantize=["MatMul"], per_channel=True, reduce_range=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
    )  # fmt: skip


def _files(folder: Path, work: Path, tokenizer) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxruntime.transformers import optimizer

    plain, fused, pre = work / "plain.onnx", work / "o2.onnx", work / "pre.onnx"
    if not plain.exists():
        _plain_export(folder, plain)
    if not fused.exists():
        model = optimizer.optimize_model(
            str(plain), model_type="bert", num_heads=12, hidden_size=384, opt_level=2
        )
        model.save_model_to_file(str(fused))
    out = {"fp32": plain}
    dynamic = {"int8": (plain, True), "o2 int8": (fused, True), "o2 per-tensor": (fused, False)}
    for name, (source, per_channel) in dynamic.items():
        target = work / f"{name.replace(' ', '-')}.onnx"
        if not target.exists():
            quantize_dynamic(
                str(source), str(target), weight_type=QuantType.QInt8, per_channel=per_channel,
                reduce_range=True, extra_options={"DefaultTensorType": 1},
            )  # fmt: skip
        out[name] = target
    static = work / "static-int8.onnx"
    if not static.exists():
        if not pre.exists():
            with contextlib.chdir(work):  # it leaves temporary files in the working folder
                quant_pre_process(str(plain), str(pre), skip_symbolic_shape=True)
        _static(pre, static, tokenizer)
    out["static int8"] = static
    nbits = work / "nbits8.onnx"
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
    except ImportError:  # it needs onnx_ir, which dossier does not depend on
        print("MatMulNBits skipped: pip install onnx_ir to measure it")
    else:
        if not nbits.exists():
            config = DefaultWeightOnlyQuantConfig(
                block_size=32, is_symmetric=True, accuracy_level=4, bits=8
            )
            quantizer = MatMulNBitsQuantizer(onnx.load(str(plain)), algo_config=config)
            quantizer.process()
            quantizer.model.save_model_to_file(str(nbits), False)
        out["nbits8"] = nbits
    return out


def _session(path: Path, threads: int = 2, level: str = "all", spin: bool = True):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    options.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _texts(argv: list[str], work: Path) -> list[str]:
    from eval.bench import chunk_texts, write_copies

    if len(argv) > 2:
        with Path(argv[2]).open(encoding="utf-8") as lines:
            return [json.loads(line)["text"][:800] for line in lines][:160]
    corpus = work / "corpus"
    if not corpus.exists():
        write_copies(corpus, 40)
    return chunk_texts(corpus)[:160]


def main(argv: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    work = Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    texts = _texts(argv, work)
    folder = Path(resolve_model_path(DEFAULT_MODEL))
    tokenizer = ob._tokenizer(folder)
    files = _files(folder, work, tokenizer)

    def encoder(session, batch: int) -> Callable[[list[str]], np.ndarray]:
        return lambda items: ob._encode(session, tokenizer, "mean", batch, items)

    dossier = ob.OnnxEmbedder(DEFAULT_MODEL)
    int8 = files["int8"]
    sides: dict[str, Callable[[list[str]], np.ndarray]] = {
        "int8, 2-thread session, batch 1": encoder(_session(int8), 1),
        "int8, 2-thread session, batch 8": encoder(_session(int8), 8),
        "int8, batch 1, graph level basic": encoder(_session(int8, level="basic"), 1),
        "int8, batch 1, graph level extended": encoder(_session(int8, level="extended"), 1),
        "int8, batch 1, no spinning": encoder(_session(int8, spin=False), 1),
        f"int8, {dossier.workers} 1-thread workers, alone (dossier)": dossier.embed,
    }
    for name in ("o2 int8", "o2 per-tensor", "static int8", "nbits8", "fp32"):
        if name in files:
            sides[f"{name}, batch 1"] = encoder(_session(files[name]), 1)
            sides[f"{name}, batch 8"] = encoder(_session(files[name]), 8)
    torch_model = SentenceTransformer(str(folder), device="cpu")
    reference = torch_model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    times: dict[str, list[float]] = {name: [] for name in [*sides, "torch, batch 8"]}
    quality: dict[str, tuple[float, float]] = {}
    for round_ in range(3):
        for name, embed in sides.items():
            start = time.perf_counter()
            vectors = embed(texts)
            times[name].append(time.perf_counter() - start)
            if round_ == 0:
                alone = np.stack([embed([t])[0] for t in texts[:24]])
                quality[name] = (
                    float((vectors * reference).sum(1).min()),
                    float(np.abs(vectors[:24] - alone).max()),
                )
        start = time.perf_counter()
        torch_model.encode(texts, batch_size=8, show_progress_bar=False)
        times["torch, batch 8"].append(time.perf_counter() - start)
    torch_s = statistics.median(times["torch, batch 8"])
    print(f"{len(texts)} texts, 3 rounds, medians")
    print(f"{'variant':52} texts/s  × torch  min cos  max |among others − alone|")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        cosine, moved = quality.get(name, (1.0, 0.0))
        print(
            f"{name:52} {len(texts) / median:7.1f}  {torch_s / median:6.2f}  "
            f"{cosine:7.4f}  {moved:.1e}"
        )


if __name__ == "__main__":
    main(sys.argv)
