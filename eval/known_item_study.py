"""French known-item sets: each query has one passage that answers it, among thousands.

    python -m eval.known_item_study --corpus /tmp/frcorpus --work /tmp/kis \
        [--sets ddtp,docs] [--models all-MiniLM-L6-v2,multilingual-e5-small] [--out F.json]

Two sets, built from `eval/frcorpus` (Debian 12 packages; nothing hand-written):

- `ddtp`: the French descriptions of Debian packages (60–250 words each, about 6,300), each
  the known item of its package's one-line synopsis, written by people: the translators'
  French one and the original English one (a cross-lingual query).
- `docs`: the Debian documentation and GIMP help in French (3,673 passages of 100–200
  words); queries are the French and English titles of the section that starts in the
  passage, a French sentence cut out of the passage (inverse cloze: the passage is indexed
  without it) and an English sentence of the aligned English passage.

Each query's known item decides its half: `dev` (choose the fusion here) or `held-out`
(report here), by a hash of the passage id, so no passage is in both.

Each passage becomes one file, indexed with dossier's own chunking and model (onnx-int8),
once per model in `--work` (kept between runs). For every query the study keeps both sides'
candidates as `Index.candidates` returns them (30 each, with both scores), then ranks them
with every fusion in `FUSIONS` through `index.fusion.fuse`, the code `Index.search` runs. A
query is answered at the rank of its passage's best chunk; MRR@10 per set, query kind,
half, model and fusion is printed and written to `--out`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from index import Fusion, FusionMethod, Index
from index.embeddings import make_embedder
from index.fusion import NO_FLOOR, Candidate, fuse

SEED = 0
PER_KIND = 600  # queries of each kind, split about evenly between the halves


def _fusions() -> dict[str, Fusion]:
    out = {
        "dense": Fusion(FusionMethod.DENSE, **NO_FLOOR),
        "keyword": Fusion(FusionMethod.KEYWORD, **NO_FLOOR),
        "rrf": Fusion(FusionMethod.RRF, **NO_FLOOR),
        "weighted 0.7 (the default before)": Fusion(
            FusionMethod.WEIGHTED, weak_keyword_weight=None, dense_weight=0.7, **NO_FLOOR
        ),
    }
    for method in (FusionMethod.MINMAX, FusionMethod.ZSCORE):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7):
            out[f"{method.value} {w}"] = Fusion(
                method, dense_weight=w, weak_keyword_weight=None, **NO_FLOOR
            )
    for w in (0.3, 0.4, 0.5, 0.6):
        for weak in (0.7, 0.8, 0.9):
            for cross in (None, 0.7, 0.8):
                label = f"zscore {w}, weak keyword {weak}" + (f", cross {cross}" if cross else "")
                out[label] = Fusion(
                    FusionMethod.ZSCORE,
                    dense_weight=w,
                    weak_keyword_weight=weak,
                    weak_keyword_below=0.34,
                    cross_lingual_weight=cross,
                    **NO_FLOOR,
                )
    return out


def _file(pid: str) -> str:
    return re.sub(r"[^\w.-]+", "_", pid) + ".txt"


def half(pid: str) -> str:
    return "dev" if hashlib.sha1(pid.encode()).digest()[0] % 2 == 0 else "held-out"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def load_set(corpus: Path, name: str) -> tuple[list[dict], list[dict]]:
    """(passages, queries) of one set, queries sampled per kind with a fixed seed."""
    if name == "ddtp":
        passages = [p for p in _read(corpus / "out_ddtp/passages.jsonl") if 60 <= p["words"] <= 250]
        queries = _read(corpus / "out_ddtp/queries.jsonl")
        kinds = [("synopsis", "fr"), ("synopsis", "en")]
    elif name == "docs":
        passages, queries = [], []
        for source in ("debian", "gimp"):
            passages += _read(corpus / f"out_{source}/passages.jsonl")
            queries += _read(corpus / f"out_{source}/queries.jsonl")
        kinds = [("ict", "fr"), ("title", "fr"), ("xsent", "en"), ("title", "en")]
    else:
        raise SystemExit(f"unknown set {name!r}: use ddtp or docs")
    known = {p["pid"] for p in passages}
    # A query that is the same text as another (two packages with one synopsis) has no one
    # known item: left out.
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for q in queries:
        seen[(q["lang"], q["query"].casefold().strip())] += 1
    rng = random.Random(SEED)
    chosen = []
    for kind, lang in kinds:
        pool = [
            q
            for q in queries
            if (q["type"], q["lang"]) == (kind, lang)
            and q["pid"] in known
            and seen[(lang, q["query"].casefold().strip())] == 1
        ]
        chosen += rng.sample(pool, min(PER_KIND, len(pool)))
    return passages, chosen


def collect(passages, queries, model: str, work: Path) -> list[dict]:
    """Each query's candidates: [file number, dense, keyword] with the query's facts."""
    docs = work / "docs"
    index_dir = work / f"idx-{model}"
    if not (index_dir / "manifest.sqlite3").exists():
        docs.mkdir(parents=True, exist_ok=True)
        for p in passages:
            (docs / _file(p["pid"])).write_text(p.get("text_ict") or p["text"], encoding="utf-8")
    out = []
    with Index(index_dir, embedder=make_embedder(model, "onnx-int8")) as idx:
        if docs.exists():
            report = idx.add([docs], progress=False)
            print(f"{model}: {report.indexed} passages, {idx.count_chunks()} chunks", flush=True)
        files = {c.chunk_id: Path(c.metadata["path"]).name for c in idx.store.iter_all()}
        for q in queries:
            cands = idx.candidates(q["query"])
            cover, cross = idx.signals(q["query"], cands)
            out.append(
                {
                    "qid": q["qid"],
                    "kind": f"{q['type']}-{q['lang']}",
                    "half": half(q["pid"]),
                    "file": _file(q["pid"]),
                    "keyword_cover": cover,
                    "cross_lingual": cross,
                    "candidates": [
                        [c.chunk_id, files[c.chunk_id], c.dense, c.keyword] for c in cands
                    ],
                }
            )
    return out


def rank_of(row: dict, fusion: Fusion) -> int | None:
    """Rank of the query's passage among the fused candidates' files (a file once)."""
    cands = [Candidate(cid, dense, keyword) for cid, _, dense, keyword in row["candidates"]]
    files = {cid: name for cid, name, _, _ in row["candidates"]}
    seen: list[str] = []
    for candidate, _ in fuse(cands, fusion, row["keyword_cover"], row["cross_lingual"]):
        name = files[candidate.chunk_id]
        if name not in seen:
            seen.append(name)
            if name == row["file"]:
                return len(seen)
    return None


def mrr(rows: list[dict], fusion: Fusion) -> float:
    ranks = [rank_of(r, fusion) for r in rows]
    return round(sum(1 / r for r in ranks if r and r <= 10) / max(len(rows), 1), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="indexes and candidates kept here")
    parser.add_argument("--sets", default="ddtp,docs")
    parser.add_argument("--models", default="all-MiniLM-L6-v2,multilingual-e5-small")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    fusions = _fusions()
    results: dict = {"sets": {}, "runs": {}}
    for name in args.sets.split(","):
        passages, queries = load_set(args.corpus, name)
        results["sets"][name] = {"passages": len(passages), "queries": len(queries)}
        for model in args.models.split(","):
            cache = args.work / name / f"candidates-{model}.json"
            if cache.exists():
                rows = json.loads(cache.read_text(encoding="utf-8"))
            else:
                rows = collect(passages, queries, model, args.work / name)
                cache.write_text(json.dumps(rows), encoding="utf-8")
            groups: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                groups[f"{r['kind']} {r['half']}"].append(r)
            for label, fusion in fusions.items():
                row = {g: mrr(rs, fusion) for g, rs in sorted(groups.items())}
                results["runs"][f"{name} | {model} | {label}"] = row
                print(
                    f"{name} {model:<22} {label:<26} "
                    + "  ".join(f"{g} {v}" for g, v in row.items()),
                    flush=True,
                )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
