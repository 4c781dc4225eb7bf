"""The evaluation metrics on hand-computed cases, edge cases and a few properties (no model)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.metrics import (
    citation_precision,
    citation_recall,
    contains_answer,
    declining,
    document_relevance,
    evidence_recall_at,
    exact_match,
    hit_at,
    latency_summary,
    mean,
    mrr_at,
    ndcg_at,
    normalize_answer,
    passage_relevance,
    percentile,
    recall_at,
    token_f1,
)

# Relevant at ranks 2 and 5 of 10.
RANKED = [False, True, False, False, True, False, False, False, False, False]


# --- retrieval -----------------------------------------------------------------------------


def test_hit_at():
    assert hit_at(RANKED, 1) == 0.0  # rank 1 is not relevant
    assert hit_at(RANKED, 2) == 1.0
    assert hit_at(RANKED, 5) == 1.0
    assert hit_at([], 5) == 0.0
    assert hit_at([False, True], 10) == 1.0  # k larger than the list
    with pytest.raises(ValueError):
        hit_at(RANKED, 0)


def test_recall_at():
    # top 5 holds ranks 2 and 5: 2 found / 3 relevant = 0.6667
    assert recall_at(RANKED, 5, 3) == pytest.approx(2 / 3)
    # top 2 holds rank 2: 1 / 3
    assert recall_at(RANKED, 2, 3) == pytest.approx(1 / 3)
    # n_relevant None: the relevant items of the whole ranking, 2 → top 2 finds 1 / 2
    assert recall_at(RANKED, 2) == 0.5
    # n_relevant below what the ranking shows is raised to it: 2 / max(1, 2) = 1
    assert recall_at(RANKED, 10, 1) == 1.0
    assert recall_at([False, False], 5, 2) == 0.0  # relevant items exist, none found
    assert recall_at([False, False], 5) is None  # nothing relevant known
    assert recall_at([], 5, 0) is None
    assert recall_at([True], 10, 1) == 1.0  # k larger than the list


def test_mrr_at():
    assert mrr_at(RANKED, 10) == 0.5  # first relevant at rank 2: 1/2
    assert mrr_at(RANKED, 1) == 0.0  # not within k
    assert mrr_at([False] * 4 + [True], 10) == 0.2  # rank 5: 1/5
    assert mrr_at([], 10) == 0.0
    assert mrr_at([False, False], 10) == 0.0


def test_ndcg_at_hand_computed():
    # DCG = 1/log2(3) + 1/log2(6) = 0.6309 + 0.3869 = 1.0178
    # IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.6309 + 0.5 = 2.1309
    # nDCG = 1.0178 / 2.1309 = 0.4777
    assert ndcg_at(RANKED, 10, 3) == pytest.approx(0.4777, abs=1e-4)
    # n_relevant None: the 2 relevant of the ranking → IDCG = 1 + 0.6309 = 1.6309
    # nDCG = 1.0178 / 1.6309 = 0.6241
    assert ndcg_at(RANKED, 10) == pytest.approx(0.6241, abs=1e-4)
    # k = 3: DCG = 0.6309; IDCG from min(3, 3) items = 2.1309 → 0.2961
    assert ndcg_at(RANKED, 3, 3) == pytest.approx(0.2961, abs=1e-4)
    # k = 2 with 3 relevant: IDCG over min(3, 2) = 2 ranks = 1.6309; DCG = 0.6309 → 0.3869
    assert ndcg_at(RANKED, 2, 3) == pytest.approx(0.3869, abs=1e-4)


def test_ndcg_at_edges():
    assert ndcg_at([True, True], 10, 2) == 1.0  # ideal ranking, k larger than the list
    assert ndcg_at([False, False], 10, 1) == 0.0  # a relevant item exists, not retrieved
    assert ndcg_at([False, False], 10) is None  # nothing relevant known: IDCG = 0
    assert ndcg_at([], 10, 0) is None
    # ideal DCG from the relevant items, not from k: one relevant at rank 1 is perfect at k=10
    assert ndcg_at([True] + [False] * 9, 10, 1) == 1.0


def test_passage_relevance_normalises_case_accents_quotes_spaces():
    passages = [
        "Le ministère a démenti.",
        "Il a été arrêté pour des ACCUSATIONS D'ESPIONNAGE,\n selon Paris.",
        "Rien à voir.",
        "Les normes   diplomatiques ont été « bafouées ».",
    ]
    evidence = ["accusations d’espionnage", "NORMES diplomatiques ont ete"]
    assert passage_relevance(passages, evidence) == [False, True, False, True]
    assert passage_relevance(passages, []) == [False] * 4
    assert passage_relevance(passages, ["  "]) == [False] * 4  # blank evidence is ignored
    assert passage_relevance([], evidence) == []


def test_evidence_recall_at():
    passages = ["alpha beta", "gamma", "delta epsilon"]
    # top 1 holds "Alpha" only: 1 of 3 evidence strings
    assert evidence_recall_at(passages, ["Alpha", "gamma", "epsilon"], 1) == pytest.approx(1 / 3)
    # top 2: alpha, gamma → 2 / 3
    assert evidence_recall_at(passages, ["Alpha", "gamma", "epsilon"], 2) == pytest.approx(2 / 3)
    assert evidence_recall_at(passages, ["Alpha", "gamma", "epsilon"], 10) == 1.0
    # the same evidence twice (up to case) counts once; blank ignored: 1 of {"alpha", "zeta"}
    assert evidence_recall_at(passages, ["alpha", "ALPHA", "", "zeta"], 5) == 0.5
    assert evidence_recall_at(passages, [], 5) is None
    assert evidence_recall_at([], ["alpha"], 5) == 0.0


def test_document_relevance_dedupes_and_compares_basenames():
    ranking = [
        "corpus/2025-09-19-france-mali.txt",
        "corpus/2025-09-19-france-mali.txt",  # same document again: dropped
        "corpus/other.txt",
        "abc123",  # a doc id
        "corpus/France-Mali.txt",  # case differs: not relevant
    ]
    sources = ["2025-09-19-france-mali.txt", "abc123"]
    assert document_relevance(ranking, sources) == [True, False, True, False]
    # (path, doc_id) pairs: relevant through either name; a source given as a path
    pairs = [("news/a.json", "d1"), ("news/a.json", "d1"), ("news/b.json", "d2")]
    assert document_relevance(pairs, ["d2"]) == [False, True]
    assert document_relevance(pairs, ["x/a.json"]) == [True, False]
    assert document_relevance([], sources) == []
    # the document-level metrics on the deduplicated ranking: first relevant at rank 2
    assert mrr_at(document_relevance(["b.txt", "b.txt", "a.txt"], ["a.txt"]), 10) == 0.5


# --- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L’accusation d’espionnage", "accusation espionnage"),
        ("les normes diplomatiques", "normes diplomatiques"),
        ("The French Authorities!", "french authorities"),
        ("  Qu’il s'en aille,  n’est-ce pas ? ", "il en aille est ce pas"),
        ("« Été »", "ete"),
        ("an apple, a pear", "apple pear"),
        ("du pain et de l'eau", "pain et eau"),
        ("jusqu’à demain", "jusqu demain"),  # jusqu' is not an elision listed; "à" → "a" goes
        ("", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match():
    assert exact_match("L’accusation d’espionnage", ["accusation espionnage"]) == 1.0
    assert exact_match("les normes diplomatiques", ["normes diplomatiques"]) == 1.0
    assert exact_match("espionage", ["espionnage", "Espionage."]) == 1.0  # max over answers
    assert exact_match("spying", ["espionage"]) == 0.0
    assert exact_match("anything", []) is None


def test_token_f1():
    # prediction "french authorities said" (3 tokens), answer "french authorities" (2):
    # common 2; P = 2/3, R = 2/2; F1 = 2·(2/3)·1 / (2/3 + 1) = (4/3) / (5/3) = 0.8
    assert token_f1("The French authorities said", ["French authorities"]) == pytest.approx(0.8)
    # max over answers: "august" vs "August" is 1.0
    assert token_f1("August", ["in August", "August"]) == 1.0
    # "in august" vs "august": common 1; P = 1/2, R = 1 → F1 = 1 / 1.5 = 0.6667
    assert token_f1("in August", ["August"]) == pytest.approx(2 / 3)
    # repeated tokens count as a multiset: "x x y" vs "x y":
    # common = min(2, 1) + min(1, 1) = 2; P = 2/3, R = 2/2 = 1 → F1 = (4/3) / (5/3) = 0.8
    assert token_f1("x x y", ["x y"]) == pytest.approx(0.8)
    assert token_f1("nothing shared", ["espionage"]) == 0.0
    assert token_f1("the", ["a"]) == 1.0  # both empty after normalising
    assert token_f1("the", ["espionage"]) == 0.0
    assert token_f1("anything", []) is None


def test_contains_answer():
    answer = "Il a été arrêté pour des accusations d’espionnage, selon Paris."
    assert contains_answer(answer, ["accusations d'espionnage"]) == 1.0
    assert contains_answer(answer, ["spying", "espionnage"]) == 1.0
    assert contains_answer(answer, ["espion"]) == 0.0  # token boundaries: not a prefix
    assert contains_answer("August", ["in August"]) == 0.0
    assert contains_answer("anything", ["the"]) == 0.0  # an answer normalising to nothing
    assert contains_answer("anything", []) is None


# --- citations -----------------------------------------------------------------------------


def test_citation_recall():
    from app.assistant import ClaimCheck

    claims = [
        ClaimCheck("Paris expelled diplomats.", (1,), True),
        ClaimCheck("The agent was freed.", (2,), False),
        ClaimCheck("Bamako denied it.", (), False),  # cites nothing: not supported
        ClaimCheck("Here is what they say:", (), None),  # states nothing: left out
        ClaimCheck("Mali protested.", (1, 3), True),
    ]
    # supported 2 of the 4 that state something: 0.5
    assert citation_recall(claims) == 0.5
    assert citation_recall([True, None, False]) == 0.5  # plain `supported` values
    assert citation_recall([ClaimCheck("The articles don't say.", (), None)]) is None
    assert citation_recall([]) is None


def test_citation_precision():
    # claim 1 cites 2 passages, one supports; claim 2 cites 1, it supports; claim 3 cites none
    # supported pairs 1 + 1 = 2 of 3 pairs: 0.6667
    assert citation_precision([[True, False], [True], []]) == pytest.approx(2 / 3)
    assert citation_precision([[False]]) == 0.0
    assert citation_precision([[], []]) is None
    assert citation_precision([]) is None


# --- declining -----------------------------------------------------------------------------


def test_declining():
    expected = [True, True, True, True, False, False, False]
    predicted = [True, True, False, True, False, False, True]
    # declined: indices 2, 4, 5 → 3; should decline: 4, 5, 6 → 3; both: 4, 5 → 2
    # precision 2/3, recall 2/3; wrongly declined: index 2 of 4 answerable → 1/4
    result = declining(expected, predicted)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["wrongly_declined"] == 0.25


def test_declining_edges():
    # never declines, all answerable: no declines to score, nothing to decline
    assert declining([True, True], [True, True]) == {
        "precision": None,
        "recall": None,
        "wrongly_declined": 0.0,
    }
    # all unanswerable, all declined
    assert declining([False], [False]) == {
        "precision": 1.0,
        "recall": 1.0,
        "wrongly_declined": None,
    }
    assert declining([], []) == {"precision": None, "recall": None, "wrongly_declined": None}
    with pytest.raises(ValueError):
        declining([True], [True, False])


# --- latency and averages ------------------------------------------------------------------


def test_percentile_nearest_rank():
    values = [15, 20, 35, 40, 50]
    # p30: rank ⌈0.30·5⌉ = ⌈1.5⌉ = 2 → 20; p40: ⌈2.0⌉ = 2 → 20; p50: ⌈2.5⌉ = 3 → 35
    assert percentile(values, 30) == 20
    assert percentile(values, 40) == 20
    assert percentile(values, 50) == 35
    assert percentile(values, 100) == 50
    assert percentile(values, 0) == 15  # rank at least 1
    assert percentile([50, 15, 40, 20, 35], 50) == 35  # sorted first
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_latency_summary():
    timings = [
        {"retrieve": r, "generate": g, "total": r + g + 1, "prepare": 1}
        for r, g in zip(range(10, 210, 10), range(1, 21), strict=True)
    ]  # 20 answers: retrieve 10..200, generate 1..20, total r + g + 1
    # p50: rank ⌈0.5·20⌉ = 10; p95: rank ⌈0.95·20⌉ = 19
    assert latency_summary(timings) == {
        "retrieve_p50": 100,
        "retrieve_p95": 190,
        "generate_p50": 10,
        "generate_p95": 19,
        "total_p50": 111,  # totals are 12, 23, …, 11·i + 1: the 10th is 111
        "total_p95": 210,  # the 19th: 11·19 + 1
    }
    assert latency_summary([]) == dict.fromkeys(
        ["retrieve_p50", "retrieve_p95", "generate_p50", "generate_p95", "total_p50", "total_p95"]
    )
    # a missing timing is skipped
    assert latency_summary([{"retrieve": 5}, {"retrieve": 7, "total": 9}])["total_p50"] == 9


def test_mean():
    assert mean([1.0, None, 0.0, 0.5]) == 0.5  # (1 + 0 + 0.5) / 3
    assert mean([None, None]) is None
    assert mean([]) is None


# --- properties ----------------------------------------------------------------------------

rankings = st.lists(st.booleans(), max_size=30)
words = st.sampled_from(["the", "l’", "Été", "espionnage", "Paris", "a", "de", "agent", "x", ","])
phrases = st.lists(words, max_size=8).map(" ".join)


@given(rankings, st.integers(1, 40), st.integers(0, 40))
def test_ranking_metrics_in_unit_interval(relevant, k, n_relevant):
    for value in (
        ndcg_at(relevant, k, n_relevant),
        recall_at(relevant, k, n_relevant),
        mrr_at(relevant, k),
        hit_at(relevant, k),
    ):
        assert value is None or 0.0 <= value <= 1.0 + 1e-12
    if any(relevant[:k]):
        assert hit_at(relevant, k) == 1.0
        assert mrr_at(relevant, k) > 0


@given(st.integers(1, 20), st.integers(1, 20))
def test_ideal_ranking_scores_one(n, k):
    assert math.isclose(ndcg_at([True] * n + [False] * 5, k, n), 1.0)


@given(phrases, phrases)
def test_token_f1_symmetric_and_bounded(a, b):
    assert token_f1(a, [b]) == pytest.approx(token_f1(b, [a]))
    assert 0.0 <= token_f1(a, [b]) <= 1.0


@given(phrases, st.lists(phrases, min_size=1, max_size=3))
def test_exact_match_implies_full_f1_and_containment(prediction, answers):
    if exact_match(prediction, answers) == 1.0:
        assert token_f1(prediction, answers) == 1.0
        if normalize_answer(prediction):
            assert contains_answer(prediction, answers) == 1.0


@given(phrases)
def test_normalize_answer_idempotent(text):
    once = normalize_answer(text)
    assert normalize_answer(once) == once
