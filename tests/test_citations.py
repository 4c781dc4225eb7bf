"""Citation markers: parsed per sentence, missing passages dropped, never a crash."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from app.citations import MARKER, parse_citations


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


# Answers as a model might write them: words, sentence ends, markers of every shape (valid,
# out of range, several numbers, nested, unclosed), and any text at all.
_MARKERS = st.builds(
    lambda nums, sep, pad: "[" + pad + sep.join(map(str, nums)) + pad + "]",
    st.lists(st.integers(0, 12), min_size=1, max_size=3),
    st.sampled_from([", ", ",", ";", " ; "]),
    st.sampled_from(["", " "]),
)
_PIECES = st.one_of(
    _MARKERS,
    st.sampled_from(["Le maire", "a promis", " ", ". ", "! ", "? ", "\n\n", "« ", " »", "[", "]"]),
    st.sampled_from(["M. Dupont", "etc.", "U.S.", "1.5", "[[7]1]", "[1[9]]", "[ 2 ]."]),
    st.text(max_size=8),
)
ANSWERS = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab .?![]0123456789,;«»\n")), max_size=200),
    st.lists(_PIECES, max_size=40).map("".join),
    st.text(max_size=200),
)


@settings(max_examples=500, deadline=None)
@given(ANSWERS, st.integers(min_value=0, max_value=5))
def test_never_crashes_and_never_cites_a_missing_passage(answer, n_passages):
    parsed = parse_citations(answer, n_passages)
    # What the user reads cites no missing passage: every marker left in the text is valid.
    for match in MARKER.finditer(parsed.text):
        numbers = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        assert all(1 <= n <= n_passages for n in numbers), (match.group(), parsed.text)
    previous_end = 0
    for claim in parsed.claims:
        assert parsed.text[claim.start : claim.end] == claim.text
        assert claim.start >= previous_end  # in order, no overlap
        previous_end = claim.end
        assert all(1 <= n <= n_passages for n in claim.cited)
        # A claim cites exactly the markers it holds.
        held = [int(m.group(1)) for m in MARKER.finditer(claim.text)]
        assert set(claim.cited) == set(held)

    # Nothing but markers and spacing is lost.
    def bare(text: str) -> str:
        while MARKER.search(text):
            text = MARKER.sub("", text)
        return re.sub(r"\s", "", text)

    assert bare(parsed.text) == bare(answer)


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before():
    parsed = parse_citations("First claim here. [1] Second claim there. [2]", 2)
    assert [(c.text, c.cited) for c in parsed.claims] == [
        ("First claim here. [1]", (1,)),
        ("Second claim there. [2]", (2,)),
    ]
