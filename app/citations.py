"""Citation markers in an answer: "[1]", "[1, 2]", "[1][2]", tied to the sentences they end.

`parse_citations` keeps only markers that point to a passage the answer was given, and says
which passages each sentence of the answer cites. (Checking that a cited passage supports its
sentence comes with the answering code.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.chunking import split_sentences

# "[1]", "[1, 2]", "[1;2]", "[ 3 ]": numbers inside one pair of brackets.
MARKER = re.compile(r"\[\s*(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\s*\]")
_LEADING = re.compile(r"(?:\[\s*\d{1,4}(?:\s*[,;]\s*\d{1,4})*\s*\]\s*)+")


@dataclass(frozen=True)
class Claim:
    """A sentence of the answer (offsets into the cleaned answer) and the passages it cites."""

    text: str
    start: int
    end: int
    cited: tuple[int, ...]


@dataclass(frozen=True)
class ParsedAnswer:
    text: str  # the answer with markers to missing passages removed
    claims: tuple[Claim, ...]
    dropped: tuple[int, ...]  # numbers cited that point to no passage


def _clean(answer: str, n_passages: int) -> tuple[str, list[int]]:
    dropped: list[int] = []

    def keep(match: re.Match) -> str:
        numbers = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= n_passages]
        dropped.extend(n for n in numbers if not 1 <= n <= n_passages)
        return "".join(f"[{n}]" for n in valid)

    text, previous = MARKER.sub(keep, answer), answer
    while text != previous:  # "[[7]1]" without its [7] is a new marker, "[1]": check it too
        text, previous = MARKER.sub(keep, text), text
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # "claim [9]." with [9] dropped: no stray space
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    return text, dropped


def parse_citations(answer: str, n_passages: int) -> ParsedAnswer:
    """Split `answer` into sentences with the passage numbers each cites (1-based).

    A marker standing after a sentence's full stop ("… unfounded. [1]") belongs to that
    sentence; a marker for a passage that does not exist is removed and listed in `dropped`.
    """
    text, dropped = _clean(answer, n_passages)
    claims: list[Claim] = []
    for span in split_sentences(text):
        start = span.start
        lead = _LEADING.match(text, start, span.end)
        if lead and claims:  # "… unfounded. [1] Next sentence": [1] ends the previous one
            last = claims.pop()
            cited = tuple(int(m.group(1)) for m in MARKER.finditer(lead.group()))
            merged = tuple(dict.fromkeys(last.cited + cited))
            end = start + len(lead.group().rstrip())
            claims.append(Claim(text[last.start : end], last.start, end, merged))
            start = lead.end()
            if start >= span.end:
                continue
        piece = text[start : span.end]
        cited = tuple(dict.fromkeys(int(m.group(1)) for m in MARKER.finditer(piece)))
        claims.append(Claim(piece, start, span.end, cited))
    return ParsedAnswer(text, tuple(claims), tuple(dict.fromkeys(dropped)))
