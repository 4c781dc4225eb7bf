"""Choose chunk size, fusion method and weight, and the relevance floor, by measurement.

    python -m eval.fusion_study [--questions tests/data/news_questions.jsonl]

Indexes tests/data/news/ (14 French and English articles) plus corpus/ with the real model
once per chunk size, then runs the question set's "dev" and "test" halves through each
fusion. A passage is relevant when it contains an `evidence` string (normalised). Prints
MRR@10 and hit@5 per method and split, MRR@10 of the cross-language questions, and how many
passages (of 5) the unanswerable questions get back.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from eval.matching import contains
from index import Fusion, FusionMethod, Index
from index.fusion import NO_FLOOR, fusion_for

ROOT = Path(__file__).resolve().parent.parent
_Z = FusionMethod.ZSCORE
METHODS = [
    Fusion(FusionMethod.DENSE, **NO_FLOOR),
    Fusion(FusionMethod.KEYWORD, **NO_FLOOR),
    Fusion(FusionMethod.RRF, **NO_FLOOR),
    Fusion(FusionMethod.WEIGHTED, dense_weight=0.7, weak_keyword_weight=None),  # before issue 17
    *(
        Fusion(FusionMethod.MINMAX, dense_weight=w, weak_keyword_weight=None, **NO_FLOOR)
        for w in (0.5, 0.7)
    ),
    *(Fusion(_Z, dense_weight=w, weak_keyword_weight=None, **NO_FLOOR) for w in (0.3, 0.5, 0.7)),
]


def methods(model: str) -> list[Fusion]:
    """METHODS, then the model's default fusion without a floor and with several."""
    default = fusion_for(model)
    floors = sorted({0.2, 0.76, 0.78, 0.8, 0.82, default.min_similarity})
    return [
        *METHODS,
        replace(default, **NO_FLOOR),
        *(replace(default, min_similarity=s, min_coverage=0.5) for s in floors),
    ]


def _label(f: Fusion) -> str:
    weighted = f.method in (FusionMethod.WEIGHTED, FusionMethod.MINMAX, FusionMethod.ZSCORE)
    label = f.method.value + (f" w={f.dense_weight}" if weighted else "")
    if weighted and f.weak_keyword_weight is not None:
        label += f"/{f.weak_keyword_weight}<{f.weak_keyword_below}"
    if f.cross_lingual_weight is not None:
        label += f" x{f.cross_lingual_weight}"
    return label + (f" +floor {f.min_similarity}" if f.min_coverage > 0 else "")


def first_relevant(passages, evidence: list[str]) -> int | None:
    for p in passages:
        if any(contains(p.text, e) for e in evidence):
            return p.rank
    return None


def score(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {
        "mrr@10": round(sum(1 / r for r in ranks if r and r <= 10) / n, 3),
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 3),
        "hit@5": round(sum(1 for r in ranks if r and r <= 5) / n, 3),
    }


def run(questions: list[dict], sizes: list[int], embedder, model: str) -> dict:
    results = {}
    for size in sizes:
        with (
            tempfile.TemporaryDirectory() as tmp,
            Index(
                tmp, embedder=embedder, chunk_size=size, chunk_overlap=min(200, size // 3)
            ) as idx,
        ):
            idx.add([ROOT / "tests/data/news", ROOT / "corpus"])
            counts = embedder.token_counts([c.text for c in idx.store.iter_all()])
            over = sum(1 for n in counts if n > embedder.max_tokens) / len(counts)
            print(
                f"size {size}: {len(counts)} chunks, {over:.0%} longer than the model's "
                f"{embedder.max_tokens}-token window"
            )
            for fusion in methods(model):
                idx.fusion = fusion
                rows = []
                for q in questions:
                    passages = idx.search(q["question"], k=10)
                    rows.append(
                        {
                            "q": q,
                            "rank": first_relevant(passages, q.get("evidence", []))
                            if q.get("answerable", True)
                            else None,
                            "count": len(passages[:5]),
                        }
                    )
                results[(size, _label(fusion))] = rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(ROOT / "tests/data/news_questions.jsonl"))
    parser.add_argument("--sizes", default="600,800,1000")
    parser.add_argument(
        "--embed-model", default=None, help="e.g. multilingual-e5-small (default: MiniLM)"
    )
    args = parser.parse_args()
    questions = [
        json.loads(line) for line in Path(args.questions).read_text().splitlines() if line.strip()
    ]
    from index.embeddings import DEFAULT_MODEL, make_embedder

    embedder = make_embedder(args.embed_model or DEFAULT_MODEL, "onnx-int8")
    sizes = [int(s) for s in args.sizes.split(",")]
    results = run(questions, sizes, embedder, args.embed_model or DEFAULT_MODEL)
    print(
        f"{'size':>5} {'method':<34} {'split':<5} {'n':>3} {'mrr@10':>7} {'hit@1':>6} "
        f"{'hit@5':>6}  {'cross mrr':>9}  {'unans. passages':>15}"
    )
    for (size, label), rows in results.items():
        for split in sorted({r["q"].get("split", "all") for r in rows}):
            part = [r for r in rows if r["q"].get("split", "all") == split]
            ans = [r for r in part if r["q"].get("answerable", True)]
            unans = [r for r in part if not r["q"].get("answerable", True)]
            cross = [r for r in ans if _cross(r["q"])]
            s, c = score([r["rank"] for r in ans]), score([r["rank"] for r in cross])
            print(
                f"{size:>5} {label:<34} {split:<5} {len(ans):>3} {s['mrr@10']:>7} "
                f"{s['hit@1']:>6} {s['hit@5']:>6}  {c['mrr@10']:>9}  "
                f"{statistics.mean(r['count'] for r in unans) if unans else float('nan'):>15.1f}"
            )


def _cross(q: dict) -> bool:
    article_lang = "fr" if any(ch in "".join(q.get("evidence", [])) for ch in "éèàùç’«") else "en"
    return q.get("lang") != article_lang


if __name__ == "__main__":
    main()
