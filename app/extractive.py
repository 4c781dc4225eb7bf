"""Extractive answers: no LLM, the sentences of the retrieved passages that best answer.

Each sentence of each passage is scored by its cosine similarity to the question, the share of
the question's content words it holds (stemmed in French and English), and its passage's rank.
What the question asks for matters too: "how many"/« combien » wants a number, "when"/« quand »
a date or time word; a sentence without one cannot answer, and when no sentence has one the
assistant declines. It also declines when even the best sentence shares too little with the
question. The answer quotes the chosen sentences verbatim, each with its passage number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from index.chunking import split_sentences
from index.embeddings import Embedder, embed_queries
from index.text import LANGUAGES, query_terms, tokens, unaccent
from index.types import Passage

# Measured on the dev questions (eval/extractive_study.py); figures in the README.
COSINE_WEIGHT = 0.5
RANK_WEIGHT = 0.1
MIN_SCORE = 0.2  # below this, even the best sentence does not answer: decline
# ... unless it also has what a specific question asks for (a sum, an age, a duration, an exact
# date, a name next to its noun, a cause): that is evidence of its own, and across languages
# the words match less (measured on tests/data/news_questions.jsonl, dev questions)
MIN_SCORE_TYPED = 0.15
TYPED = ("amount", "age", "duration", "date", "name")
SECOND_WITHIN = 0.75  # a second sentence is added when it scores within 75% of the best
MAX_SENTENCES = 2
MIN_CHARS = 25  # shorter "sentences" are headings or fragments
COUNTED_BONUS = 0.1
REASON_BONUS = 0.1
PREFIX = 5  # cognates meet on their first letters: detained/détention, arrested/arrestation

_NAME = re.compile(r"\b[A-ZÀ-Ý][\w’'-]*")
_YEAR = re.compile(r"\b\d{3,}\b")
# Capitalised in questions without being names.
_NOT_NAMES = frozenset(
    [
        "what",
        "why",
        "who",
        "when",
        "where",
        "which",
        "how",
        "whose",
        "whom",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "can",
        "could",
        "would",
        "pourquoi",
        "quand",
        "combien",
        "comment",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "qui",
        "que",
        "est",
        "selon",
        "les",
        "des",
        "une",
        "the",
        "and",
    ]
)
# English names of peoples and languages whose French forms share no prefix with them.
_DEMONYMS = {
    "french": "france",
    "german": "allemagne",
    "germany": "allemagne",
    "spanish": "espagne",
    "spain": "espagne",
    "english": "angleterre",
    "england": "angleterre",
    "dutch": "pays-bas",
    "swiss": "suisse",
    "switzerland": "suisse",
    "welsh": "galles",
    "wales": "galles",
    "greek": "grèce",
    "greece": "grèce",
    # days and months: "on Friday" is « vendredi », capitalised only in English
    "monday": "lundi",
    "tuesday": "mardi",
    "wednesday": "mercredi",
    "thursday": "jeudi",
    "friday": "vendredi",
    "saturday": "samedi",
    "sunday": "dimanche",
    "january": "janvier",
    "february": "février",
    "march": "mars",
    "april": "avril",
    "may": "mai",
    "june": "juin",
    "july": "juillet",
    "august": "août",
    "september": "septembre",
    "october": "octobre",
    "november": "novembre",
    "december": "décembre",
}
_COUNTED = re.compile(
    r"\b(how many|combien d[e'’]\s*)\s*(?P<noun>[^\W\d_]+(\s+[^\W\d_]+)?)", re.IGNORECASE
)

_NUMBER_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|deux|trois|quatre|cinq|six|sept|huit|neuf|"
    r"dix|onze|douze|vingt|trente|quarante|cinquante|cent|cents|mille|millions?|milliards?|"
    r"douzaine"
)
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
    r"décembre|decembre"
)
_DAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|hier|aujourd’hui|aujourd'hui|demain"
)
_UNITS = (
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|secondes?|heures?|jours?|"
    r"semaines?|mois|ans?|années?|annees?|décennies?|nuits?|nights?"
)
ASKS = {
    # These three come first: "how old", "how long", "how much money" ask for more than a
    # number (and « combien de temps » is not a count).
    "age": (
        re.compile(r"\b(how old|what age|at what age|quel âge|quel age|à quel âge)\b", re.I),
        re.compile(
            r"\b\d{1,3}\s*ans\b|\b\d{1,3}[- ]years?[- ]old\b|\bâgée? de\b|\baged \d|"
            r"\b(quinquagénaire|sexagénaire|septuagénaire|octogénaire|trentenaire|"
            r"quadragénaire)\b",
            re.IGNORECASE,
        ),
    ),
    "duration": (
        re.compile(
            r"\b(how long(?! ago)|for how long|combien de temps|pendant combien|"
            r"quelle durée|quelle duree|depuis combien de temps)\b",
            re.IGNORECASE,
        ),
        re.compile(
            rf"(\d|\b({_NUMBER_WORDS}|un|une|a|an|quelques|several|plusieurs))\s*"
            rf"({_UNITS})\b",
            re.IGNORECASE,
        ),
    ),
    "amount": (
        re.compile(
            r"\b(how much (money|does it cost|did it cost|is it worth|in damages|funding)|"
            r"how much (?:\w+ ){0,4}(spend|spent|pay|paid|cost|raise|raised|earn|worth)|"
            r"what (price|cost|sum|salary|fine)|combien (co[uû]t\w*|vaut|valent|pa[iy]\w*|"
            r"d[e'’]\s*argent|d[e'’]\s*euros|dépens\w*|depens\w*|gagn\w*)|"
            r"à combien (s['’]él[eè]v\w*|estime|évalue)|quel est le (prix|coût|cout|montant)|"
            r"quel (coût|cout|montant|salaire)|quelle somme)\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"[€$£¥]|\b\d[\d\s.,]*\s*(millions?|milliards?|billions?|thousand|mille|bn|k)?\s*"
            r"(d['’]\s*|of\s+)?(euros?|dollars?|pounds?|livres sterling|francs?( cfa| suisses?)?|"
            r"yens?|eur|usd|gbp|chf)\b|\b(euros?|dollars?) \d",
            re.IGNORECASE,
        ),
    ),
    "number": (
        re.compile(
            r"\b(how (many|much)|combien|what (percentage|proportion|share|number|amount)|"
            r"quel(le)?s? (est le )?(nombre|montant|pourcentage|proportion|part)|"
            r"(what|quelle) (is|was|est|était|etait) (the|la) (population|superficie|area)|"
            r"how (big|large|tall|high|far|deep|heavy)|"
            r"quelle (taille|distance|hauteur|superficie|profondeur))\b",
            re.IGNORECASE,
        ),
        re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE),
    ),
    "time": (
        re.compile(
            r"\b(when|quand|what (year|date|day|month|time)|which (year|date|day|month)|"
            r"(en |à |a )?quel(le)? (année|annee|date|jour|mois|heure)|depuis quand|"
            r"how long ago)\b",
            re.IGNORECASE,
        ),
        re.compile(
            rf"\b(1[89]\d\d|20\d\d|{_MONTHS}|{_DAYS}|ago|since|until|depuis|jusqu|"
            r"\d{1,2}\s?h(\d\d)?|\d{1,2}:\d\d|week|month|year|semaine|mois|an|ans|année|années"
            r"|soir|matin|night|nuit|morning|evening)\b",
            re.IGNORECASE,
        ),
    ),
}


# A French question (also what the assistant answers a decline in).
# A why-question is answered by a sentence giving a reason.
_WHY = re.compile(r"\b(why|pourquoi|for what reason|pour quelle raison)\b", re.IGNORECASE)
_REASON = re.compile(
    r"\b(because|due to|owing to|reasons?|motifs?|raisons?|accus\w*|parce qu|en raison|"
    r"à cause|a cause|suspected|soupçon\w*|charged with|inculp\w*|over allegations|"
    r"alleg\w*|afin|in order to|pour protester|to protest)",
    re.IGNORECASE,
)
# What a sentence giving a cause says (wider than _REASON, which earns a bonus): a
# why-question's answer holds one of these.
_CAUSE = re.compile(
    _REASON.pattern[:-1] + r"|in protest|"
    r"riposte|in response|in retaliation|en réponse|en reponse|en réaction|en reaction|"
    r"triggered|prompted|sparked|caused|provoqu\w*|déclench\w*|declench\w*|motivé\w*|"
    r"after the|following the|à la suite|suite à|après l|après la|après le|après les|"
    r"porte sur|portent sur|centres on|centers on|centred on|centered on|over pay|"
    r"dispute|conflit|grievance|revendi\w*|demand\w*|réclam\w*|reclam\w*|exig\w*)",
    re.IGNORECASE,
)


# "What date", « date exacte »: a day of a month, not just "in August" or "on Friday".
_ASKS_DATE = re.compile(
    r"\b(what|which|on what|exact) date\b|\bdate (exacte|précise|precise)\b|"
    r"\bquelle date\b|\bexact day\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    rf"\b\d{{1,2}}(er|st|nd|rd|th)?\s+({_MONTHS})\b|\b({_MONTHS})\s+\d{{1,2}}(st|nd|rd|th)?\b|"
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b",
    re.IGNORECASE,
)
# "What is the name of the agent", « comment s'appelle le ministre », "who is the ambassador":
# the answer is a name, standing next to the noun it names.
_ASKS_NAME = re.compile(
    r"\b(?:what(?: i|')s the (?:first |last |full )?name of|what was the (?:first |last )?name of|"
    r"the (?:first |last |full )?name of|who (?:is|was) the|"
    r"quel est le (?:pré|pre)?nom d[eu'’]\s*|quel était le (?:pré|pre)?nom d[eu'’]\s*|"
    r"le (?:pré|pre)?nom d[eu'’]\s*|le nom de famille d[eu'’]\s*|"
    r"comment s['’]appel\w+|qui est (?:le|la)\s|qui est l['’]|qui était (?:le|la)\s|"
    r"qui était l['’])"
    r"\s*(?:the |a |an |le |la |les |l['’]|du |de la |des )?"
    r"(?:(?:current|new|former|present|acting|actuel|actuelle|nouveau|nouvelle|ancien|"
    r"ancienne|premier|première)\s+)?(?P<focus>[^\W\d_]+)",
    re.IGNORECASE,
)
NAME_WINDOW = 3  # words between the noun and the name that names it
# Capitalised at a sentence's start without being names ("Goïta is…" names someone).
_FUNCTION_WORDS = frozenset(
    [
        "le", "la", "les", "l", "un", "une", "des", "du", "de", "ce", "cette", "ces", "il",
        "elle", "ils", "elles", "on", "en", "selon", "dans", "pour", "par", "the", "a", "an",
        "this", "that", "these", "those", "he", "she", "it", "they", "in", "on", "at", "for",
        "by", "according", "his", "her", "its", "their", "as", "after", "before", "since",
        "while", "mais", "et", "or", "and", "but",
    ]
)  # fmt: skip


def asks_for(question: str) -> str | None:
    """'name', 'date', 'number', 'time' or None: the kind of answer the question's wording
    calls for."""
    if _ASKS_NAME.search(question):
        return "name"
    if _ASKS_DATE.search(question):
        return "date"
    for kind, (asked, _) in ASKS.items():
        if asked.search(question):
            return kind
    return None


def has_kind(kind: str | None, text: str, question: str = "") -> bool:
    """Whether `text` can answer a question asking for `kind` (see `asks_for`)."""
    if kind is None:
        return True
    if kind == "date":
        return bool(_DATE.search(text))
    if kind == "name":
        return names_the_focus(question, text) if question else bool(_NAME.search(text[1:]))
    return bool(ASKS[kind][1].search(text))


def names_the_focus(question: str, text: str) -> bool:
    """For "what is the name of the agent": `text` holds the agent (or its French form) with a
    capitalised name within NAME_WINDOW words of it that the question does not hold."""
    match = _ASKS_NAME.search(question)
    if not match:
        return True
    focus = query_terms(match.group("focus"))
    words = list(re.finditer(r"[\w’'-]+", text))
    asked, asked_pre = _vocabulary(question)
    for i, word in enumerate(words):
        if not any(_matches(t, *_vocabulary(word.group())) for t in focus):
            continue
        for other in words[max(0, i - NAME_WINDOW) : i + NAME_WINDOW + 1]:
            name = re.split(r"[’']", other.group())[-1]
            if (
                other is not word
                and name[:1].isupper()
                and (other.start() > 0 or unaccent(name.lower()) not in _FUNCTION_WORDS)
                and not _matches(frozenset(tokens(name.lower(), "en")), asked, asked_pre)
                and unaccent(name.lower()) not in _NOT_NAMES
            ):
                return True
    return False


@dataclass(frozen=True)
class Pick:
    """A sentence chosen for the answer: its passage number (1-based) and offsets there."""

    n: int
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Extract:
    picks: tuple[Pick, ...]
    reason: str  # why these sentences, or why none

    @property
    def answerable(self) -> bool:
        return bool(self.picks)


def candidates(passages: list[Passage]) -> list[tuple[int, int, int, str]]:
    """(passage number, start, end, text) of each sentence long enough to answer, headlines
    left out."""
    out = []
    for n, p in enumerate(passages, 1):
        title = " ".join(p.title.split()).casefold()
        for span in split_sentences(p.text):
            text = p.text[span.start : span.end].strip()
            if " ".join(text.split()).casefold() == title:
                continue  # a headline sums up; it does not answer
            if len(text) >= MIN_CHARS:
                out.append((n, span.start, span.end, text))
    return out


def _matches(stems: frozenset[str], present: set[str], prefixes: set[str]) -> bool:
    return bool(stems & present) or any(len(s) >= PREFIX and s[:PREFIX] in prefixes for s in stems)


def _vocabulary(text: str) -> tuple[set[str], set[str]]:
    present: set[str] = set()
    for lang in LANGUAGES:
        present.update(tokens(text, lang))
    return present, {s[:PREFIX] for s in present if len(s) >= PREFIX}


def score_sentences(
    question: str, passages: list[Passage], embedder: Embedder
) -> list[tuple[float, tuple[int, int, int, str]]]:
    """Every candidate sentence with its score, best first.

    The lexical part weighs each content word of the question by how rare it is among the
    candidate sentences (inverse document frequency over them), so "France" in an article about
    France counts little and "immunity" much.
    """
    sentences = candidates(passages)
    if not sentences:
        return []
    vectors = embed_queries(embedder, [question] + [s[3] for s in sentences])  # symmetric
    cosines = vectors[1:] @ vectors[0]
    terms = query_terms(question)
    vocab = [_vocabulary(s[3]) for s in sentences]
    hits = [[_matches(t, present, pre) for t in terms] for present, pre in vocab]
    total = len(sentences)
    weights = [
        math.log((total + 1) / (sum(row[i] for row in hits) + 0.5)) for i in range(len(terms))
    ]
    norm = sum(weights)
    why = bool(_WHY.search(question))
    scored = []
    for sentence, cosine, row in zip(sentences, cosines, hits, strict=True):
        lexical = sum(w for w, hit in zip(weights, row, strict=True) if hit) / norm if norm else 0.0
        score = (
            COSINE_WEIGHT * max(float(cosine), 0.0)
            + (1 - COSINE_WEIGHT) * lexical
            + RANK_WEIGHT / sentence[0]
            + (REASON_BONUS if why and _REASON.search(sentence[3]) else 0.0)
        )
        scored.append((score, sentence))
    scored.sort(key=lambda item: -item[0])
    return scored


def missing_names(question: str, passages: list[Passage]) -> list[str]:
    """Names in the question (capitalised words past its first, or numbers of 3+ digits) that
    no retrieved passage mentions: a question about them is not one these articles answer."""
    return missing_names_in(question, " ".join(p.text for p in passages))


def missing_names_in(text: str, reference: str) -> list[str]:
    """The names of `text` (see `missing_names`) that `reference` does not mention."""
    words = [m.group() for m in _NAME.finditer(text) if m.start() != len(text) - len(text.lstrip())]
    # a sentence's first word is capitalised anyway, but "L’Allemagne" holds a name
    first = _NAME.match(text.lstrip())
    if first and re.search(r"[’']\w", first.group()):
        words.insert(0, first.group())
    words = [re.split(r"[’']", w)[-1] for w in words]
    names = [
        w
        for w in words
        if len(w) >= 3 and w[:1].isupper() and unaccent(w.lower()) not in _NOT_NAMES
    ]
    names += _YEAR.findall(text)
    if not names:
        return []
    present, prefixes = _vocabulary(reference)
    short = {s[:4] for s in present if len(s) >= 4}
    missing = []
    for name in names:
        folded = unaccent(name.lower())
        parts = [p for p in folded.split("-") if len(p) >= 3 and p not in _JOINERS]
        if len(parts) > 1 and not all(
            _mentioned(p, False, present, prefixes, short) for p in parts
        ):  # "États-Unis" is not mentioned by « coups d'État »: every part must be
            missing.append(name)
            continue
        if not any(
            _mentioned(form, name.isdigit(), present, prefixes, short)
            for form in dict.fromkeys([folded, _DEMONYMS.get(folded, folded)])
        ):  # "March" is mentioned as March or as « mars »
            missing.append(name)
    return missing


_JOINERS = frozenset(["des", "les", "sur", "aux", "del", "von", "van", "der", "upon", "the"])


def _mentioned(
    folded: str, digits: bool, present: set[str], prefixes: set[str], short: set[str]
) -> bool:
    stems = frozenset(unaccent(s) for lang in LANGUAGES for s in tokens(folded, lang, frozenset()))
    if not stems or _matches(stems, present, prefixes):
        return True
    return any(len(s) >= 4 and s[:4] in short for s in stems) and not digits  # Malian/malien


def answers(question: str, claim: str, sentences: str, passages: list[Passage]) -> bool:
    """Whether a supported claim (of an LLM's answer) answers `question`, by the rules the
    extractive answerer keeps to: the claim holds what the question asks for (`asks_for`); for
    a why-question, it or the passage sentences it rests on give a cause; and a passage it rests on
    names one of the question's names (off-topic questions get no answer from a model that
    copies the nearest sentence)."""
    kind = asks_for(question)
    if not has_kind(kind, claim, question):  # "how much?": the claim itself gives the sum
        return False
    if _WHY.search(question) and not (_CAUSE.search(claim) or _CAUSE.search(sentences)):
        return False
    names = question_names(question)
    return not names or any(
        missing_names_in(question, f"{p.title}\n{p.text}") != names for p in passages
    )


def question_names(question: str) -> list[str]:
    """The names of `question` (see `missing_names_in`): those a reference without any lacks."""
    return missing_names_in(question, "")


def number_subject(question: str) -> list[frozenset[str]]:
    """What a "how many"/« combien de » question counts: "how many soldiers" → soldiers."""
    match = _COUNTED.search(question)
    return query_terms(match.group("noun")) if match else []


def extract(question: str, passages: list[Passage], embedder: Embedder) -> Extract:
    """The sentences that answer `question`, or none with the reason for declining."""
    if not passages:
        return Extract((), "no passage passes the relevance floor")
    missing = missing_names(question, passages)
    if missing:
        return Extract((), f"the passages never mention {', '.join(missing)}")
    scored = score_sentences(question, passages, embedder)
    kind = asks_for(question)
    fitting = [(s, c) for s, c in scored if has_kind(kind, c[3], question)]
    if not scored:
        return Extract((), "no retrieved sentence is long enough to answer")
    if not fitting:
        article = "an" if kind and kind[0] in "aeiou" else "a"
        return Extract(
            (), f"the question asks for {article} {kind}, and no retrieved sentence has one"
        )
    names = question_names(question)
    if names:  # "What did Russia say": a passage (and its article's title) never naming
        # Russia does not answer
        about = {
            n
            for n, p in enumerate(passages, 1)
            if missing_names_in(question, f"{p.title}\n{p.text}") != names
        }
        fitting = [(s, c) for s, c in fitting if c[0] in about]
        if not fitting:
            return Extract((), f"no passage that could answer mentions {', '.join(names)}")
    if _WHY.search(question):  # a why-question is answered by a sentence giving a reason
        fitting = [(s, c) for s, c in fitting if _CAUSE.search(c[3])]
        if not fitting:
            return Extract((), "the question asks why, and no retrieved sentence gives a reason")
    counted = number_subject(question) if kind == "number" else []
    if counted:  # "how many soldiers": prefer sentences that count soldiers
        fitting = sorted(
            (
                (
                    s + COUNTED_BONUS
                    if any(_matches(t, *_vocabulary(c[3])) for t in counted)
                    else s,
                    c,
                )
                for s, c in fitting
            ),
            key=lambda item: -item[0],
        )
    best_score = fitting[0][0]
    floor = MIN_SCORE_TYPED if kind in TYPED or _WHY.search(question) else MIN_SCORE
    if best_score < floor:
        return Extract((), f"the best sentence scores {best_score:.2f}, under {floor}")
    picks: list[Pick] = []
    for score, (n, start, end, text) in fitting:
        if len(picks) == MAX_SENTENCES or score < SECOND_WITHIN * best_score:
            break
        if any(p.n == n and p.start < end and start < p.end for p in picks):
            continue
        if any(text == p.text for p in picks):  # the same sentence in two overlapping chunks
            continue
        picks.append(Pick(n, start, end, text, round(float(score), 4)))
    return Extract(tuple(picks), f"{len(picks)} sentence(s) scoring from {best_score:.2f}")


def answer_text(extract: Extract) -> str:
    """The picked sentences quoted as written, each followed by its passage number."""
    return " ".join(f"{_one_line(p.text)} [{p.n}]" for p in extract.picks)


def _one_line(text: str) -> str:
    return " ".join(text.split())
