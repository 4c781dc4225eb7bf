"""Sentences and chunks: offsets give the text back, nothing is lost, nothing is too long."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, Span, chunk_spans, split_sentences
from index.loaders import load_file

ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILE = ROOT / "corpus" / "2025-09-19-france-mali.txt"
NEWS_FILES = sorted((ROOT / "tests" / "data" / "news").glob("*.txt"))


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def check_chunks(text: str, spans: list[Span], size: int, overlap: int | None = None) -> None:
    """The invariants every caller of chunk_spans relies on (see test_no_chunk_is_contained_...
    for the end offsets, which currently do not always increase)."""
    covered = [False] * len(text)
    previous: Span | None = None
    for span in spans:
        assert 0 <= span.start < span.end <= len(text), span
        assert span.end - span.start <= size, (span, size)
        chunk = text[span.start : span.end]
        assert chunk.strip() == chunk and chunk, repr(chunk)  # no empty or padded chunk
        if previous is not None:
            assert span.start > previous.start, (previous, span)  # strictly forward
            if overlap is not None:
                assert previous.end - span.start <= overlap, (previous, span, overlap)
        for i in range(span.start, span.end):
            covered[i] = True
        previous = span
    lost = [(i, text[i]) for i, ok in enumerate(covered) if not ok and not text[i].isspace()]
    assert not lost, f"characters in no chunk: {lost[:10]}"
    # Stitching the chunks by their offsets, dropping the overlaps, gives the text back
    # (up to the whitespace between chunks).
    stitched, end = [], 0
    for span in spans:
        stitched.append(text[max(span.start, end) : span.end])
        end = span.end
    assert "".join("".join(stitched).split()) == "".join(text.split())


# --- split_sentences ----------------------------------------------------------------------


def test_french_civility_m_dot_does_not_end_a_sentence():
    assert sentences("M. Dupont est arrivé hier. Il a parlé longtemps.") == [
        "M. Dupont est arrivé hier.",
        "Il a parlé longtemps.",
    ]


def test_french_civilities_and_titles_in_one_sentence():
    assert sentences("Mme Durand, Dr. House et M. Martin sont venus. Ils sont repartis.") == [
        "Mme Durand, Dr. House et M. Martin sont venus.",
        "Ils sont repartis.",
    ]


def test_french_closing_guillemets_stay_with_their_sentence():
    text = "Il a déclaré : « Nous ne céderons pas. » Le ministre a ensuite quitté la salle."
    assert sentences(text) == [
        "Il a déclaré : « Nous ne céderons pas. »",
        "Le ministre a ensuite quitté la salle.",
    ]


def test_french_closing_guillemets_with_narrow_no_break_space():
    text = "Il a dit «\u202fC’est fini.\u202f» Puis il est parti."
    assert sentences(text) == ["Il a dit «\u202fC’est fini.\u202f»", "Puis il est parti."]


def test_french_opening_guillemets_start_a_sentence():
    text = "Le maire a refusé. « Jamais », a-t-il ajouté."
    assert sentences(text) == ["Le maire a refusé.", "« Jamais », a-t-il ajouté."]


def test_french_spaced_question_and_exclamation_marks():
    text = "Pourquoi partir ? Personne ne le sait ! Les habitants restent."
    assert sentences(text) == [
        "Pourquoi partir ?",
        "Personne ne le sait !",
        "Les habitants restent.",
    ]


def test_etc_followed_by_lowercase_does_not_end_a_sentence():
    text = "On a vu des pommes, des poires, etc. et des fraises. Puis plus rien."
    assert sentences(text) == [
        "On a vu des pommes, des poires, etc. et des fraises.",
        "Puis plus rien.",
    ]


def test_etc_followed_by_capital_ends_a_sentence():
    text = "On a vu des pommes, des poires, etc. Puis plus rien."
    assert sentences(text) == ["On a vu des pommes, des poires, etc.", "Puis plus rien."]


def test_english_mr_title():
    assert sentences("Mr. Smith arrived on Monday. He left early.") == [
        "Mr. Smith arrived on Monday.",
        "He left early.",
    ]


def test_english_dotted_acronym():
    assert sentences("Mr. Smith met U.S. troops in Kabul. They talked.") == [
        "Mr. Smith met U.S. troops in Kabul.",
        "They talked.",
    ]
    assert sentences("The U.S. Senate voted on Friday. It passed.") == [
        "The U.S. Senate voted on Friday.",
        "It passed.",
    ]


def test_english_initials():
    assert sentences("The letter was signed by J. R. Smith yesterday. Nobody replied.") == [
        "The letter was signed by J. R. Smith yesterday.",
        "Nobody replied.",
    ]


def test_sentence_spans_are_offsets_into_the_text():
    text = "  Première phrase.   Deuxième phrase !\n\nTroisième ?  "
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == [
        "Première phrase.",
        "Deuxième phrase !",
        "Troisième ?",
    ]


def test_heading_line_is_its_own_sentence():
    text = "Mesures de rétorsion\nLa France a suspendu la coopération."
    assert sentences(text) == ["Mesures de rétorsion", "La France a suspendu la coopération."]


# --- chunk_spans on real articles ---------------------------------------------------------


def _real_texts() -> list[tuple[str, str]]:
    out = [
        ("corpus raw", CORPUS_FILE.read_text(encoding="utf-8")),
        ("corpus article", load_file(CORPUS_FILE).articles[0].text),
    ]
    out += [(f.name, f.read_text(encoding="utf-8")) for f in NEWS_FILES]
    return out


REAL_TEXTS = _real_texts()


def test_there_are_real_texts_to_chunk():
    assert len(NEWS_FILES) >= 10
    assert all(len(text) > 1000 for _, text in REAL_TEXTS)


@pytest.mark.parametrize(
    ("size", "overlap"),
    [(DEFAULT_SIZE, DEFAULT_OVERLAP), (400, 100), (200, 50), (50, 0), (1500, 600)],
)
@pytest.mark.parametrize(("name", "text"), REAL_TEXTS, ids=[n for n, _ in REAL_TEXTS])
def test_real_article_chunks(name, text, size, overlap):
    spans = chunk_spans(text, size=size, overlap=overlap)
    assert spans
    check_chunks(text, spans, size, overlap)


@pytest.mark.parametrize(("name", "text"), REAL_TEXTS, ids=[n for n, _ in REAL_TEXTS])
def test_real_article_chunks_are_whole_sentences(name, text):
    """At the default size no sentence of these articles is too long: chunks never cut one."""
    starts = {s.start for s in split_sentences(text)}
    ends = {s.end for s in split_sentences(text)}
    spans = chunk_spans(text)
    assert len(spans) >= 2  # ~2,000-2,400 characters do not fit in one 800-char chunk
    for span in spans:
        assert span.start in starts and span.end in ends, text[span.start : span.end][:60]


def test_corpus_chunks_overlap_by_whole_sentences():
    text = load_file(CORPUS_FILE).articles[0].text
    spans = chunk_spans(text)
    assert any(b.start < a.end for a, b in itertools.pairwise(spans)), (
        "consecutive chunks share no sentence: facts straddling two chunks are split"
    )


def _sentence(n: int, word: str) -> str:
    """A sentence of exactly n characters: `word` (capitalised) then lower-case filler."""
    body = word + " " + "filler " * n
    return body[: n - 1].rstrip().ljust(n - 1, "z") + "."


@pytest.mark.parametrize(
    ("text", "size", "overlap"),
    [
        # Default settings: 500-char sentence, 150-char sentence, 700-char sentence.
        (
            " ".join([_sentence(500, "Alpha"), _sentence(150, "Beta"), _sentence(700, "Gamma")]),
            DEFAULT_SIZE,
            DEFAULT_OVERLAP,
        ),
        (
            (ROOT / "tests/data/news/2024-07-23-pyrenees-orientales-drought.txt").read_text(
                encoding="utf-8"
            ),
            200,
            50,
        ),
    ],
    ids=["constructed-default-size", "pyrenees-200-50"],
)
def test_no_chunk_is_contained_in_the_previous_one(text, size, overlap):
    spans = chunk_spans(text, size=size, overlap=overlap)
    check_chunks(text, spans, size, overlap)
    for a, b in itertools.pairwise(spans):
        assert b.end > a.end, (text[a.start : a.end][-80:], text[b.start : b.end][:80])


def test_chunk_of_short_text_is_the_whole_text():
    text = "  Une seule phrase courte.\n"
    assert chunk_spans(text) == [Span(2, 26)]
    assert text[2:26] == "Une seule phrase courte."


def test_empty_or_blank_text_has_no_chunks():
    assert chunk_spans("") == []
    assert chunk_spans(" \n\n\t ") == []


def test_size_below_50_is_refused():
    with pytest.raises(ValueError, match="50"):
        chunk_spans("Du texte.", size=49)


def test_long_word_without_spaces_is_cut_to_size():
    text = "x" * 5000
    for size in (50, 333, 800):
        spans = chunk_spans(text, size=size)
        check_chunks(text, spans, size)
        assert sum(s.end - s.start for s in spans) >= 5000


def test_long_sentence_is_cut_at_spaces():
    words = [f"mot{i}" for i in range(600)]
    text = " ".join(words) + "."
    spans = chunk_spans(text, size=200, overlap=50)
    check_chunks(text, spans, 200, 50)
    for span in spans:
        chunk = text[span.start : span.end]
        # Every piece starts and ends on a word boundary: no "mot12" split into "mo" + "t12".
        assert chunk.split()[0] in words
        assert chunk.split()[-1].rstrip(".") in words


# --- properties ---------------------------------------------------------------------------

ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("éèêàâçôûùëïœÉÈÀÇŒ")
    + list("     \n\n\t")
    + list(".,;:!?…'’\"()[]-–—«»“”")
    + ["\u00a0", "\u202f", "M. ", "etc. ", "U.S. ", " « ", " » ", ". ", "\n\n", "- "]
)
TEXTS = st.one_of(
    st.text(max_size=3000),
    st.lists(ALPHABET, max_size=3000).map("".join),
    st.lists(
        st.tuples(
            st.text(alphabet="abcdeéèàçœXYZ", min_size=1, max_size=120),
            st.sampled_from([" ", ". ", "? ", " ! ", ".\n\n", " « ", " » ", ", ", "\n", ""]),
        ),
        max_size=200,
    ).map(lambda parts: "".join(a + b for a, b in parts)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, size=st.integers(50, 2000))
def test_property_chunks_cover_text_within_size(text, size):
    check_chunks(text, chunk_spans(text, size=size), size, DEFAULT_OVERLAP)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, size=st.integers(50, 2000), overlap=st.integers(0, 2500))
def test_property_any_overlap_keeps_the_invariants(text, size, overlap):
    check_chunks(text, chunk_spans(text, size=size, overlap=overlap), size, overlap)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_property_sentences_are_ordered_trimmed_and_cover_the_text(text):
    spans = split_sentences(text)
    covered = set()
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start
    for s in spans:
        piece = text[s.start : s.end]
        assert piece and piece.strip() == piece
        covered.update(range(s.start, s.end))
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


def test_a_subheading_opens_the_next_chunk_instead_of_closing_one():
    from index.loaders import load_text

    from .conftest import CORPUS, SAMPLE

    text = load_text("x", (CORPUS / SAMPLE).read_text(encoding="utf-8")).articles[0].text
    chunks = [text[s.start : s.end] for s in chunk_spans(text)]
    assert not any(c.endswith("Mesures de rétorsion") for c in chunks)
    assert any("Mesures de rétorsion\n\nEn réaction" in c for c in chunks)


def test_everyday_words_that_are_also_abbreviations_end_sentences():
    text = "He told me. Then he left. She said no. The vote was lost. Me Dupont plaide."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [
        "He told me.",
        "Then he left.",
        "She said no.",
        "The vote was lost.",
        "Me Dupont plaide.",
    ]


def test_hard_wrapped_text_is_cut_at_sentences_not_lines():
    import textwrap

    paragraph = (
        "The agent was arrested in August by the Malian security services on charges of "
        "espionage that Paris calls unfounded. France suspended its counter-terrorism "
        "cooperation with Mali on Friday and expelled two Malian diplomats in response."
    )
    text = textwrap.fill(paragraph, width=30) + "\n\n" + textwrap.fill(paragraph, width=30)
    sentences = [" ".join(text[s.start : s.end].split()) for s in split_sentences(text)]
    assert sentences[:2] == [
        "The agent was arrested in August by the Malian security services on charges of "
        "espionage that Paris calls unfounded.",
        "France suspended its counter-terrorism cooperation with Mali on Friday and expelled "
        "two Malian diplomats in response.",
    ]
