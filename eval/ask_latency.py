"""Answer latency of `dossier ask` in extractive mode: warm (one process, the model loaded) and
cold (a new process per question, as a shell user runs it).

    python -m eval.ask_latency [--index-dir DIR] [--cold 3]

Indexes the bundled corpus into DIR (a temporary folder by default), then asks the questions of
eval/sets/sample.jsonl in one process (warm: p50 and p95 of the total) and runs
`dossier ask --llm extractive --json` as new processes (cold: wall time of each).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.assistant import Assistant
from index.core import Index

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir")
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()
    index_dir = Path(args.index_dir or tempfile.mkdtemp(prefix="dossier-latency-"))
    questions = [
        json.loads(line)
        for line in (ROOT / "eval" / "sets" / "sample.jsonl").read_text("utf-8").splitlines()
        if line
    ]
    with Index(index_dir) as idx:
        idx.add([ROOT / "corpus"])
        assistant = Assistant(idx, llm="extractive")
        assistant.ask("warm-up question about the agent")
        totals, retrieves = [], []
        for item in questions:
            answer = assistant.ask(item["question"], item.get("history", []))
            totals.append(answer.timings_ms["total"])
            retrieves.append(answer.timings_ms["retrieve"])
    print(
        f"warm, {len(totals)} questions: total p50 {statistics.median(totals):.0f} ms, "
        f"p95 {percentile(totals, 0.95):.0f} ms "
        f"(retrieve p50 {statistics.median(retrieves):.0f} ms)"
    )
    dossier = str(Path(sys.executable).with_name("dossier"))
    walls = []
    for _ in range(args.cold):
        started = time.monotonic()
        subprocess.run(
            [dossier, "ask", "Why was the agent arrested?", "--llm", "extractive", "--json",
             "--index-dir", str(index_dir)],
            check=True, capture_output=True,
        )  # fmt: skip
        walls.append(time.monotonic() - started)
    print(f"cold, new process each: {', '.join(f'{w:.1f}' for w in walls)} s")


if __name__ == "__main__":
    main()
