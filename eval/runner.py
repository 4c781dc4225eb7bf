"""Run a Q&A set through dossier as a user would (the `Assistant`), score every question, and
sum the scores up into the summary of the design's `eval --json`.

Retrieval is scored on the passages `search` returns for the question as the assistant
searched it (a follow-up rewritten), ten deep; answers, citations and declining on the
assistant's answer with its `k` passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.assistant import Assistant
from eval import metrics
from eval.qaset import QAItem

DEPTH = 10  # passages ranked for the retrieval metrics (MRR@10, nDCG@10)
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


@dataclass
class EvalRun:
    summary: dict
    results: list[dict]


def _retrieval(
    texts: list[str], relevant: list[bool], evidence: tuple[str, ...], in_index: int
) -> dict:
    """`in_index`: how many passages of the whole index are relevant (the ideal ranking)."""
    found = sum(relevant)
    return {
        "hit@1": metrics.hit_at(relevant, 1),
        "hit@5": metrics.hit_at(relevant, 5),
        "recall@5": metrics.evidence_recall_at(texts, list(evidence), 5),
        "mrr@10": metrics.mrr_at(relevant, 10),
        "ndcg@10": metrics.ndcg_at(relevant, 10, max(found, in_index, 1)),
    }


def _documents(passages, sources: tuple[str, ...]) -> dict:
    relevant = metrics.document_relevance(
        [(Path(p.path).name, p.doc_id) for p in passages], list(sources)
    )
    return {"hit@5": metrics.hit_at(relevant, 5), "mrr@10": metrics.mrr_at(relevant, 10)}


def score_item(item: QAItem, answer, ranked, corpus: list[str] | None = None) -> dict:
    """One question's result: what dossier did and each metric (None: nothing to score).

    `corpus`: every passage text of the index, to count the relevant ones for nDCG's ideal
    ranking (without it, the relevant passages retrieved stand in)."""
    texts = [p.text for p in ranked]
    relevant = metrics.passage_relevance(texts, list(item.evidence))
    scores: dict[str, dict | None] = {"retrieval": None, "documents": None, "answer": None}
    if item.answerable and item.evidence:
        in_index = sum(metrics.passage_relevance(corpus, list(item.evidence))) if corpus else 0
        scores["retrieval"] = _retrieval(texts, relevant, item.evidence, in_index)
    if item.answerable and item.sources:
        scores["documents"] = _documents(ranked, item.sources)
    prediction = _MARKERS.sub("", answer.answer).strip() if answer.answerable else ""
    if item.answerable and item.answers:
        scores["answer"] = {
            "exact": float(metrics.exact_match(prediction, list(item.answers))),
            "f1": metrics.token_f1(prediction, list(item.answers)),
            "contains": float(metrics.contains_answer(prediction, list(item.answers))),
        }
    stated = [c for c in answer.claims if c.supported is not None] if answer.answerable else []
    scores["citations"] = {
        "recall": metrics.citation_recall(stated) if stated else None,
        "precision": metrics.citation_precision([list(c.supports) for c in stated if c.cited])
        if stated
        else None,
    }
    # Claims shown as supported, and those the stricter check confirms (`metrics.confirmed`).
    shown = [c for c in answer.claims if c.supported and c.cited] if answer.answerable else []
    checks = [
        metrics.confirmed(
            c.text,
            [answer.passages[n - 1].text for n, ok in zip(c.cited, c.supports, strict=False) if ok],
        )
        for c in shown
    ]
    scores["claims"] = {
        "shown_supported": len([v for v in checks if v is not None]),
        "confirmed": sum(1 for v in checks if v),
    }
    # An answerable question ends with a supported claim citing a passage with its evidence.
    if item.answerable and item.evidence:
        good = {
            n
            for n, p in enumerate(answer.passages, 1)
            if any(metrics.passage_relevance([p.text], list(item.evidence)))
        }
        scores["answer"] = {
            **(scores["answer"] or {}),
            "supported_evidence": float(
                any(
                    n in good
                    for c in shown
                    for n, ok in zip(c.cited, c.supports, strict=False)
                    if ok
                )
            ),
        }
    return {
        "id": item.id,
        "line": item.line,
        "question": item.question,
        "expected_answerable": item.answerable,
        "answerable": answer.answerable,
        "answer": answer.answer,
        "mode": answer.mode,
        "model": answer.model,
        "standalone_question": answer.standalone,
        "reason": answer.reason,
        "notice": answer.notice,
        "fallback": answer.fallback,
        "draft": answer.draft,
        "retrieved": [
            {
                "rank": p.rank,
                "score": p.score,
                "path": p.path,
                "doc_id": p.doc_id,
                "chunk_id": p.chunk_id,
                "start": p.start,
                "end": p.end,
                "text": p.text,
                "relevant": is_relevant,
            }
            for p, is_relevant in zip(ranked, relevant, strict=True)
        ],
        "citations": [c.to_dict() for c in answer.citations],
        "claims": [c.to_dict() for c in answer.claims],
        "timings_ms": answer.timings_ms,
        "metrics": scores,
    }


def _mean_of(results: list[dict], group: str, name: str) -> float | None:
    values = [(r["metrics"][group] or {}).get(name) for r in results]
    value = metrics.mean([v for v in values if v is not None])
    return None if value is None else round(value, 4)


def summarize(results: list[dict], *, qaset: str, settings: dict) -> dict:
    """The run's summary: the design's `eval --json` object, plus the settings used."""
    modes = sorted({r["mode"] for r in results})
    shown = sum((r["metrics"].get("claims") or {}).get("shown_supported", 0) for r in results)
    sure = sum((r["metrics"].get("claims") or {}).get("confirmed", 0) for r in results)
    confirmed = round(sure / shown, 4) if shown else None  # pooled over the set's claims
    declining = metrics.declining(
        [r["expected_answerable"] for r in results], [r["answerable"] for r in results]
    )
    return {
        "set": qaset,
        "n": len(results),
        "mode": modes[0] if len(modes) == 1 else "+".join(modes),
        "model": next((r["model"] for r in results if r["model"]), None),
        "retrieval": {
            m: _mean_of(results, "retrieval", m)
            for m in ("hit@1", "hit@5", "recall@5", "mrr@10", "ndcg@10")
        },
        "documents": {m: _mean_of(results, "documents", m) for m in ("hit@5", "mrr@10")},
        "answer": {
            m: _mean_of(results, "answer", m)
            for m in ("exact", "f1", "contains", "supported_evidence")
        },
        "citations": {
            **{m: _mean_of(results, "citations", m) for m in ("precision", "recall")},
            "confirmed": confirmed,
        },
        "declining": {k: None if v is None else round(v, 4) for k, v in declining.items()},
        "fallback": {
            "share": round(sum(1 for r in results if r.get("fallback")) / len(results), 4)
            if results
            else None,
            "unsupported": sum(1 for r in results if r.get("fallback") == "unsupported"),
            "llm_error": sum(1 for r in results if r.get("fallback") == "llm-error"),
        },
        "declining_by_mode": {
            mode: {
                k: None if v is None else round(v, 4)
                for k, v in metrics.declining(
                    [r["expected_answerable"] for r in results if r["mode"] == mode],
                    [r["answerable"] for r in results if r["mode"] == mode],
                ).items()
            }
            for mode in modes
        },
        "latency_ms": metrics.latency_summary([r["timings_ms"] for r in results]),
        "settings": settings,
    }


def evaluate(
    items: list[QAItem],
    assistant: Assistant,
    *,
    qaset: str,
    k: int | None = None,
    llm: str | None = None,
    on_result: Callable[[dict], None] | None = None,
) -> EvalRun:
    """Ask every question of `items` and score the answers."""
    results = []
    corpus = [chunk.text for chunk in assistant.index.store.iter_all()]
    for item in items:
        answer = assistant.ask(item.question, list(item.history), k=k, llm=llm)
        ranked = assistant.index.search(answer.standalone or item.question, DEPTH)
        result = score_item(item, answer, ranked, corpus)
        results.append(result)
        if on_result:
            on_result(result)
    settings = {
        "k": k or assistant.k,
        "llm": llm or assistant.llm,
        "model": assistant.model,
        "strict": assistant.strict,
        "max_tokens": assistant.max_tokens,
        "embed_model": assistant.index.embed_model,
        "index_dir": str(assistant.index.dir),
        "documents": assistant.index.count_documents(),
        "chunks": assistant.index.count_chunks(),
    }
    return EvalRun(summarize(results, qaset=qaset, settings=settings), results)
