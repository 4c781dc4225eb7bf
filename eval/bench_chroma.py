"""Search latency with the chunks in the embedded store and on a Chroma server, side by side.

    python -m eval.bench_chroma [--corpus tests/data/news] [--rounds 5] [--json]

Starts `chroma run` on a free port of 127.0.0.1 (in a temporary folder), indexes `--corpus`
and the bundled sample into an embedded index and into the server with the same model loaded
once, checks both give the same rankings, then times `Index.search` (k=5) for the questions
of tests/data/news_questions.jsonl: a warm-up pass in each mode, then `--rounds` passes that
alternate the modes query by query, so that drift on a shared machine hits both alike.
Prints p50 and p95 per mode (milliseconds), the ratio server/embedded, and the median of the
paired differences (server minus embedded, same query, back to back): the figure that other
load on a shared machine disturbs least.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from index import Index, SentenceTransformerEmbedder

from .ask_latency import percentile

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(path: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [Path(sys.executable).parent / "chroma", "run", "--path", path, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"chroma run did not start on {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "data" / "news"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    queries = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        process, url = _start_server(Path(tmp) / "chroma-server")
        try:
            embedded = Index(Path(tmp) / "embedded", embedder=embedder)
            server = Index(Path(tmp) / "server", embedder=embedder, chroma_url=url)
            corpus = [Path(args.corpus), ROOT / "corpus"]
            embedded.add(corpus)
            server.add(corpus)
            times: dict[str, list[float]] = {"embedded": [], "server": []}
            indexes = {"embedded": embedded, "server": server}
            same = all(
                [p.chunk_id for p in embedded.search(q)] == [p.chunk_id for p in server.search(q)]
                for q in queries  # also the warm-up pass
            )
            for _ in range(args.rounds):
                for query in queries:
                    for mode, idx in indexes.items():
                        start = time.perf_counter()
                        idx.search(query)
                        times[mode].append((time.perf_counter() - start) * 1000)
            chunks = embedded.count_chunks()
            embedded.close(), server.close()
        finally:
            process.terminate()
            process.wait()
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "chromadb": version("chromadb"),
        },
        "chunks": chunks,
        "searches_per_mode": len(times["embedded"]),
        "same_rankings": same,
        "ms": {
            mode: {"p50": round(percentile(t, 0.5), 1), "p95": round(percentile(t, 0.95), 1)}
            for mode, t in times.items()
        },
    }
    ms = result["ms"]
    result["ratio_server_vs_embedded"] = {
        q: round(ms["server"][q] / ms["embedded"][q], 2) for q in ("p50", "p95")
    }
    paired = [s - e for s, e in zip(times["server"], times["embedded"], strict=True)]
    result["paired_extra_ms_p50"] = round(percentile(paired, 0.5), 1)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{chunks} chunks, {result['searches_per_mode']} searches per mode, same rankings: {same}"
    )
    print(f"{'mode':<10}{'p50 ms':>9}{'p95 ms':>9}")
    for mode in ("embedded", "server"):
        print(f"{mode:<10}{ms[mode]['p50']:>9}{ms[mode]['p95']:>9}")
    ratio = result["ratio_server_vs_embedded"]
    print(f"{'ratio':<10}{ratio['p50']:>9}{ratio['p95']:>9}")
    print(f"server minus embedded, same query (median): {result['paired_extra_ms_p50']} ms")


if __name__ == "__main__":
    main()
