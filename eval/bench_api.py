"""Search latency through the HTTP API beside the same search called in-process.

    python -m eval.bench_api [--index-dir DIR] [--corpus PATH] [--rounds 5] [--json]

Indexes the corpus (tests/data/news by default) into DIR (a temporary folder by default), serves
the page and the API from this process on a free loopback port (as `dossier serve` does), and
runs the questions of tests/data/news_questions.jsonl both ways, alternating, after a warm-up:
`Index.search` called directly, and `POST /api/search` over one keep-alive connection. Prints
p50 and p95 of each and their ratios; the difference is HTTP, JSON and FastAPI's thread hop.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from app.assistant import Assistant
from index.core import Index

from .ask_latency import percentile
from .bench_chroma import free_port

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"


def summary(direct: list[float], http: list[float]) -> dict:
    """p50/p95 in milliseconds of each side and the ratios HTTP / direct."""
    out = {
        "queries": len(direct),
        "direct_p50_ms": percentile(direct, 0.5),
        "direct_p95_ms": percentile(direct, 0.95),
        "http_p50_ms": percentile(http, 0.5),
        "http_p95_ms": percentile(http, 0.95),
    }
    out["ratio_p50"] = out["http_p50_ms"] / out["direct_p50_ms"]
    out["ratio_p95"] = out["http_p95_ms"] / out["direct_p95_ms"]
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    import httpx

    from app.ui import launch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir")
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "data" / "news"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    index_dir = Path(args.index_dir or tempfile.mkdtemp(prefix="dossier-bench-api-"))
    queries = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]
    idx = Index(index_dir)
    idx.add([args.corpus])
    size = {"documents": idx.count_documents(), "chunks": idx.count_chunks()}
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    port = free_port()
    server = launch(Assistant(idx, llm="extractive"), host="127.0.0.1", port=port, block=False)
    direct: list[float] = []
    http: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

            def via_http(query: str) -> None:
                response = client.post("/api/search", json={"query": query, "k": args.k})
                response.raise_for_status()

            def in_process(query: str) -> None:
                idx.search(query, args.k)

            for query in queries[:5]:  # warm-up: the model, the keyword index, the connection
                in_process(query)
                via_http(query)
            for round_ in range(args.rounds):
                for i, query in enumerate(queries):
                    sides = [(in_process, direct), (via_http, http)]
                    if (i + round_) % 2:
                        sides.reverse()  # alternate which side goes first
                    for call, times in sides:
                        started = time.perf_counter()
                        call(query)
                        times.append((time.perf_counter() - started) * 1000)
    finally:
        server.should_exit = True
        idx.close()
    result = {
        "index": size,
        "search": summary(direct, http),
        "rounds": args.rounds,
        "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
        return
    s = result["search"]
    print(f"{s['queries']} searches each way, {result['index']['chunks']} chunks, k={args.k}")
    print("                 p50 ms   p95 ms")
    print(f"in process     {s['direct_p50_ms']:8.1f} {s['direct_p95_ms']:8.1f}")
    print(f"HTTP API       {s['http_p50_ms']:8.1f} {s['http_p95_ms']:8.1f}")
    print(f"ratio          {s['ratio_p50']:8.2f} {s['ratio_p95']:8.2f}")


if __name__ == "__main__":
    main()
