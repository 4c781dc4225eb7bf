"""Citation markers: parsed per sentence, missing passages dropped, never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.citations import parse_citations


def test_each_sentence_gets_its_markers():
    parsed = parse_citations(
        "He was arrested on espionage accusations [1]. Paris calls them unfounded [1, 2].", 3
    )
    assert [c.cited for c in parsed.claims] == [(1,), (1, 2)]
    assert parsed.claims[0].text == "He was arrested on espionage accusations [1]."
    assert parsed.dropped == ()


def test_adjacent_and_trailing_markers():
    parsed = parse_citations("Il a été arrêté [1][2]. Paris proteste. [3]", 3)
    assert [c.cited for c in parsed.claims] == [(1, 2), (3,)]
    assert parsed.claims[1].text == "Paris proteste. [3]"


def test_markers_to_missing_passages_are_removed():
    parsed = parse_citations("A claim [7]. Another [0, 2]. A third [2;9].", 2)
    assert parsed.text == "A claim. Another [2]. A third [2]."
    assert [c.cited for c in parsed.claims] == [(), (2,), (2,)]
    assert parsed.dropped == (7, 0, 9)


def test_an_answer_without_markers_cites_nothing():
    parsed = parse_citations("The articles don't say.", 5)
    assert [c.cited for c in parsed.claims] == [()]


@given(
    st.text(alphabet=st.sampled_from(list("ab .?![]0123456789,;«»\n")), max_size=200),
    st.integers(min_value=0, max_value=5),
)
def test_never_crashes_and_never_cites_a_missing_passage(answer, n_passages):
    parsed = parse_citations(answer, n_passages)
    for claim in parsed.claims:
        assert parsed.text[claim.start : claim.end] == claim.text
        assert all(1 <= n <= n_passages for n in claim.cited)
    assert all(
        "[" + str(n) + "]" not in parsed.text for n in parsed.dropped if not 1 <= n <= n_passages
    )


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before():
    parsed = parse_citations("First claim here. [1] Second claim there. [2]", 2)
    assert [(c.text, c.cited) for c in parsed.claims] == [
        ("First claim here. [1]", (1,)),
        ("Second claim there. [2]", (2,)),
    ]
