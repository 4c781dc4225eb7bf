"""Two embedding models' ingestion speed, side by side in one run (alternating, medians).

    python -m eval.embed_speed PASSAGES.jsonl [--n 240] [--rounds 3] \
        [--models all-MiniLM-L6-v2,multilingual-e5-small] [--backend onnx-int8]

PASSAGES.jsonl holds one {"text": …} per line (e.g. eval/frcorpus's passages.jsonl); each
text is cut to 800 characters, dossier's chunk size. Prints passages/s per model and round,
the ratio of the second model's median to the first's, and the tokens each model's tokenizer
makes of the same texts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from index.embeddings import embed_passages, make_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("passages")
    parser.add_argument("--n", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="all-MiniLM-L6-v2,multilingual-e5-small")
    parser.add_argument("--backend", default="onnx-int8")
    args = parser.parse_args()
    with open(args.passages, encoding="utf-8") as f:
        texts = [json.loads(line)["text"][:800] for line in f][: args.n]
    models = {m: make_embedder(m, args.backend) for m in args.models.split(",")}
    for embedder in models.values():
        embed_passages(embedder, texts[:8])  # warm-up
    rates: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(args.rounds):
        for name, embedder in models.items():
            started = time.perf_counter()
            embed_passages(embedder, texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    medians = {m: statistics.median(r) for m, r in rates.items()}
    for name, rounds in rates.items():
        tokens = sum(embedder_tokens(models[name], texts))
        print(f"{name}: {[round(r, 1) for r in rounds]} passages/s, median "
              f"{medians[name]:.1f}; {tokens} tokens")  # fmt: skip
    first, second = list(medians.values())[:2]
    print(f"speed ratio (second / first): {second / first:.2f}")


def embedder_tokens(embedder, texts: list[str]) -> list[int]:
    return [len(e.ids) for e in embedder.tokenizer.encode_batch(texts)]


if __name__ == "__main__":
    main()
