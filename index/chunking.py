"""Split a document into sentences, then into overlapping chunks of whole sentences.

Every span is a pair of character offsets into the document text, so `text[start:end]` gives
the chunk back exactly, and every non-space character lies in at least one chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

# Chosen by measurement (eval/fusion_study.py, figures in the README): 800 characters scored
# best on the dev questions among sizes whose chunks fit MiniLM's 256-token window (98% do at
# 800; 38% overflow at 1000 and lose their tail). Up to 200 characters of whole-sentence
# overlap keep a fact that straddles two chunks whole in one of them.
DEFAULT_SIZE = 800
DEFAULT_OVERLAP = 200

# Words that end with a full stop without ending the sentence (lower case, without the stop).
# French civilities and English titles, months, and Latin abbreviations; "etc." is left out on
# purpose: followed by a capital it usually does end the sentence.
ABBREVIATIONS = frozenset(
    [
        "m",
        "mm",
        "mme",
        "mmes",
        "mlle",
        "mlles",
        "dr",
        "drs",
        "pr",
        "me",
        "mgr",
        "st",
        "ste",
        "mr",
        "mrs",
        "ms",
        "messrs",
        "prof",
        "sr",
        "jr",
        "gen",
        "gén",
        "col",
        "lt",
        "capt",
        "sgt",
        "cmdt",
        "gov",
        "sen",
        "rep",
        "hon",
        "rev",
        "fr",
        "vs",
        "cf",
        "ca",
        "env",
        "approx",
        "ex",
        "fig",
        "p",
        "pp",
        "vol",
        "no",
        "nos",
        "art",
        "al",
        "av",
        "bd",
        "ch",
        "chap",
        "éd",
        "ed",
        "réf",
        "tél",
        "janv",
        "févr",
        "fév",
        "avr",
        "juil",
        "sept",
        "oct",
        "nov",
        "déc",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "dec",
        "inc",
        "ltd",
        "co",
        "corp",
        "cie",
        "dept",
        "univ",
    ]
)

# Abbreviations that are also everyday words ("me", "no", "art"): an abbreviation only when
# capitalised, as civilities, numbers and months are.
SHARED_WITH_WORDS = frozenset(
    [
        "me",
        "no",
        "nos",
        "art",
        "ex",
        "rep",
        "co",
        "ed",
        "ca",
        "ch",
        "al",
        "fr",
        "gen",
        "col",
        "hon",
        "rev",
        "sen",
        "fig",
        "vol",
        "st",
        "av",
        "mar",
        "jan",
        "feb",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
    ]
)

_END = re.compile(
    r"""[.!?…]+                      # the stop
        (?:[\u00a0\u202f ]?[»”"’)\]])*  # closing quotes or brackets after it
        (?=\s)""",
    re.VERBOSE,
)
_NEXT_STARTS_SENTENCE = re.compile(r"\s+(?=[«“\"'(\[\-–—¿¡]?\s?[\w«“])")
_LAST_WORD = re.compile(r"[\w.’'-]*$")
_PARAGRAPH = re.compile(r"\n[ \t]*\n|\n(?=\s*[-*•–—] )")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _is_abbreviation(text: str, stop: int) -> bool:
    """Does the full stop at `stop` end an abbreviation such as "M." or an initial "J."?"""
    # The last 64 characters hold any abbreviation; searching all of text[:stop] for a
    # word at its end tried every start position (145 µs a stop, 15 s per 20,000 chunks).
    word = _LAST_WORD.search(text, max(0, stop - 64), stop).group(0).lstrip("'’-")
    if not word:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. Smith"
    if "." in word:
        return True  # dotted acronym or abbreviation: "U.S.", "p.ex."
    lower = word.lower()
    if lower in SHARED_WITH_WORDS:
        return word[0].isupper()  # "Me Dupont", "No. 5", but "he told me." ends a sentence
    return lower in ABBREVIATIONS


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def _hard_wrapped(text: str) -> bool:
    """Is the text wrapped at a fixed width (wire copy, e-mail)? Then there are several lines
    that run on into another line, and most of them are nearly as long as the longest; in
    unwrapped text only headings run on, and there are few of them."""
    lines = text.split("\n")
    inner = [len(a) for a, b in pairwise(lines) if a.strip() and b.strip()]
    return len(inner) >= 3 and sum(n >= 0.6 * max(inner) for n in inner) >= 0.6 * len(inner)


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`, French and English punctuation, without surrounding spaces."""
    cuts = {0, len(text)}
    for match in _PARAGRAPH.finditer(text):
        cuts.add(match.start())
    for match in _END.finditer(text):
        after = match.end()
        nxt = _NEXT_STARTS_SENTENCE.match(text, after)
        if not nxt:
            continue
        following = text[nxt.end() :].lstrip("«“\"'([-–—¿¡ \u00a0\u202f")[:1]
        if not following or not (following.isupper() or following.isdigit()):
            continue
        bare_stop = match.group(0).rstrip('»”"’)] \u00a0\u202f') == "."
        if bare_stop and _is_abbreviation(text, match.start()):
            continue
        cuts.add(after)
    # A heading on a line of its own, opening a paragraph, with the text on the next line
    # ("Mesures de rétorsion\nEn réaction, ..."). Hard-wrapped lines are not cut: they do not
    # stand after a blank line, or the next line goes on in lower case.
    headings = (
        ()
        if _hard_wrapped(text)
        else re.finditer(r"(?:\A|\n[ \t]*\n)([^\n]{1,120})\n(?=[ \t]*[^\W\d_])", text)
    )
    for match in headings:
        line = match.group(1).rstrip()
        following = text[match.end() :].lstrip(" \t")[:1]
        if line and line[-1] not in '.!?…:;,»”"’)' and following.isupper():
            cuts.add(match.end(1))
    points = sorted(cuts)
    spans = [_trimmed(text, a, b) for a, b in pairwise(points)]
    return [s for s in spans if s]


def _pieces(text: str, span: Span, size: int) -> list[Span]:
    """Cut a sentence longer than `size` at spaces (or anywhere, if it has none)."""
    out, start = [], span.start
    while span.end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        piece = _trimmed(text, start, cut)
        if piece:
            out.append(piece)
        start = cut
    last = _trimmed(text, start, span.end)
    if last:
        out.append(last)
    return out


def _is_heading(text: str, unit: Span) -> bool:
    """A short line of its own with no closing punctuation, like "Mesures de rétorsion"."""
    line = text[unit.start : unit.end]
    before = text[max(0, unit.start - 2) : unit.start]
    return (
        len(line) <= 120
        and "\n" not in line
        and line[-1] not in '.!?…:;,»”"’)'
        and (unit.start == 0 or before.endswith("\n"))
    )


def chunk_spans(text: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Span]:
    """Group sentences into chunks of at most `size` characters (a longer sentence is cut).

    Each chunk after the first starts with the previous chunk's last sentences, as many as
    fit in `overlap` characters, and never goes back as far as the previous chunk's start.
    """
    if size < 50:
        raise ValueError(f"chunk size {size} is too small; use at least 50 characters")
    units: list[Span] = []
    for sentence in split_sentences(text):
        units.extend(_pieces(text, sentence, size))
    chunks: list[Span] = []
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and units[j].end - units[i].start <= size:
            j += 1
        if j < len(units) and j - 1 > i and _is_heading(text, units[j - 1]):
            j -= 1  # a subheading opens the next chunk rather than closing this one
        chunks.append(Span(units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        # Step back over whole sentences that fit in the overlap, keeping progress.
        k = j
        while (
            k - 1 > i
            and units[j - 1].end - units[k - 1].start <= overlap
            and (j == len(units) or units[j].end - units[k - 1].start <= size)
        ):
            k -= 1
        i = k
    return chunks
