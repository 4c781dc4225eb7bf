"""Where a search's time goes: cProfile and py-spy over `Index.search` on a built index.

    python -m eval.bench _build 100000 DIR          # the bench's synthetic 100,000-chunk index
    python -m eval.profile_search DIR/idx --out docs/profiles/search-100000 [--queries 200]

Runs the news questions (`tests/data/news_questions.jsonl`) as the bench's search section
does, after the same warm-up, under cProfile: writes OUT.prof (open it with `snakeviz
OUT.prof`) and OUT.txt, the functions with the most cumulative and own time. The bare floor
(embed the query, one Chroma query for 5, one bm25s scoring) is timed beside it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
from pathlib import Path

from eval.bench import timed_search
from index import DEFAULT_MODEL, Index, make_embedder

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    lines = (ROOT / "tests/data/news_questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    asked = (questions * (args.queries // len(questions) + 1))[: args.queries]
    embedder = make_embedder(DEFAULT_MODEL, "onnx-int8")
    with Index(args.index_dir, embedder=embedder, create=False) as idx:
        for q in questions[:3]:
            idx.search(q, 5)
        floor, mine = zip(*(timed_search(idx, embedder, q) for q in asked), strict=True)
        profile = cProfile.Profile()
        profile.enable()
        for q in asked:
            idx.search(q, 5)
        profile.disable()
        chunks = idx.count_chunks()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    profile.dump_stats(str(args.out.with_suffix(".prof")))
    text = io.StringIO()
    text.write(
        f"{len(asked)} searches on {chunks:,} chunks: p50 {statistics.median(mine) * 1000:.1f} ms; "
        f"floor (embed + Chroma top 5 + bm25s scores) p50 {statistics.median(floor) * 1000:.1f} "
        f"ms; ratio {statistics.median(mine) / statistics.median(floor):.2f}\n\n"
    )
    stats = pstats.Stats(profile, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    args.out.with_suffix(".txt").write_text(text.getvalue(), encoding="utf-8")
    print(text.getvalue().splitlines()[0])


if __name__ == "__main__":
    main()
