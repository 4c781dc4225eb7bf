"""A run of `dossier eval` (its results.jsonl) written in the formats of other evaluation tools.

- `write_trec`: TREC qrels and runs, passage and document level, for `trec_eval`,
  `pytrec_eval` and `ir_measures`, plus BEIR-style `queries.jsonl`;
- `write_ragas`: `ragas.jsonl`, the fields of ragas' `SingleTurnSample`, for
  `EvaluationDataset.from_jsonl` / `from_list`.

`items` are the Q&A set's questions the run was made from (`eval.qaset.load_qaset`) and
`results` the objects of results.jsonl (`eval.runner.score_item`); they are paired by id and
written in the order of `results`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from eval.qaset import QAItem

RUN_TAG = "dossier"  # last column of the TREC runs
_SPACE = re.compile(r"\s+")


def _token(text: str) -> str:
    """An id as one TREC column: whitespace (which separates the columns) becomes "_"."""
    return _SPACE.sub("_", str(text).strip()) or "_"


def _pairs(items: list[QAItem], results: list[dict]) -> list[tuple[QAItem, dict]]:
    by_id = {item.id: item for item in items}
    missing = [str(r.get("id")) for r in results if str(r.get("id")) not in by_id]
    if missing:
        raise ValueError(
            f"result(s) {', '.join(missing[:5])} name no question of the Q&A set; give the set "
            "the run was made from"
        )
    return [(by_id[str(r["id"])], r) for r in results]


def _descending(scores: Iterable[float]) -> list[float]:
    """The scores, made strictly decreasing (a tie goes 1e-6 below the score before it).

    trec_eval ranks a run by score, not by its rank column, and breaks ties by document id;
    strictly decreasing scores keep dossier's order.
    """
    out: list[float] = []
    for score in scores:
        score = float(score)
        if out and score >= out[-1]:
            score = round(out[-1] - 1e-6, 6)
        out.append(score)
    return out


def _run_lines(qid: str, ranking: list[tuple[str, float]]) -> list[str]:
    scores = _descending(score for _, score in ranking)
    return [
        f"{qid} Q0 {docid} {rank} {score:.6f} {RUN_TAG}"
        for rank, ((docid, _), score) in enumerate(zip(ranking, scores, strict=True), 1)
    ]


def _documents(retrieved: list[dict]) -> list[tuple[str, float]]:
    """The documents of a passage ranking by first appearance, each with its best score."""
    best: dict[str, float] = {}
    for passage in retrieved:
        name = _token(Path(passage["path"]).name)
        best[name] = max(best.get(name, float("-inf")), float(passage["score"]))
    return list(best.items())


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_trec(out_dir: Path, items: list[QAItem], results: list[dict]) -> list[Path]:
    """Write the run as TREC qrels and runs, read by `trec_eval`, `pytrec_eval` and
    `ir_measures` (e.g. `trec_eval -m recip_rank -m success.1,5 -m ndcg_cut.10 qrels run`), and
    BEIR's queries file; return the paths written, in the order below.

    - `qrels.passages.txt`, TREC qrels `QID 0 DOCID REL`, DOCID a chunk id: for each answerable
      question with evidence, every passage it retrieved, REL 1 when the run judged it relevant
      (its `relevant` flag: it contains an evidence string), else 0. Only retrieved passages
      are judged: a relevant passage the run did not retrieve is unknown and appears nowhere,
      so recall-type measures (`recall`, `num_rel`, `map`) count only the retrieved ones. The
      non-relevant lines (REL 0) keep a question whose evidence was missed in the average
      (trec_eval averages over the questions both in the qrels and in the run) with 0, as
      dossier's summary counts it; a question that retrieved nothing is in neither file, so
      trec_eval leaves it out.
    - `run.passages.txt`, TREC run `QID Q0 DOCID RANK SCORE dossier`: every question's
      retrieved passages (ten deep), ranks from 1, scores descending as retrieved.
    - `qrels.documents.txt`: for each answerable question with sources, each source as a file
      name (its basename; a source given as a document id takes the file name of the passages
      of that document) with REL 1, and every other document the question retrieved with 0.
    - `run.documents.txt`: every question's documents (DOCID the basename of the passage
      path) ranked by first appearance among its passages, scored by its best passage.
    - `queries.jsonl`, BEIR-style `{"_id": QID, "text": ...}` per question, the text as it was
      searched (a follow-up rewritten into its standalone question).

    Unanswerable questions, and answerable ones without evidence (sources), have no qrels at
    that level: they are in the runs only, which these tools ignore. Whitespace in ids becomes
    "_"; tied scores are lowered by 1e-6 so that the tools keep dossier's order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = _pairs(items, results)
    names = {  # document id -> file name, from every passage of the run
        str(p["doc_id"]): _token(Path(p["path"]).name)
        for _, r in pairs
        for p in r.get("retrieved") or []
        if p.get("doc_id")
    }
    qrels_p: list[str] = []
    run_p: list[str] = []
    qrels_d: list[str] = []
    run_d: list[str] = []
    queries: list[str] = []
    for item, result in pairs:
        qid = _token(item.id)
        retrieved = sorted(result.get("retrieved") or [], key=lambda p: p["rank"])
        passages = [(_token(p["chunk_id"]), float(p["score"])) for p in retrieved]
        documents = _documents(retrieved)
        if item.answerable and item.evidence:
            qrels_p += [
                f"{qid} 0 {docid} {int(bool(p.get('relevant')))}"
                for (docid, _), p in zip(passages, retrieved, strict=True)
            ]
        if item.answerable and item.sources:
            wanted = list(dict.fromkeys(names.get(s) or _token(Path(s).name) for s in item.sources))
            qrels_d += [f"{qid} 0 {name} 1" for name in wanted]
            qrels_d += [f"{qid} 0 {name} 0" for name, _ in documents if name not in wanted]
        run_p += _run_lines(qid, passages)
        run_d += _run_lines(qid, documents)
        text = result.get("standalone_question") or item.question
        queries.append(json.dumps({"_id": qid, "text": text}, ensure_ascii=False))
    return [
        _write_lines(out_dir / "qrels.passages.txt", qrels_p),
        _write_lines(out_dir / "run.passages.txt", run_p),
        _write_lines(out_dir / "qrels.documents.txt", qrels_d),
        _write_lines(out_dir / "run.documents.txt", run_d),
        _write_lines(out_dir / "queries.jsonl", queries),
    ]


def write_ragas(
    out_dir: Path, items: list[QAItem], results: list[dict], *, k: int | None = None
) -> Path:
    """Write `ragas.jsonl`, one object per question, for ragas (v0.2 on):
    `EvaluationDataset.from_jsonl(path)`, or `from_list` of its lines, then `ragas.evaluate`.

    The keys are the fields of ragas' `SingleTurnSample`:

    - `user_input`: the question as the assistant answered it (a follow-up rewritten into its
      standalone question, since a single-turn sample has no history);
    - `retrieved_contexts`: the texts of the retrieved passages, best first; results.jsonl keeps
      ten, the answer was given the first `k` (the run's `settings.k` in summary.json): pass
      `k` to keep those only;
    - `response`: the answer as given, citation markers ([1]) and declining text included;
    - `reference`: the set's first accepted answer, "" when it has none (unanswerable);
    - `reference_contexts`: the set's evidence strings;

    plus `id`, the question's id: `SingleTurnSample` is a pydantic model that ignores keys it
    does not define, so ragas drops `id` on loading (the line order still pairs its scores with
    the questions) while other readers keep it.
    """
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for item, result in _pairs(items, results):
        retrieved = sorted(result.get("retrieved") or [], key=lambda p: p["rank"])
        sample = {
            "id": item.id,
            "user_input": result.get("standalone_question") or item.question,
            "retrieved_contexts": [p["text"] for p in retrieved][:k],
            "response": result.get("answer") or "",
            "reference": item.answers[0] if item.answers else "",
            "reference_contexts": list(item.evidence),
        }
        lines.append(json.dumps(sample, ensure_ascii=False))
    return _write_lines(out_dir / "ragas.jsonl", lines)
