"""Q&A sets: JSONL, one question a line, in the format of the design (`question` required;
`id`, `answers`, `evidence`, `sources`, `answerable`, `history` optional; other keys kept).

`load_qaset` checks every line and reports each problem with its line number, the field and
what was expected; with `skip_invalid` the valid lines are kept and the problems returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import DossierError

MAX_SHOWN = 20  # problems listed in one error message


class QASetError(DossierError):
    """The set cannot be used as it is; the message lists the problems and the fix."""


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    line: int
    answers: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    answerable: bool = True
    history: tuple[dict, ...] = ()
    extra: dict = field(default_factory=dict)  # keys the format does not define (split, lang…)

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "question": self.question,
            "answers": list(self.answers),
            "evidence": list(self.evidence),
            "sources": list(self.sources),
            "answerable": self.answerable,
        }
        if self.history:
            out["history"] = list(self.history)
        return {**out, **self.extra}


def _strings(value, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        raise ValueError(f'field "{name}": expected a list of strings, got a string (use ["…"])')
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'field "{name}": expected a list of strings, got {_kind(value)}')
    return tuple(v for v in value if v.strip())


def _kind(value) -> str:
    if isinstance(value, list):
        inner = {type(v).__name__ for v in value if not isinstance(v, str)}
        return f"a list holding {', '.join(sorted(inner))}" if inner else "a list"
    names = {dict: "an object", bool: "a boolean", int: "a number", float: "a number"}
    return {**names, str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _history(value) -> tuple[dict, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f'field "history": expected a list of turns, got {_kind(value)}')
    turns = []
    for i, turn in enumerate(value, 1):
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ("user", "assistant")
            or not isinstance(turn.get("content"), str)
        ):
            raise ValueError(
                f'field "history", turn {i}: expected {{"role": "user" or "assistant", '
                f'"content": "…"}}'
            )
        turns.append({"role": turn["role"], "content": turn["content"]})
    return tuple(turns)


def parse_item(obj, line: int) -> QAItem:
    """One line's object as a `QAItem`; ValueError naming the field and what was expected."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {_kind(obj)}")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        got = "nothing" if question is None else _kind(question)
        raise ValueError(f'field "question": required, a non-empty string; got {got}')
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError(f'field "answerable": expected true or false, got {_kind(answerable)}')
    qid = obj.get("id", f"line{line}")
    if not isinstance(qid, str | int) or isinstance(qid, bool):
        raise ValueError(f'field "id": expected a string or a whole number, got {_kind(qid)}')
    known = {"id", "question", "answers", "evidence", "sources", "answerable", "history"}
    return QAItem(
        id=str(qid),
        question=question.strip(),
        line=line,
        answers=_strings(obj.get("answers"), "answers"),
        evidence=_strings(obj.get("evidence"), "evidence"),
        sources=_strings(obj.get("sources"), "sources"),
        answerable=answerable,
        history=_history(obj.get("history")),
        extra={k: v for k, v in obj.items() if k not in known},
    )


def load_qaset(path: str | Path, *, skip_invalid: bool = False) -> tuple[list[QAItem], list[str]]:
    """The set's questions, and the problems found ("FILE:LINE: …").

    Raises QASetError when the file cannot be read, holds no question, or has problems and
    `skip_invalid` is false.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise QASetError(f"{path}: no such file; give the path of a JSONL Q&A set.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QASetError(f"{path}: cannot read it as UTF-8 text ({exc}).") from None
    items: list[QAItem] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: invalid JSON ({exc.msg}, column {exc.colno})")
            continue
        try:
            item = parse_item(obj, number)
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
            continue
        if item.id in seen:
            problems.append(f'{path}:{number}: id "{item.id}" already used on line {seen[item.id]}')
            continue
        seen[item.id] = number
        items.append(item)
    if problems and not skip_invalid:
        shown = problems[:MAX_SHOWN]
        more = f"\n… and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise QASetError(
            f"{path}: {len(problems)} invalid line(s):\n"
            + "\n".join(shown)
            + more
            + "\nFix them, or run with --skip-invalid to evaluate the valid lines only."
        )
    if not items:
        raise QASetError(
            f"{path}: no question to evaluate; each line must be a JSON object with a "
            '"question" (see the README\'s Q&A set format).'
        )
    return items, problems


def unknown_sources(items: list[QAItem], known: set[str]) -> list[str]:
    """Problems for items whose `sources` name no indexed file (by name) or document id."""
    problems = []
    for item in items:
        missing = [s for s in item.sources if s not in known and Path(s).name not in known]
        if missing:
            problems.append(
                f"line {item.line} ({item.id}): source {missing[0]!r} is not in the index; "
                "index it, or fix the name (a file name or a document id)"
            )
    return problems
