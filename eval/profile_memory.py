"""Where indexing's memory goes: tracemalloc's biggest Python allocation sites at the peak.

    python -m eval.profile_memory 20000 --out docs/profiles/memory-20000.txt

Builds the bench's synthetic index of that many chunks (as `python -m eval.bench _build`
does, in this process) with tracemalloc on, and writes the process's peak RSS, the traced
Python peak, and the 25 source lines holding the most Python memory at the end of the run,
the index still open (native memory, Chroma's and onnxruntime's, is not traced: it is most
of the RSS beyond the traced peak).
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from pathlib import Path

from eval.bench import SentenceVectors, _peak_mb, write_synthetic
from index import DEFAULT_MODEL, Index, make_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", type=int)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_synthetic(corpus, args.size)
        embedder = SentenceVectors(make_embedder(DEFAULT_MODEL))
        tracemalloc.start(1)
        with Index(Path(tmp) / "idx", embedder=embedder) as idx:
            report = idx.add([corpus], progress=False)
            _, traced_peak = tracemalloc.get_traced_memory()
            snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
    lines = [
        f"{report.chunks:,} chunks: peak RSS {_peak_mb():.0f} MB; Python's traced peak "
        f"{traced_peak / 2**20:.0f} MB; held at the end of the run, by line:",
        "",
    ]
    for stat in snapshot.statistics("lineno")[:25]:
        frame = stat.traceback[0]
        lines.append(
            f"{stat.size / 2**20:8.1f} MB {stat.count:9,} blocks  {frame.filename}:{frame.lineno}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(lines[0])


if __name__ == "__main__":
    main()
