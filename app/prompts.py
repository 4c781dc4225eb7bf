"""Prompt templates (files in `prompts/`) filled with a question and numbered passages.

Passages are fenced in <passage> tags as quoted data; a tag inside an article's own text is
defused, so an article cannot close its fence and speak to the model as instructions.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from index.types import Passage

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_TAG = re.compile(r"<\s*(/?)\s*passage", re.IGNORECASE)


@cache
def load(name: str) -> str:
    """The template `prompts/NAME.md`, trailing newline removed."""
    return (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8").rstrip("\n")


def defuse(text: str) -> str:
    """Article text with any <passage> or </passage> tag made harmless: ‹passage›."""
    return _TAG.sub(lambda m: f"‹{m.group(1)}passage", text)


def _fill(template: str, **values: str) -> str:
    # str.format would read braces inside article text; fill the named slots only.
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def passages_block(passages: list[Passage]) -> str:
    """The passages numbered from 1 in the order given, each fenced."""
    return "\n\n".join(
        _fill(
            load("passage"),
            n=str(i),
            date=p.date or "undated",
            path=defuse(p.path),
            text=defuse(p.text),
        )
        for i, p in enumerate(passages, 1)
    )


def answer_prompt(question: str, passages: list[Passage]) -> str:
    return _fill(load("answer"), passages=passages_block(passages), question=question)


def rewrite_prompt(question: str, history: list[dict]) -> str:
    turns = "\n".join(f"{turn['role']}: {turn['content']}" for turn in history)
    return _fill(load("rewrite"), history=turns, question=question)


def system_prompt() -> str:
    return load("system")
