"""A French known-item study: each query has one passage that answers it, among thousands.

    python -m eval.known_item_study --corpus /tmp/frcorpus --sources debian,gimp \
        [--per-type 200] [--models all-MiniLM-L6-v2,multilingual-e5-small] [--out F.json]

The passages and queries come from `eval/frcorpus` (Debian documentation and GIMP help in
French, with their aligned English): French queries are section titles and sentences cut out
of their passage (inverse cloze: the passage is indexed without it); English ones are the
English titles and sentences of the aligned English passage. Each passage becomes one file,
indexed with dossier's own chunking; a query is answered when a chunk of its passage's file
ranks in the top ten. Prints MRR@10 and hit@1 per model, fusion and query type.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from pathlib import Path

from index import Fusion, FusionMethod, Index
from index.embeddings import make_embedder
from index.fusion import NO_FLOOR

FUSIONS = {
    "dense": Fusion(FusionMethod.DENSE, **NO_FLOOR),
    "keyword": Fusion(FusionMethod.KEYWORD, **NO_FLOOR),
    "rrf": Fusion(FusionMethod.RRF, **NO_FLOOR),
    "weighted 0.7": Fusion(FusionMethod.WEIGHTED, dense_weight=0.7, **NO_FLOOR),
    "minmax 0.5": Fusion(FusionMethod.MINMAX, dense_weight=0.5, **NO_FLOOR),
    "minmax 0.7": Fusion(FusionMethod.MINMAX, dense_weight=0.7, **NO_FLOOR),
}
TYPES = [("ict", "fr"), ("title", "fr"), ("xsent", "en"), ("title", "en")]


def _file(pid: str) -> str:
    return re.sub(r"[^\w.-]+", "_", pid) + ".txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--sources", default="debian,gimp")
    parser.add_argument("--per-type", type=int, default=200)
    parser.add_argument("--models", default="all-MiniLM-L6-v2,multilingual-e5-small")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    passages, queries = [], []
    for source in args.sources.split(","):
        folder = args.corpus / f"out_{source}"
        passages += [json.loads(x) for x in (folder / "passages.jsonl").open(encoding="utf-8")]
        queries += [json.loads(x) for x in (folder / "queries.jsonl").open(encoding="utf-8")]
    known = {p["pid"] for p in passages}
    rng = random.Random(0)
    chosen = []
    for kind, lang in TYPES:
        pool = [q for q in queries if (q["type"], q["lang"]) == (kind, lang) and q["pid"] in known]
        chosen += rng.sample(pool, min(args.per_type, len(pool)))
    results: dict = {"passages": len(passages), "queries": len(chosen), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for p in passages:
            (docs / _file(p["pid"])).write_text(p.get("text_ict") or p["text"], encoding="utf-8")
        for model in args.models.split(","):
            embedder = make_embedder(model, "onnx-int8")
            with Index(Path(tmp) / f"idx-{model}", embedder=embedder) as idx:
                report = idx.add([docs], progress=False)
                print(
                    f"{model}: {report.indexed} passages, {idx.count_chunks()} chunks", flush=True
                )
                for label, fusion in FUSIONS.items():
                    idx.fusion = fusion
                    by_type: dict[str, list[float]] = {}
                    for q in chosen:
                        hits = idx.search(q["query"], 10)
                        rank = next(
                            (h.rank for h in hits if Path(h.path).name == _file(q["pid"])), None
                        )
                        by_type.setdefault(f"{q['type']}-{q['lang']}", []).append(
                            1 / rank if rank else 0.0
                        )
                    row = {t: round(sum(v) / len(v), 3) for t, v in by_type.items()}
                    results["runs"][f"{model} | {label}"] = row
                    print(
                        f"{model:<24} {label:<14} " + "  ".join(f"{t} {v}" for t, v in row.items()),
                        flush=True,
                    )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
