"""Prompt markup a model echoes back, taken out of its answer.

Small models copy what they see: SmolLM2-135M answered with the prompt's `<passage n="1"
date=… file=…>` tags, its chat template's `<|im_end|>`, and lines of the instructions. None of
that is an answer. `strip_markup` removes it from the whole answer; `MarkupFilter` does the
same to a stream, holding back only the end that may be the start of a tag, so the page and the
terminal never show a tag even for a moment.

What counts as markup: the fence tags of `prompts/` (`<passage …>`, `</passage>`,
`<conversation>`, and their defused forms `‹passage`), a tag's attribute list left behind
(`n="1" date="…" file="…">`), chat-template tokens (`<|im_start|>`, `<|eot_id|>`, `</s>`),
and, in the whole answer, a line that repeats a line of the prompt's instructions or the
"Question: …" line. Text the model quotes from a passage stays: that is what a citation points
to.
"""

from __future__ import annotations

import re
import unicodedata

from . import prompts

_FENCES = "|".join((*prompts.FENCES, "answer", "question", "passages?"))
_TAG = re.compile(
    rf"<\s*/?\s*(?:{_FENCES})\b[^<>\n]{{0,300}}>"  # <passage n="1" …>, </passage>
    rf"|<\s*/?\s*(?:{_FENCES})\s*$"  # an unclosed one at the very end
    rf"|‹\s*/?\s*(?:{_FENCES})\b[^<>›\n]{{0,300}}[>›]?"  # the defused forms
    r"|<\|[A-Za-z0-9_]{1,40}\|>"  # <|im_start|>, <|im_end|>, <|eot_id|>
    r"|</?s>"  # Llama 2 / Mistral sentence tokens
    r'|(?:\bn\s*=\s*"?\d+"?\s+)?\b(?:date|file)\s*=\s*"[^"\n]{0,300}"'  # attributes left behind
    r'(?:\s+(?:date|file)\s*=\s*"[^"\n]{0,300}")*\s*>?',
    re.IGNORECASE | re.MULTILINE,
)
# Where a tag may be starting: held back from a stream until it is complete or is not a tag.
# A short word at the very end is held too: it may be the "n" or "date" of `n="1" date=…`.
_OPENING = re.compile(
    r"(?:<|‹|\bn\s*=|\b(?:date|file)\s*=)[^>›\n]{0,300}$|\b\w{1,4}$", re.IGNORECASE
)
_QUESTION_LINE = re.compile(r"^\s*(?:question|standalone question)\s*:", re.IGNORECASE)
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]{2,}")


def _norm(line: str) -> str:
    folded = unicodedata.normalize("NFKC", line).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())


def _instruction_lines() -> frozenset[str]:
    """The lines of the system prompt and of the answer template, normalised."""
    lines = prompts.system_prompt().splitlines() + prompts.load("answer").splitlines()
    return frozenset(n for n in (_norm(line) for line in lines if "{" not in line) if len(n) > 12)


def strip_tags(text: str) -> str:
    """`text` without fence tags, their attributes or chat-template tokens."""
    return _TAG.sub("", text)


def strip_markup(text: str) -> str:
    """The whole answer without echoed markup: tags, template tokens, and lines that repeat
    the prompt's instructions or its "Question:" line."""
    instructions = _instruction_lines()
    kept = [
        line
        for line in strip_tags(text).splitlines()
        if not _QUESTION_LINE.match(line) and _norm(line) not in instructions
    ]
    cleaned = _SPACES.sub(" ", "\n".join(kept))
    return _BLANKS.sub("\n\n", cleaned).strip()


class MarkupFilter:
    """Feed it a stream's pieces; it returns what may be shown now, tags removed."""

    def __init__(self) -> None:
        self._raw = ""
        self._shown = ""

    def feed(self, piece: str) -> str:
        self._raw += piece
        hold = _OPENING.search(self._raw)
        safe = self._raw[: hold.start()] if hold else self._raw
        return self._advance(strip_tags(safe))

    def flush(self) -> str:
        return self._advance(strip_tags(self._raw))

    def _advance(self, cleaned: str) -> str:
        # Tags are removed only once complete, so what was shown stays a prefix of what is
        # shown next; if not (a pattern spanning the hold), nothing more until it is again:
        # the whole answer, cleaned, replaces the stream at its end.
        if not cleaned.startswith(self._shown):
            return ""
        new = cleaned[len(self._shown) :]
        self._shown = cleaned
        return new
