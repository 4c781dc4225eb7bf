"""How long a process takes to rebuild its keyword cache from a Chroma server's chunks: what
each reader pays on its next search after another process writes.

    python -m eval.bench_keyword_rebuild [--chunks 5000] [--repeat 3]

Starts `chroma run` on a free loopback port, stores `--chunks` chunks made from the sample
article's words (random vectors: no model is loaded, only the keyword side is timed), then
times `Index.rebuild_keyword` (read every chunk from the server, tokenise, build BM25, save).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from index import Index

from .bench_chroma import ROOT, _start_server

SAMPLE = ROOT / "corpus" / "2025-09-19-france-mali.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    words = SAMPLE.read_text(encoding="utf-8").split()
    n = args.chunks
    texts = [" ".join(words[(i * 7) % 300 : (i * 7) % 300 + 120]) + f" mot{i}" for i in range(n)]
    metas = [
        {"doc_id": f"d{i // 5}", "lang": "fr", "path": f"p{i // 5}.txt", "file": f"/p{i // 5}.txt",
         "title": "t", "start": 0, "end": len(text), "text_sha": f"s{i}"}
        for i, text in enumerate(texts)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        process, url = _start_server(Path(tmp) / "chroma-server")
        try:
            idx = Index(Path(tmp) / "idx", chroma_url=url)
            vectors = np.random.default_rng(0).random((n, 384), dtype=np.float32)
            idx.store.upsert([f"c{i}" for i in range(n)], vectors, texts, metas)
            for _ in range(args.repeat):
                started = time.perf_counter()
                idx.rebuild_keyword(idx.generation(), save=True)
                took = time.perf_counter() - started
                print(f"rebuilt the keyword cache of {n} chunks in {took:.2f} s")
            idx.close()
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
