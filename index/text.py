"""Language guess and keyword tokens for French and English text.

Each document is stemmed in its own language (Snowball, through PyStemmer); a query, whose
language is often not the documents', is stemmed both ways and the stems pooled. Accents are
removed after stemming, so "arrêté" and a query typed as "arrete" meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

LANGUAGES = ("fr", "en")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Elided articles and pronouns: l’agent, d’espionnage, qu’il.
_ELISIONS = frozenset(
    ["l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"]
)
# Question words say what is asked, not what it is about: out of queries in both languages.
_QUESTION_WORDS = frozenset(
    [
        "why",
        "what",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "how",
        "which",
        "pourquoi",
        "quoi",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "qui",
        "quand",
        "ou",
        "comment",
        "combien",
        "lequel",
        "laquelle",
        "lesquels",
        "lesquelles",
        "est-ce",
    ]
)


@cache
def _stopwords(lang: str) -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

    words = STOPWORDS_FRENCH if lang == "fr" else STOPWORDS_EN
    return frozenset(unaccent(w.lower()) for w in words) | _ELISIONS


@cache
def _stemmer(lang: str):
    import Stemmer

    return Stemmer.Stemmer("french" if lang == "fr" else "english")


@lru_cache(maxsize=200_000)
def unaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def _only_in(lang: str, other: str) -> frozenset[str]:
    return _stopwords(lang) - _stopwords(other)


def guess_language(text: str) -> str:
    """'fr' or 'en', by counting each language's stop words in the first few thousand chars."""
    words = [w.lower() for w in _WORD.findall(text[:4000])]
    fr_only, en_only = _only_in("fr", "en"), _only_in("en", "fr")
    fr = sum(1 for w in words if unaccent(w) in fr_only)
    en = sum(1 for w in words if w in en_only)
    return "fr" if fr > en else "en"


_FRENCH_QUESTION = re.compile(
    r"\b(pourquoi|quand|combien|quel(le)?s?|qu['’]|est-ce|où|lequel|laquelle)\b",
    re.IGNORECASE,
)


def question_language(question: str) -> str:
    """'fr' or 'en' for a question: French question words decide, else `guess_language`."""
    return "fr" if _FRENCH_QUESTION.search(question) else guess_language(question)


def _words(text: str) -> list[str]:
    # "œuvre" as typed "oeuvre": the ligatures have no decomposition to strip.
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    return _WORD.findall(text)


def tokens(text: str, lang: str, stop: frozenset[str] | None = None) -> list[str]:
    """Keyword tokens of a document in `lang`: lower-cased, stop words out, stemmed, unaccented."""
    stop = _stopwords(lang) if stop is None else stop
    words = [w for w in _words(text) if unaccent(w) not in stop]
    return [unaccent(s) for s in _stemmer(lang).stemWords(words)]


def query_terms(text: str) -> list[frozenset[str]]:
    """A query's content words, each as the set of its French and English stems."""
    stop = _stopwords("fr") | _stopwords("en") | _QUESTION_WORDS
    words = [w for w in _words(text) if unaccent(w) not in stop]
    stems = [_stemmer(lang).stemWords(words) for lang in LANGUAGES]
    return [frozenset(unaccent(s[i]) for s in stems) for i in range(len(words))]


@lru_cache(maxsize=4096)
def _token_set(text: str, lang: str) -> frozenset[str]:
    """A chunk's tokens, kept for the chunks searches meet again (the best ones)."""
    return frozenset(tokens(text, lang))


def coverage(terms: list[frozenset[str]], text: str, lang: str) -> float:
    """Share of the query's content words that occur (stemmed) in `text`."""
    if not terms:
        return 0.0
    present = _token_set(text, lang)
    return sum(1 for stems in terms if stems & present) / len(terms)


def query_tokens(text: str) -> list[str]:
    """Keyword tokens of a query: stop words of either language out, stemmed both ways."""
    stop = _stopwords("fr") | _stopwords("en") | _QUESTION_WORDS
    out: dict[str, None] = {}
    for lang in LANGUAGES:
        for tok in tokens(text, lang, stop):
            out.setdefault(tok, None)
    return list(out)


# A passage repeats one ranked above it when this share of its word triples (3-word shingles)
# occur in that one, and it names no one and nothing that one does not (see `_named`): a wire
# story run by two papers with another headline or closing line, cut into chunks at other
# places. Neighbouring chunks of one article share their overlap (200 of 800 characters by
# default), about a quarter: well below. Articles made from one template ("the council of
# Quimper voted…", "the council of Brest voted…") share most triples but name other places,
# and are all kept.
REPEAT_SHARE = 0.6


@lru_cache(maxsize=4096)  # a search compares each passage with those above it
def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = [unaccent(w) for w in _words(text)]
    return frozenset(tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2)))


_SENTENCE_CUT = re.compile(r"[.!?…\n]+")
_FIGURE = re.compile(r"\w*\d\w*")


@lru_cache(maxsize=4096)
def _named(text: str) -> frozenset[str]:
    """Names and figures: capitalised words inside a sentence (not its first word), and
    words holding digits. Two passages that differ in these say different things."""
    out = set(_FIGURE.findall(text))
    for sentence in _SENTENCE_CUT.split(text):
        out.update(unaccent(w.lower()) for w in _WORD.findall(sentence)[1:] if w[0].isupper())
    return frozenset(out)


@lru_cache(maxsize=4096)
def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def repeats(text: str, earlier: list[str]) -> bool:
    """Whether `text` repeats one of `earlier`: the same text (up to case and spacing), or
    nearly (see REPEAT_SHARE)."""
    if not earlier:
        return False
    if _normal(text) in {_normal(e) for e in earlier}:
        return True
    mine, names = _shingles(text), _named(text)
    for other in earlier:
        theirs = _shingles(other)
        shared = len(mine & theirs) >= REPEAT_SHARE * min(len(mine), len(theirs))
        if shared and names <= _named(other):
            return True
    return False
