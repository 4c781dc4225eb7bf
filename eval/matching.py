"""Normalised text matching for relevance judgements: case, accents, quote marks, spaces."""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({c: "'" for c in '’‘`´«»“”"‹›„'})


def normalize(text: str) -> str:
    """Lower-case, accents and quote styles removed, runs of any space folded to one."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_QUOTES)
    text = re.sub(r"\s*'\s*", "'", text)  # « infondées », "infondées", ‘infondées’ alike
    return re.sub(r"\s+", " ", text).strip()


def contains(passage: str, evidence: str) -> bool:
    """Does `passage` contain `evidence` once both are normalised?"""
    return normalize(evidence) in normalize(passage)
