"""Typed values that flow through the corpus side: articles in, passages out."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Article:
    """One article as a loader read it, before it has an id."""

    text: str
    title: str | None = None
    date: str | None = None  # ISO date, YYYY-MM-DD
    source: str | None = None  # publication name or URL
    key: str = ""  # identifies the article within its file ("" for one-article files)


@dataclass(frozen=True)
class Passage:
    """A search result: a chunk with its document's metadata (the JSON contract's fields)."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str | None
    path: str
    text: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return asdict(self)
