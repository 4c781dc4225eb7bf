"""Evaluation metrics: small pure functions, each with its formula, no I/O and no model.

Retrieval metrics take `relevant`, a ranked list of booleans (`relevant[i]`: is the item at
rank i + 1 relevant); `passage_relevance` and `document_relevance` build it from a question's
`evidence` and `sources`. Answer metrics compare a prediction with a question's `answers`
under `normalize_answer` (French and English). Citation metrics follow ALCE (Gao et al., 2023)
with the support check of the answering code (`app.support`), so the UI and the evaluation
agree. Per-question scores are averaged with `mean`, which skips the `None` of questions a
metric cannot score.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .matching import contains, normalize

# --- retrieval -----------------------------------------------------------------------------


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def _known_relevant(relevant: Sequence[bool], n_relevant: int | None) -> int:
    """How many relevant items there are: `n_relevant`, never fewer than the ranking shows."""
    found = sum(1 for r in relevant if r)
    return found if n_relevant is None else max(n_relevant, found)


def hit_at(relevant: Sequence[bool], k: int) -> float:
    """hit@k = 1 if some item among the top k is relevant, else 0.

    An empty ranking, or one shorter than k with nothing relevant, scores 0.
    """
    _check_k(k)
    return 1.0 if any(relevant[:k]) else 0.0


def recall_at(relevant: Sequence[bool], k: int, n_relevant: int | None = None) -> float | None:
    """recall@k = (relevant items in the top k) / n_relevant.

    `n_relevant` is the number of relevant items for the question: for documents, the number of
    distinct `sources`; when None, the relevant items in the whole of `relevant` (e.g. among all
    retrieved candidates). It is never taken as fewer than the relevant items `relevant` holds.
    None when there is no relevant item to find (n_relevant = 0). For passages, where the
    relevant passages of the collection are not known, prefer `evidence_recall_at`.
    """
    _check_k(k)
    n = _known_relevant(relevant, n_relevant)
    if n == 0:
        return None
    return sum(1 for r in relevant[:k] if r) / n


def mrr_at(relevant: Sequence[bool], k: int) -> float:
    """RR@k = 1 / rank of the first relevant item if its rank ≤ k, else 0 (ranks from 1).

    MRR@k is the `mean` of this over the questions.
    """
    _check_k(k)
    for rank, rel in enumerate(relevant[:k], start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at(relevant: Sequence[bool], k: int, n_relevant: int | None = None) -> float | None:
    """nDCG@k with binary gains: DCG@k / IDCG@k.

    DCG@k = Σ_{i=1..k} rel_i / log2(i + 1) over the ranked items (rel_i ∈ {0, 1});
    IDCG@k = Σ_{i=1..min(n_relevant, k)} 1 / log2(i + 1): the DCG of a ranking with all the
    relevant items first, computed from the relevant items, not from k.

    `n_relevant` as in `recall_at`: the number of relevant items known for the question (for
    documents, the distinct `sources`; when None, the relevant items in the whole of `relevant`,
    e.g. among all retrieved candidates), never fewer than `relevant` holds, so 0 ≤ nDCG ≤ 1.
    None when there is no relevant item (IDCG = 0).
    """
    _check_k(k)
    n = _known_relevant(relevant, n_relevant)
    if n == 0:
        return None
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevant[:k], start=1) if rel)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(n, k) + 1))
    return dcg / idcg


def _evidence(evidence: Iterable[str]) -> list[str]:
    """The evidence strings that say something, one per normalised form, in order."""
    seen: dict[str, str] = {}
    for e in evidence:
        key = normalize(e)
        if key and key not in seen:
            seen[key] = e
    return list(seen.values())


def passage_relevance(passage_texts: Sequence[str], evidence: Iterable[str]) -> list[bool]:
    """relevant[i] = passage i contains at least one evidence string, both normalised by
    `eval.matching.normalize` (case, accents, quote marks, whitespace).

    Blank evidence strings are ignored (they would make every passage relevant).
    """
    wanted = _evidence(evidence)
    return [any(contains(text, e) for e in wanted) for text in passage_texts]


def evidence_recall_at(
    passage_texts: Sequence[str], evidence: Iterable[str], k: int
) -> float | None:
    """Passage-level recall@k = (evidence strings contained in at least one of the top-k
    passages) / (evidence strings).

    The evidence strings are counted once per normalised form, blank ones ignored; None when
    the question has no evidence.
    """
    _check_k(k)
    wanted = _evidence(evidence)
    if not wanted:
        return None
    top = passage_texts[:k]
    return sum(1 for e in wanted if any(contains(text, e) for text in top)) / len(wanted)


def _basename(name: str) -> str:
    return re.split(r"[\\/]", name)[-1]


def document_relevance(
    documents: Sequence[str | Sequence[str]], sources: Iterable[str]
) -> list[bool]:
    """One boolean per distinct document of the ranking: is it one of `sources`?

    Each item of `documents` names the document of a retrieved passage, best first: a path or
    a doc id, or a tuple of both (e.g. `(passage.path, passage.doc_id)`). A document is
    relevant when one of its names, or that name's file name (basename of the path), equals a
    source or a source's file name; comparison is case-sensitive.

    The ranking is deduplicated first: a document's later passages are dropped, keeping its
    first (best) occurrence, so it counts once in the document-level hit, recall, MRR and
    nDCG, and the result can be shorter than `documents`.
    """
    wanted = set()
    for s in sources:
        wanted.update({s, _basename(s)})
    seen: set[Any] = set()
    out = []
    for doc in documents:
        names = (doc,) if isinstance(doc, str) else tuple(doc)
        if names in seen:
            continue
        seen.add(names)
        out.append(any(n in wanted or _basename(n) in wanted for n in names))
    return out


# --- answers -------------------------------------------------------------------------------

_ELISION = re.compile(r"\b(?:qu|[ldjnscmt])'")
_NON_WORD = re.compile(r"[\W_]+")
ARTICLES = frozenset(
    {"a", "an", "the", "le", "la", "les", "un", "une", "des", "du", "de"}
)  # d' and l' go with the elisions


def normalize_answer(text: str) -> str:
    """A short answer in comparable form, for French and English.

    Case folded, accents removed, quote marks unified (`eval.matching.normalize`); elisions
    l' d' j' qu' n' s' c' m' t' removed (’ or '); punctuation to spaces; articles removed
    (en: a, an, the; fr: le, la, les, un, une, des, du, de; note that "à" becomes "a" and goes
    too); whitespace folded to single spaces.
    "L’accusation d’espionnage" → "accusation espionnage".
    """
    text = _ELISION.sub(" ", normalize(text))
    return " ".join(t for t in _NON_WORD.sub(" ", text).split() if t not in ARTICLES)


def exact_match(prediction: str, answers: Iterable[str]) -> float | None:
    """EM = max over answers a of [normalize_answer(prediction) == normalize_answer(a)], as
    1.0 or 0.0; None when there is no answer to compare with."""
    answers = list(answers)
    if not answers:
        return None
    pred = normalize_answer(prediction)
    return 1.0 if any(pred == normalize_answer(a) for a in answers) else 0.0


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return 1.0 if pred == gold else 0.0
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Iterable[str]) -> float | None:
    """SQuAD token F1, max over answers, on the tokens of `normalize_answer`.

    common = |tokens(prediction) ∩ tokens(answer)| as multisets; P = common / |prediction|,
    R = common / |answer|, F1 = 2PR / (P + R), 0 when common = 0; when either side has no
    token, F1 = 1 if both are empty else 0. None when there is no answer to compare with.
    """
    answers = list(answers)
    if not answers:
        return None
    pred = normalize_answer(prediction).split()
    return max(_f1(pred, normalize_answer(a).split()) for a in answers)


def contains_answer(prediction: str, answers: Iterable[str]) -> float | None:
    """1.0 if some normalised answer occurs in the normalised prediction on token boundaries
    (" " + answer + " " in " " + prediction + " "), else 0.0.

    Answers that normalise to nothing are skipped; None when there is no answer to compare
    with.
    """
    answers = list(answers)
    if not answers:
        return None
    pred = f" {normalize_answer(prediction)} "
    for a in answers:
        norm = normalize_answer(a)
        if norm and f" {norm} " in pred:
            return 1.0
    return 0.0


# --- citations (ALCE) ----------------------------------------------------------------------


def citation_recall(claims: Iterable[Any]) -> float | None:
    """Citation recall = (claims whose citations support them) / (claims that state
    something).

    `claims` are `app.assistant.ClaimCheck`s (or their `supported` values): `supported` True
    counts as supported, False (including a statement citing nothing) as not, None (a decline,
    a lead-in) is left out. None when no claim states anything.
    """
    values = [c if c is None or isinstance(c, bool) else c.supported for c in claims]
    scored = [v for v in values if v is not None]
    if not scored:
        return None
    return sum(1 for v in scored if v) / len(scored)


def citation_precision(citations_per_claim: Iterable[Iterable[bool]]) -> float | None:
    """Citation precision = (claim–cited passage pairs where the passage supports the claim) /
    (claim–cited passage pairs).

    `citations_per_claim[i][j]`: does the j-th passage claim i cites support it; fill it from
    `app.support.check(claims, cited_texts, embedder)` as `[[s.supported for s in row] for row
    in result]` (score ≥ SUPPORT_THRESHOLD). A simplification of ALCE, which also credits a
    citation that only supports the claim together with the others. None when nothing is cited.
    """
    pairs = [bool(s) for row in citations_per_claim for s in row]
    if not pairs:
        return None
    return sum(pairs) / len(pairs)


_DIGITS = re.compile(r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+(?![\d,.]\d)|\d+(?:[.,]\d+)?")


def _digit_values(text: str) -> set[str]:
    """The numbers of `text`: thousands separators dropped ("1 200", "1,200" and "1.200" are
    1200), a decimal comma read as a point ("3,5" is 3.5), leading zeros dropped."""
    values = set()
    for n in _DIGITS.findall(text):
        if re.fullmatch(r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+", n):
            values.add(re.sub(r"\D", "", n).lstrip("0") or "0")
        else:
            whole, _, decimals = n.replace(",", ".").partition(".")
            decimals = decimals.rstrip("0")
            values.add((whole.lstrip("0") or "0") + (f".{decimals}" if decimals else ""))
    return values


def confirmed(claim: str, cited: Sequence[str], majority: float = 0.5) -> bool | None:
    """The stricter, embedding-free check of a claim shown as supported: more than `majority`
    of its content words (stemmed in French and English; a cognate by its first five letters)
    are in the passages it cites, and every number it gives is there. None when the claim has
    no content word to check.

    Independent of `app.support` (which also weighs the cosine of the two texts and would
    accept a paraphrase sharing few words): it asks whether the claim's own words rest on the
    passage, which is what a reader checks."""
    from index.text import LANGUAGES, query_terms, tokens

    claim = _MARKERS_RE.sub("", claim)
    terms = query_terms(claim)
    if not terms:
        return None
    reference = "\n".join(cited)
    present = {s for lang in LANGUAGES for s in tokens(reference, lang)}
    prefixes = {s[:5] for s in present if len(s) >= 5}
    hits = sum(
        1
        for stems in terms
        if stems & present or any(s[:5] in prefixes for s in stems if len(s) >= 5)
    )
    return hits / len(terms) > majority and _digit_values(claim) <= _digit_values(reference)


_MARKERS_RE = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


# --- declining -----------------------------------------------------------------------------


def declining(
    expected_answerable: Sequence[bool], predicted_answerable: Sequence[bool]
) -> dict[str, float | None]:
    """How well the system declines, over a set; "decline" is the class answerable = False.

    precision = (declined and should decline) / declined;
    recall = (declined and should decline) / should decline;
    wrongly_declined = (declined and answerable) / answerable.
    Each is None when its denominator is 0.
    """
    if len(expected_answerable) != len(predicted_answerable):
        raise ValueError(
            f"{len(expected_answerable)} expected values but {len(predicted_answerable)} predicted"
        )
    pairs = list(zip(expected_answerable, predicted_answerable, strict=True))
    declined = sum(1 for _, p in pairs if not p)
    should = sum(1 for e, _ in pairs if not e)
    answerable = len(pairs) - should
    right = sum(1 for e, p in pairs if not e and not p)
    wrong = sum(1 for e, p in pairs if e and not p)
    return {
        "precision": right / declined if declined else None,
        "recall": right / should if should else None,
        "wrongly_declined": wrong / answerable if answerable else None,
    }


# --- latency and averages ------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile: the value at rank ⌈q/100 · n⌉ (at least 1) of the n sorted
    values, so always one of the values. q in [0, 100]; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, not {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(timings: Iterable[Mapping[str, float]]) -> dict[str, float | None]:
    """p50 and p95 (`percentile`, nearest rank) of the "retrieve", "generate" and "total"
    timings (ms) of the answers (`Answer.timings_ms`); a missing or None timing is skipped,
    a step with no timing gives None."""
    timings = list(timings)
    out: dict[str, float | None] = {}
    for step in ("retrieve", "generate", "total"):
        values = [t[step] for t in timings if t.get(step) is not None]
        out[f"{step}_p50"] = percentile(values, 50)
        out[f"{step}_p95"] = percentile(values, 95)
    return out


def mean(values: Iterable[float | None]) -> float | None:
    """Arithmetic mean Σ v / n over the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
