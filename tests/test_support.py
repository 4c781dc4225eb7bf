"""The support check of cited sentences: paraphrases of the sample article pass, in English and
French; invented details (numbers, names, events) do not."""

from __future__ import annotations

import html
import json
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.support import _EDGES as QUOTE_EDGES
from app.support import (
    MIN_VERBATIM_CHARS,
    SUPPORT_THRESHOLD,
    check,
    lexical,
    normalise,
    quotes,
    sentence_windows,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
PAIRS = [
    json.loads(line)
    for line in (ROOT / "tests" / "data" / "support_pairs.jsonl").read_text("utf-8").splitlines()
]


@pytest.fixture(scope="module")
def article_chunks(sample_index):
    return [c.text for c in sample_index.store.iter_all()]


def best(claim: str, chunks: list[str], embedder) -> float:
    return max(s.score for s in check([claim], [chunks], embedder)[0])


def test_support_separates_paraphrases_from_inventions(article_chunks, embedder):
    verdicts = [
        (pair, best(pair["claim"], article_chunks, embedder) >= SUPPORT_THRESHOLD) for pair in PAIRS
    ]
    wrong = [(p["claim"], p["supported"]) for p, ok in verdicts if ok != p["supported"]]
    # Two known misses (an invented release "mardi", an invented apology) out of 32.
    assert len(wrong) <= 2, wrong
    assert all(ok for p, ok in verdicts if p["supported"]), "no true paraphrase is flagged"


def test_an_invented_number_or_name_is_not_supported(article_chunks, embedder):
    for claim in (
        "Ten Malian diplomats were declared persona non grata.",
        "Two Malian diplomats were declared persona non grata by Germany.",
    ):
        assert best(claim, article_chunks, embedder) < SUPPORT_THRESHOLD, claim
    ok = "Two Malian diplomats were declared persona non grata."
    assert best(ok, article_chunks, embedder) >= SUPPORT_THRESHOLD


def test_the_best_window_is_where_the_claim_comes_from(article_chunks, embedder):
    chunk = next(c for c in article_chunks if "espionnage" in c)
    claim = "accusations d’espionnage jugées infondées par Paris"
    (support,) = check([claim], [[chunk]], embedder)[0]
    assert "espionnage" in chunk[support.start : support.end]


def test_windows_and_lexical_overlap():
    text = "First one here. Second one there. Third."
    assert sentence_windows(text)[:3] == [(0, 15), (16, 33), (34, 40)]
    assert (0, 33) in sentence_windows(text)
    assert lexical("espionage accusations", "accusations d’espionnage") == 1.0
    assert lexical("zebra crossing", "accusations d’espionnage") == 0.0


# -- verbatim quotes: any sentence copied out of a passage is supported by it ------------------
_WORDS = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyzéèàçôûABCDEFGMPRS0123456789")
        + list("<>&\"'’«»/=%$€-*_`#[]()")
    ),
    min_size=1,
    max_size=12,
)
_SENTENCE = st.lists(_WORDS, min_size=3, max_size=14).map(lambda w: " ".join(w) + ".")
_ELISION = st.sampled_from(["l’agent", "d’« infondées »", "qu'il", "aujourd’hui", "L'État"])


def _copies(sentence: str):
    """What a model or dossier makes of a copied sentence: as it is, with straight or curly
    apostrophes and quotes, HTML-escaped, Markdown-escaped, with its spacing collapsed."""
    yield sentence
    yield sentence.replace("’", "'").replace("«", '"').replace("»", '"')
    yield sentence.replace("'", "’")
    yield html.escape(sentence)
    yield re.sub(r"([<>*_`#\[\]()\\])", r"\\\1", sentence)
    yield " ".join(sentence.split())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sentences=st.lists(_SENTENCE, min_size=1, max_size=4),
    extra=st.lists(_ELISION, max_size=3),
    pick=st.integers(min_value=0),
    number=st.sampled_from(["", " 1 200", " 3,5 %", " le 12 mars 2024", " on 3 June 2024"]),
)
def test_a_sentence_copied_from_its_passage_is_supported(embedder, sentences, extra, pick, number):
    sentences = [s[:-1] + " " + " ".join(extra) + number + "." for s in sentences]
    passage = "\n\n".join(sentences) if len(sentences) > 2 else " ".join(sentences)
    spans = sentence_windows(passage)[: len(sentences)] or [(0, len(passage))]
    start, end = spans[pick % len(spans)]
    sentence = passage[start:end].strip()
    # long enough to count as a quote, once the edges a quote may differ by are set aside
    assume(len(normalise(sentence).strip(QUOTE_EDGES)) >= MIN_VERBATIM_CHARS)
    copies = list(dict.fromkeys(_copies(sentence)))
    results = check(copies, [[passage, "Un autre passage sans rapport."]] * len(copies), embedder)
    for copy, (support, _other) in zip(copies, results, strict=True):
        assert support.supported, (copy, passage, support)
        assert support.score == 1.0


def test_verbatim_quotes_with_markup_dates_and_numbers_are_supported(embedder):
    passage = (
        "Security researchers warned on Monday that attackers could post a "
        "<script>alert(1)</script> tag. The flaw was fixed in version 2.4.1, released on "
        "12 March 2024. The vendor said 1 200 sites had installed the patch."
    )
    claims = [
        "Security researchers warned on Monday that attackers could post a "
        "<script>alert(1)</script> tag.",
        "The flaw was fixed in version 2.4.1, released on 12 March 2024.",
        "The vendor said 1 200 sites had installed the patch.",
    ]
    assert all(s[0].score == 1.0 for s in check(claims, [[passage]] * 3, embedder))
    # a reformatted number is the same number; a different one is not
    same, other = check(
        ["The vendor said 1,200 sites installed the patch.", "The vendor said 1,500 sites."],
        [[passage]] * 2,
        embedder,
    )
    assert same[0].supported and not other[0].supported


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        # a fragment that leaves out what reverses it, before or after
        (
            "Confirmed that Russia sent 300 soldiers.",
            "It was unconfirmed that Russia sent 300 soldiers to Mali.",
        ),
        (
            "The agent was guilty of espionage.",
            "The agent was not guilty of espionage; the "
            "agent was guilty of espionage only in the eyes of Bamako.",
        ),
        ("Paris qualifie ces accusations", "Paris qualifie ces accusations d’« infondées »."),
    ],
)
def test_a_fragment_cut_out_of_a_clause_is_not_a_quote(claim, passage):
    assert not quotes(claim, passage)


def test_a_short_copy_or_a_mere_word_is_not_a_quote():
    assert not quotes("Paris.", "Paris qualifie ces accusations d’« infondées ».")
    assert quotes(
        'Paris qualifie ces accusations d\'"infondées".',
        "Paris qualifie ces accusations d’« infondées ».",
    )
