"""onnx-int8 variants against PyTorch on the same texts (issue 18's first measurements).

    python -m eval.onnx_variants WORK_DIR PASSAGES.jsonl

Exports MiniLM to a plain ONNX file in WORK_DIR the way dossier does, then builds today's int8
file (dynamic, per-channel, reduce_range), the same after onnxruntime.transformers' BERT
fusion (O2: attention, skip-LayerNorm and bias-GELU fused), and that with per-tensor weights.
Embeds the first 160 texts (800 characters each) with each, at batch 1 and 8, and with PyTorch
at batch 8, in 3 alternating rounds; prints texts/s, the ratio to PyTorch and the smallest
cosine to PyTorch's vectors.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import index.onnx_backend as ob
from index.embeddings import resolve_model_path


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


def _files(folder: Path, work: Path) -> dict[str, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    plain, fused = work / "plain.onnx", work / "o2.onnx"
    if not plain.exists():
        _plain_export(folder, plain)
    if not fused.exists():
        model = optimizer.optimize_model(
            str(plain), model_type="bert", num_heads=12, hidden_size=384, opt_level=2
        )
        model.save_model_to_file(str(fused))
    files = {"today": (plain, True), "o2": (fused, True), "o2 per-tensor": (fused, False)}
    out = {}
    for name, (source, per_channel) in files.items():
        target = work / f"{name.replace(' ', '-')}-int8.onnx"
        if not target.exists():
            quantize_dynamic(
                str(source), str(target), weight_type=QuantType.QInt8, per_channel=per_channel,
                reduce_range=True, extra_options={"DefaultTensorType": 1},
            )  # fmt: skip
        out[name] = target
    return out


def main() -> None:
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

    work, passages = Path(sys.argv[1]), Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    folder = Path(resolve_model_path("all-MiniLM-L6-v2"))
    files = _files(folder, work)
    with passages.open(encoding="utf-8") as lines:
        texts = [json.loads(line)["text"][:800] for line in lines][:160]
    tokenizer = ob._tokenizer(folder)
    sides = {}
    for name, path in files.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for batch in (1, 8):
            sides[f"{name}, batch {batch}"] = (session, batch)
    torch_model = SentenceTransformer(str(folder), device="cpu")
    reference = torch_model.encode(texts, normalize_embeddings=True)
    times: dict[str, list[float]] = {name: [] for name in [*sides, "torch, batch 8"]}
    for round_ in range(3):
        for name, (session, batch) in sides.items():
            start = time.perf_counter()
            vectors = ob._encode(session, tokenizer, "mean", batch, texts)
            times[name].append(time.perf_counter() - start)
            if round_ == 0:
                smallest = float((vectors * reference).sum(1).min())
                print(f"{name}: smallest cosine to torch {smallest:.4f}")
        start = time.perf_counter()
        torch_model.encode(texts, batch_size=8)
        times["torch, batch 8"].append(time.perf_counter() - start)
    torch_s = statistics.median(times["torch, batch 8"])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:26} {len(texts) / median:6.1f} texts/s  {torch_s / median:.2f}× torch")


if __name__ == "__main__":
    main()
