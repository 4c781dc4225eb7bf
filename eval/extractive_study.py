"""How well the extractive mode answers and declines, on a Q&A set and an index.

    python -m eval.extractive_study tests/data/news_questions.jsonl --index-dir DIR [--split dev]

A question counts as answered correctly when the answer contains one of its `answers` or
`evidence` strings (normalised) and a cited passage contains an `evidence` string; an
unanswerable question counts when dossier declines. Prints one line per question with
`--verbose`, then the totals.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.assistant import Assistant
from eval.matching import contains
from index.core import Index


def judge(item: dict, answer) -> str:
    """'right', 'wrong-citation', 'wrong', 'declined' (answerable) / 'declined-ok', 'answered'."""
    if not item.get("answerable", True):
        return "declined-ok" if not answer.answerable else "answered"
    if not answer.answerable:
        return "declined"
    accepted = list(item.get("answers", [])) + list(item.get("evidence", []))
    if not any(contains(answer.answer, a) for a in accepted):
        return "wrong"
    cited = [c.passage.text for c in answer.citations]
    evidence = item.get("evidence", [])
    if evidence and not any(contains(t, e) for t in cited for e in evidence):
        return "wrong-citation"
    return "right"


def run(questions: list[dict], assistant: Assistant, k: int, verbose: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in questions:
        answer = assistant.ask(item["question"], item.get("history", []), k=k)
        verdict = judge(item, answer)
        counts[verdict] = counts.get(verdict, 0) + 1
        if verbose:
            print(f"{item['id']:5} {verdict:15} {item['question'][:60]!r}")
            print(f"      -> {answer.answer[:100]!r} ({answer.reason})")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("qaset", type=Path)
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--split")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    questions = [json.loads(line) for line in args.qaset.read_text("utf-8").splitlines() if line]
    if args.split:
        questions = [q for q in questions if q.get("split", args.split) == args.split]
    with Index(args.index_dir, create=False) as index:
        counts = run(questions, Assistant(index, llm="extractive"), args.k, args.verbose)
    answerable = sum(1 for q in questions if q.get("answerable", True))
    print(
        f"{args.qaset} ({args.split or 'all'}): right {counts.get('right', 0)}/{answerable}, "
        f"wrong citation {counts.get('wrong-citation', 0)}, wrong {counts.get('wrong', 0)}, "
        f"wrongly declined {counts.get('declined', 0)}; declined "
        f"{counts.get('declined-ok', 0)}/{len(questions) - answerable} unanswerable"
    )


if __name__ == "__main__":
    main()
