"""Fusing the dense and keyword result lists into one ranking.

Methods (`FusionMethod`), each taking the two lists best-first with their raw scores:

- DENSE, KEYWORD: one side alone (for measurement).
- RRF: reciprocal rank fusion, score = Σ 1 / (k + rank), k = 60 (Cormack et al., 2009).
- WEIGHTED: score = w · cos + (1 − w) · bm25 / max_bm25, where cos is the dense cosine
  similarity and max_bm25 the best keyword score for this query.
- MINMAX: score = w · (cos − min_cos) / (max_cos − min_cos) + (1 − w) · bm25 / max_bm25 over
  the query's candidates: the dense side spread over [0, 1] as the keyword side is, for models
  whose cosines crowd into a narrow band (E5's lie between 0.7 and 0.9, where a raw 0.05 is
  all the difference between the best passage and an unrelated one).

- ZSCORE: score = w · z(cos) + (1 − w) · z(bm25), each side standardised over the query's
  candidates (mean 0, standard deviation 1): neither side's scale nor its crowding matters.

The dense weight can follow the question (`dense_weight`): more to the dense side when the
best keyword hit holds few of the question's words, or when the question is in another
language than the passages it matches best.

The defaults, per embedding model (`fusion_for`), were chosen on the dev halves of two French
known-item sets and a news question set, and checked on their held-out halves
(eval/known_item_study.py, eval/fusion_study.py; the table is in docs/multilingual.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import ConfigError


class FusionMethod(StrEnum):
    DENSE = "dense"
    KEYWORD = "keyword"
    RRF = "rrf"
    WEIGHTED = "weighted"
    MINMAX = "minmax"
    ZSCORE = "zscore"

    @classmethod
    def parse(cls, value: str) -> FusionMethod:
        try:
            return cls(value.lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ConfigError(f"Unknown fusion method {value!r}; use one of: {valid}.") from None


RRF_K = 60  # Cormack, Clarke & Büttcher (2009): k = 60 works well across collections.


@dataclass(frozen=True)
class Fusion:
    """How to rank, and the relevance floor a passage must pass to be returned at all.

    Defaults (for MiniLM; `MODEL_FUSIONS` has E5's): z-score fusion with w = 0.3, and 0.7
    for a question whose best keyword hit holds under a third of its content words. Of the
    settings that lost to neither side alone on any dev half of the known-item and news
    sets, it had the best mean MRR@10 there (docs/multilingual.md). The floor keeps a
    passage when its cosine similarity is at least 0.2 or it holds at least half the
    question's content words: it cuts the passages returned for unanswerable questions from
    5 to about 2.5.
    """

    method: FusionMethod = FusionMethod.ZSCORE
    dense_weight: float = 0.3
    min_similarity: float = 0.2
    min_coverage: float = 0.5
    # When the best keyword hit holds less than `weak_keyword_below` of the question's content
    # words (a question in another language than the passages, where BM25 only meets names
    # and borrowed words), the dense side gets this weight instead; None: always dense_weight.
    weak_keyword_weight: float | None = 0.7
    weak_keyword_below: float = 0.34
    # When the question is in another language than the best dense match (an English question
    # about French articles), the dense side gets this weight; None: no such rule.
    cross_lingual_weight: float | None = None

    def passes(self, similarity: float, coverage: float) -> bool:
        return similarity >= self.min_similarity or coverage >= self.min_coverage


NO_FLOOR = {"min_similarity": -1.0, "min_coverage": 0.0}


@dataclass(frozen=True)
class Candidate:
    """A chunk either side found, with both sides' scores (each side scores every candidate)."""

    chunk_id: str
    dense: float  # cosine similarity to the query
    keyword: float  # raw BM25 score (0 when no query term occurs)


def _ranks(values: dict[str, float]) -> dict[str, int]:
    order = sorted(values, key=lambda c: -values[c])
    return {c: r for r, c in enumerate(order, 1)}


def _zscores(values: dict[str, float]) -> dict[str, float]:
    n = len(values)
    mean = sum(values.values()) / n if n else 0.0
    sd = (sum((v - mean) ** 2 for v in values.values()) / n) ** 0.5 if n else 0.0
    return {c: (v - mean) / sd if sd > 0 else 0.0 for c, v in values.items()}


def dense_weight(fusion: Fusion, keyword_cover: float = 1.0, cross_lingual: bool = False) -> float:
    """The dense side's weight for one question: `weak_keyword_weight` when its best keyword
    hit holds less than `weak_keyword_below` of its content words, else `cross_lingual_weight`
    when it is in another language than its best dense match, else `dense_weight`."""
    if fusion.weak_keyword_weight is not None and keyword_cover < fusion.weak_keyword_below:
        return fusion.weak_keyword_weight
    if fusion.cross_lingual_weight is not None and cross_lingual:
        return fusion.cross_lingual_weight
    return fusion.dense_weight


def fuse(
    candidates: list[Candidate],
    fusion: Fusion,
    keyword_cover: float = 1.0,
    cross_lingual: bool = False,
) -> list[tuple[Candidate, float]]:
    """Candidates with their fused score, best first (ties keep the candidates' order).
    `keyword_cover`: the share of the question's content words in the best keyword hit;
    `cross_lingual`: the question is in another language than the best dense match."""
    dense = {c.chunk_id: c.dense for c in candidates}
    keyword = {c.chunk_id: c.keyword for c in candidates}
    method = fusion.method
    if method is FusionMethod.DENSE:
        scores = dense
    elif method is FusionMethod.KEYWORD:
        scores = {c: s for c, s in keyword.items() if s > 0}
    elif method is FusionMethod.RRF:
        dense_rank = _ranks(dense)
        kw_rank = _ranks({c: s for c, s in keyword.items() if s > 0})
        scores = {
            c: 1.0 / (RRF_K + dense_rank[c]) + (1.0 / (RRF_K + kw_rank[c]) if c in kw_rank else 0)
            for c in dense
        }
    else:
        w = dense_weight(fusion, keyword_cover, cross_lingual)
        if method is FusionMethod.ZSCORE:
            side, kw_side = _zscores(dense), _zscores(keyword)
        else:
            top_kw = max(keyword.values(), default=0.0)
            kw_side = {c: v / top_kw if top_kw > 0 else 0.0 for c, v in keyword.items()}
            if method is FusionMethod.MINMAX:
                low, high = min(dense.values(), default=0.0), max(dense.values(), default=0.0)
                spread = high - low
                side = {c: (v - low) / spread if spread > 0 else 1.0 for c, v in dense.items()}
            else:
                side = dense
        scores = {c: w * side[c] + (1 - w) * kw_side[c] for c in dense}
    ranked = sorted(
        (c for c in candidates if c.chunk_id in scores), key=lambda c: -scores[c.chunk_id]
    )
    return [(c, scores[c.chunk_id]) for c in ranked]


DEFAULT_FUSION = Fusion()
# Per embedding model (matched in its name, case-insensitively). E5's cosines crowd between
# 0.7 and 0.9, so its relevance floor sits at 0.78 where MiniLM's is 0.2; its dense side is
# good across languages, so a cross-lingual question leans on it (docs/multilingual.md).
MODEL_FUSIONS: tuple[tuple[re.Pattern[str], Fusion], ...] = (
    (
        re.compile(r"multilingual-e5", re.IGNORECASE),
        Fusion(weak_keyword_weight=0.9, cross_lingual_weight=0.7, min_similarity=0.78),
    ),
)


def fusion_for(model: str) -> Fusion:
    """The default fusion for the embedding model named `model` (a name or a path)."""
    for pattern, fusion in MODEL_FUSIONS:
        if pattern.search(model):
            return fusion
    return DEFAULT_FUSION
