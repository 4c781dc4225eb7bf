"""Compare two evaluation runs (folders written by `dossier eval --out`): each figure side by
side, and the questions whose outcome changed."""

from __future__ import annotations

import json
from pathlib import Path

from index.errors import DossierError

from .report import rows

# Outcomes from worst to best. For a question with an answer: a wrong answer is worse than an
# honest decline, which is worse than a right answer. For one without: answering is worse
# than declining. "unscored" (an answerable question with no accepted answers, e.g. a
# thumbs-up line from the chat page) is compared with nothing.
RANK = {"wrong": 0, "answered": 0, "declined": 1, "right": 2, "declined-ok": 2}


class RunError(DossierError):
    pass


def load_run(folder: str | Path) -> tuple[dict, list[dict]]:
    folder = Path(folder)
    try:
        summary = json.loads((folder / "summary.json").read_text("utf-8"))
        results = [
            json.loads(line)
            for line in (folder / "results.jsonl").read_text("utf-8").splitlines()
            if line.strip()
        ]
    except FileNotFoundError as exc:
        raise RunError(
            f"{folder}: not an evaluation run ({Path(exc.filename).name} is missing); "
            "make one with `dossier eval QASET --out DIR`."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{folder}: a run file is damaged ({exc}).") from None
    return summary, results


def outcome(result: dict) -> str:
    """What happened to one question, judged the way `dossier eval` scores it: the answer
    contains an accepted one ("right") or not ("wrong"), or dossier declined."""
    if not result["expected_answerable"]:
        return "declined-ok" if not result["answerable"] else "answered"
    if not result["answerable"]:
        return "declined"
    contains = (result["metrics"].get("answer") or {}).get("contains")
    if contains is None:
        return "unscored"
    return "right" if contains >= 1.0 else "wrong"


def _change(before: str, after: str) -> str:
    if before not in RANK or after not in RANK or RANK[before] == RANK[after]:
        return "different"
    return "better" if RANK[after] > RANK[before] else "worse"


def compare(a: tuple[dict, list[dict]], b: tuple[dict, list[dict]]) -> dict:
    """Figures of both runs with their difference, and the questions that changed outcome."""
    (sa, ra), (sb, rb) = a, b
    figures_a = {(g, m): v for g, m, v in rows(sa)}
    figures_b = {(g, m): v for g, m, v in rows(sb)}
    figures = []
    for key in dict.fromkeys([*figures_a, *figures_b]):
        va, vb = figures_a.get(key), figures_b.get(key)
        delta = None if va is None or vb is None else round(vb - va, 4)
        figures.append({"group": key[0], "metric": key[1], "a": va, "b": vb, "delta": delta})
    by_id = {r["id"]: r for r in rb}
    changed = []
    for r in ra:
        other = by_id.get(r["id"])
        if other is None:
            continue
        before, after = outcome(r), outcome(other)
        if before != after:
            changed.append(
                {
                    "id": r["id"],
                    "question": r["question"],
                    "a": before,
                    "b": after,
                    "change": _change(before, after),
                }
            )
    only = sorted(set(by_id) ^ {r["id"] for r in ra})
    return {
        "a": sa.get("set"),
        "b": sb.get("set"),
        "settings": {"a": sa.get("settings"), "b": sb.get("settings")},
        "figures": figures,
        "better": [c for c in changed if c["change"] == "better"],
        "worse": [c for c in changed if c["change"] == "worse"],
        "different": [c for c in changed if c["change"] == "different"],
        "only_in_one": only,
    }
