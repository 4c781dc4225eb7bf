"""Echoed prompt markup is taken out of answers, whole and while they stream."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.markup import MarkupFilter, strip_markup, strip_tags

ECHO = (
    'The agent was arrested. <passage n="1" date="2025-09-19" file="corpus/x.txt">\n'
    "He was accused of espionage [1].</passage><|im_end|>\n"
    'Question: why?\nn="2" date="2025-09-19" file="a.txt"> The end.'
)


def test_tags_template_tokens_and_instruction_lines_are_removed():
    cleaned = strip_markup(ECHO)
    for markup in ("<passage", "</passage>", "<|im_end|>", 'file="', "Question:"):
        assert markup not in cleaned
    assert "He was accused of espionage [1]." in cleaned and "The agent was arrested." in cleaned


def test_text_that_only_looks_like_markup_stays():
    text = "Prices rose 3 < 5 percent; the file was closed on date of the vote [1]."
    assert strip_markup(text) == text


@given(st.integers(min_value=1, max_value=9), st.randoms(use_true_random=False))
def test_the_stream_shows_what_the_whole_answer_shows(size, rnd):
    """However the reply is cut into pieces, no tag is ever shown, and what is shown adds up
    to the cleaned whole."""
    shown, f, i = "", MarkupFilter(), 0
    while i < len(ECHO):
        step = rnd.randint(1, size)
        shown += f.feed(ECHO[i : i + step])
        assert "<passage" not in shown and "<|im" not in shown and 'file="' not in shown
        i += step
    shown += f.flush()
    assert shown == strip_tags(ECHO)
