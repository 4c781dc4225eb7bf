"""How well a passage supports a sentence of an answer: lexical and embedding similarity.

Each claim is compared with every sentence of the passage and every pair of neighbouring
sentences (a claim often joins two). The lexical side is the share of the claim's content words
found in the window, stemmed in French and English and accents folded, with cognates matched on
their first five letters ("espionage"/"espionnage"); the embedding side is the cosine of the
two texts under the index's model. A number in the claim that the window does not contain
quarters the score: invented figures are the commonest unsupported claim.

A claim that copies its passage (the same words once case, quote marks, apostrophes, spaces,
HTML entities and Markdown escapes are set aside) is supported outright: a verbatim quote of
its own cited passage always counts, whatever markup-like characters it holds.

The same check serves the UI, `dossier ask` and the evaluation, so they agree.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from index.chunking import split_sentences
from index.embeddings import Embedder, embed_queries
from index.text import LANGUAGES, query_terms, tokens

from .extractive import missing_names_in

# Calibrated on tests/data/support_pairs.jsonl (16 paraphrases of the sample article in English
# and French against 16 invented or foreign claims): supported claims score 0.31–0.97, all but
# two unsupported ones at most 0.24; the threshold sits in that gap. See tests/test_support.py.
SUPPORT_THRESHOLD = 0.275
LEXICAL_WEIGHT = 0.5
PREFIX = 5
# A number, its thousands grouped by spaces, commas or dots ("1 200", "1,200", "1.200" are
# 1200) or with decimals ("3,5", "3.5").
_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f\u2009,.]\d{3})+(?![\d,.]\d)|\d+(?:[.,]\d+)?")
_GROUPED = re.compile(r"^\d{1,3}(?:[ \u00a0\u202f\u2009,.]\d{3})+$")
_QUOTES = str.maketrans(
    {
        "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2039": '"', "\u203a": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-",
    }
)  # fmt: skip
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~'\"])")
_EDGES = " \t\n\"'.,;:!?-()[]*_"
MIN_VERBATIM_CHARS = 20  # shorter copies ("Yes.", "Paris") say too little to count as quotes


@dataclass(frozen=True)
class Support:
    score: float
    start: int  # the best window's offsets in the passage text
    end: int

    @property
    def supported(self) -> bool:
        return self.score >= SUPPORT_THRESHOLD


def normalise(text: str) -> str:
    """`text` as compared for a verbatim quote: Unicode-compatible forms, HTML entities and
    Markdown escapes undone, curly quotes and apostrophes straight, case and spacing folded."""
    text = html.unescape(_MD_ESCAPE.sub(r"\1", text))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return re.sub(r'\s*"\s*', '"', " ".join(text.split()))  # « infondées » and "infondées"


# Where a sentence or clause starts or ends: the text's ends, a line break, punctuation.
_CLAUSE_START = re.compile(r"(?:^|(?:[^\w\s]|_)\s*|\n\s*)$")  # "_" is Markdown's emphasis
_CLAUSE_END = re.compile(r"^(?:\s*$|\s*(?:[^\w\s]|_)|\s*\n)")


def quotes(claim: str, window: str) -> bool:
    """Whether `claim` copies `window`, or one of its sentences or clauses, word for word (see
    `normalise`): the copy starts and ends where a sentence or clause does, so a fragment
    that leaves out "not" or "unconfirmed" before it, or "only…" after it, is no quote."""
    bare = normalise(claim).strip(_EDGES)
    if len(bare) < MIN_VERBATIM_CHARS:
        return False
    text = normalise(window)
    at = text.find(bare)
    while at >= 0:
        if _CLAUSE_START.search(text[:at]) and _CLAUSE_END.match(text[at + len(bare) :]):
            return True
        at = text.find(bare, at + 1)
    return False


def sentence_windows(text: str) -> list[tuple[int, int]]:
    """Offsets of each sentence of `text` and of each pair of neighbouring sentences."""
    spans = [(s.start, s.end) for s in split_sentences(text)]
    return spans + [(a[0], b[1]) for a, b in itertools.pairwise(spans)]


def _stems(text: str) -> set[str]:
    out: set[str] = set()
    for lang in LANGUAGES:
        out.update(tokens(text, lang))
    return out


def lexical(claim: str, window: str) -> float:
    """Share of the claim's content words present in `window` (stems, or 5-letter prefixes)."""
    terms = query_terms(claim)
    if not terms:
        return 0.0
    present = _stems(window)
    prefixes = {s[:PREFIX] for s in present if len(s) >= PREFIX}
    hits = 0
    for stems in terms:
        if stems & present or any(len(s) >= PREFIX and s[:PREFIX] in prefixes for s in stems):
            hits += 1
    return hits / len(terms)


_NUMBER_WORDS = {
    "two": "2", "deux": "2", "three": "3", "trois": "3", "four": "4", "quatre": "4",
    "five": "5", "cinq": "5", "six": "6", "seven": "7", "sept": "7", "eight": "8", "huit": "8",
    "nine": "9", "neuf": "9", "ten": "10", "dix": "10", "eleven": "11", "onze": "11",
    "twelve": "12", "douze": "12", "twenty": "20", "vingt": "20", "hundred": "100",
    "cent": "100", "thousand": "1000", "mille": "1000",
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")


def _number(text: str) -> str:
    if _GROUPED.match(text):  # thousands: "1 200", "1,200", "1.200"
        return re.sub(r"\D", "", text).lstrip("0") or "0"
    whole, _, decimals = text.replace(",", ".").partition(".")
    whole = whole.lstrip("0") or "0"  # "03" is 3 (in "03/12/2024")
    decimals = decimals.rstrip("0")  # "3,50" is 3.5
    return f"{whole}.{decimals}" if decimals else whole


def _numbers(text: str) -> set[str]:
    found = {_number(n) for n in _NUMBER.findall(text)}
    found.update(_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS)
    return found


def combine(lex: float, cosine: float, claim: str, window: str) -> float:
    """The support score: weighted lexical and cosine similarity, quartered when the claim has
    a number the window lacks, cut to 35% when it has a name the window lacks (see
    `extractive.missing_names`)."""
    score = LEXICAL_WEIGHT * lex + (1 - LEXICAL_WEIGHT) * max(cosine, 0.0)
    if _numbers(claim) - _numbers(window):
        score *= 0.25
    if missing_names_in(claim, window):
        score *= 0.35
    return score


def check(claims: list[str], passages: list[list[str]], embedder: Embedder) -> list[list[Support]]:
    """`result[i][j]`: how well passage text j of `passages[i]` supports claim i.

    `passages[i]` are the texts claim i cites; all windows are embedded in one batch.
    """
    texts: list[str] = []
    layout: list[list[list[tuple[int, int, int]]]] = []  # claim → passage → (start, end, row)
    for cited in passages:
        per_claim = []
        for text in cited:
            rows = []
            for start, end in sentence_windows(text) or [(0, len(text))]:
                rows.append((start, end, len(texts)))
                texts.append(text[start:end])
            per_claim.append(rows)
        layout.append(per_claim)
    if not texts:
        return [[] for _ in claims]
    vectors = embed_queries(embedder, list(claims) + texts)  # symmetric: E5's "query: " both
    claim_vecs, window_vecs = vectors[: len(claims)], vectors[len(claims) :]
    result: list[list[Support]] = []
    for i, (claim, cited) in enumerate(zip(claims, layout, strict=True)):
        row: list[Support] = []
        for text, rows in zip(passages[i], cited, strict=True):
            best = Support(0.0, 0, 0)
            copied = [(b - a, a, b) for a, b, k in rows if quotes(claim, texts[k])]
            if copied or quotes(claim, text):  # a verbatim quote: the shortest window holding it
                _, start, end = min(copied) if copied else (0, 0, len(text))
                row.append(Support(1.0, start, end))
                continue
            for start, end, k in rows:
                window = texts[k]
                cosine = float(np.dot(claim_vecs[i], window_vecs[k]))
                score = combine(lexical(claim, window), cosine, claim, window)
                if score > best.score:
                    best = Support(round(score, 4), start, end)
            row.append(best)
        result.append(row)
    return result
