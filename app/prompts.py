"""Prompt templates (files in `prompts/`) filled with a question and numbered passages.

Passages are fenced in <passage> tags as quoted data, and the conversation a follow-up is
rewritten from in <conversation> tags. Whatever comes from an article, a file name or an
earlier turn is defused first: a fence tag inside it, or something a model would read as one
(`&lt;/passage&gt;`, a full-width `＜/passage＞`, odd case and spacing), becomes ‹passage, so
it can neither close its fence nor open a new one and speak to the model as instructions.
Values put inside a tag's attributes (the file name, the date) lose their quotes, angle
brackets and line breaks, so they cannot add attributes or end the tag.
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from index.errors import ConfigError
from index.types import Passage


def _prompts_dir() -> Traversable:
    """`prompts/` of the checkout, or the copy an installed wheel holds (`app._prompts`)."""
    checkout = Path(__file__).resolve().parent.parent / "prompts"
    if checkout.is_dir():
        return checkout
    try:
        return resources.files("app._prompts")
    except ModuleNotFoundError:
        return checkout


PROMPTS_DIR: Traversable = _prompts_dir()
FENCES = ("passage", "conversation")  # the tags prompts/ puts around quoted data
# "<", its HTML entities and its full-width and small look-alikes; "/" and its full-width
# form; a fence name, in any case, in ASCII or full-width letters, with spaces or zero-width
# characters anywhere between: all that a model might take for one of our tags.
_OPEN = r"(?:<|&lt;?|&#0*60;?|&#x0*3c;?|\uFF1C|\uFE64|\u3008|\u27E8)"
_GAP = r"[\s\u200b-\u200d\u2060\ufeff]*"
_SLASH = r"([/\uFF0F]?)"


def _letters(word: str) -> str:
    """A pattern for `word` in ASCII or full-width letters, gaps allowed between them."""
    return _GAP.join(f"[{c}{chr(ord(c) - ord('a') + 0xFF41)}]" for c in word)


_TAG = re.compile(
    _OPEN + _GAP + _SLASH + _GAP + "(" + "|".join(_letters(f) for f in FENCES) + ")",
    re.IGNORECASE,
)
_FULL = {f: re.compile(_letters(f), re.IGNORECASE) for f in FENCES}
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


@cache
def load(name: str) -> str:
    """The template `prompts/NAME.md`, trailing newline removed."""
    path = PROMPTS_DIR / f"{name}.md"
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        raise ConfigError(
            f"dossier's prompt template {path} is missing: reinstall dossier "
            "(pip install --force-reinstall dossier), or restore prompts/ in the checkout"
        ) from None


def defuse(text: str) -> str:
    """`text` with anything that reads as a fence tag (<passage>, </conversation>…) made
    harmless: ‹passage, ‹/conversation."""

    def harmless(match: re.Match) -> str:
        name = next(f for f in FENCES if _FULL[f].fullmatch(match.group(2)))
        return f"‹{'/' if match.group(1) else ''}{name}"

    return _TAG.sub(harmless, text)


def attribute(value: str) -> str:
    """`value` safe inside a fence tag's double-quoted attribute: one line, no quotes or
    angle brackets (escaped as HTML entities), no fence tag."""
    return html.escape(" ".join(_LINE_BREAKS.sub(" ", defuse(value)).split()), quote=True)


def _fill(template: str, **values: str) -> str:
    # str.format would read braces inside article text; fill the named slots only, in one
    # pass, so that a value holding "{text}" or "{question}" stays as written.
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], m[0]), template)


def passages_block(passages: list[Passage]) -> str:
    """The passages numbered from 1 in the order given, each fenced."""
    return "\n\n".join(
        _fill(
            load("passage"),
            n=str(i),
            date=attribute(p.date or "undated"),
            path=attribute(p.path),
            text=defuse(p.text),
        )
        for i, p in enumerate(passages, 1)
    )


def _one_line(text: str) -> str:
    """`text` defused and on one line: it cannot start a line of its own ("user: …")."""
    return " ".join(defuse(text).split())


def answer_prompt(question: str, passages: list[Passage]) -> str:
    """The passages, fenced, then the question, outside every fence."""
    return _fill(load("answer"), passages=passages_block(passages), question=_one_line(question))


def rewrite_prompt(question: str, history: list[dict]) -> str:
    """The conversation, fenced, one line a turn; then the question to rewrite."""
    turns = "\n".join(f"{turn['role']}: {_one_line(turn['content'])}" for turn in history)
    return _fill(load("rewrite"), history=turns, question=_one_line(question))


def system_prompt() -> str:
    return load("system")
