"""The assistant: a question (and the conversation so far) in, an answer with checked citations
out, streamed as events for the chat page and collected into one `Answer` for the CLI.

The steps: rewrite a follow-up into a standalone question; retrieve passages; decline without
calling the LLM when none passes the relevance floor; otherwise fit the passages into the
model's context window (least relevant dropped first), stream the answer, parse its [n]
markers and check each cited sentence against its passage. Without an LLM the extractive mode
quotes the best sentences instead. In `auto` mode a failing LLM falls back to extractive mode
and the answer says so.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.core import Index
from index.errors import ConfigError
from index.text import guess_language, query_terms, question_language
from index.types import Passage

from . import extractive, prompts
from .citations import parse_citations
from .llamacpp_backend import bundled_gguf, is_gguf_path
from .llm import Backend, Choice, LLMError, choose_backend
from .markup import MarkupFilter, strip_markup
from .support import check

DECLINE = {"en": "The articles don't say.", "fr": "Les articles ne le disent pas."}
# The one line under an extractive answer whose quotes are not in the question's language.
LANGUAGE_NOTE = {
    "fr": "The quotes are in French, the language of the articles.",
    "en": "Les citations sont en anglais, la langue des articles.",
}
CHARS_PER_TOKEN = 3  # conservative for Llama/Qwen tokenizers on French text (about 3.3–4)
HISTORY_TURNS = 6  # turns of the conversation given to the rewriting prompt
MAX_QUESTION_CHARS = 1000
MAX_TURN_CHARS = 1000  # of each earlier turn, in the rewriting prompt
MIN_PASSAGE_CHARS = 200  # a passage cut shorter than this cannot answer anything
CHOICE_TTL = 30.0  # seconds an `auto` probe of the LLM server is trusted
MAX_CHOICES = 32  # (mode, model) probes remembered at once
# A sentence that cites nothing is given the passage it copies when its support reaches this:
# word for word scores 0.9–1.0, close paraphrases of the sample article 0.5–0.97, invented
# claims at most 0.24 (tests/data/support_pairs.jsonl); 0.7 takes near-copies only.
ATTRIBUTE_THRESHOLD = 0.7

_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
# The model saying the passages hold no answer (rule 4 of prompts/system.md, and variants).
_DECLINED = re.compile(
    r"(articles?|passages?|sources?|texts?) (do not|don['’]t|does not|doesn['’]t) "
    r"(say|mention|contain|hold|tell|provide|specify|answer)"
    r"|(ne|n['’]) ?(le |en )?(disent|mentionnent|précisent|indiquent|contiennent|"
    r"répondent|donnent) pas|no information|aucune information",
    re.IGNORECASE,
)
# A follow-up leans on the conversation: it opens with a connective or refers back.
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|so|also|what about|how about|et|mais|alors|aussi|donc|puis)\b"
    r"|\b(he|she|it|they|them|his|her|its|their|this|that|these|those|il|elle|ils|elles|"
    r"lui|leur|leurs|cela|ça|celui|celle|ceux)\b",
    re.IGNORECASE,
)


def _asked(question: str, standalone: str) -> str:
    """What an answer is checked against: the question asked now; the previous question's words
    only helped retrieval, unless the follow-up has no content words of its own."""
    return question if len(query_terms(question)) >= 2 else standalone


def _states_something(sentence: str) -> bool:
    """A sentence that claims something: not a decline, a lead-in ("Here is…:") or a scrap."""
    text = sentence.strip()
    return not (_DECLINED.search(text) or text.endswith(":") or len(query_terms(text)) < 2)


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites, whether it supports the sentences citing it, and where."""

    n: int
    passage: Passage
    supported: bool
    support: float  # the best support score among the answer's sentences citing it
    sentence_start: int  # the passage sentence(s) that best support it: offsets in its text
    sentence_end: int
    spans: tuple[tuple[int, int], ...] = ()  # the best window for each sentence citing it

    @property
    def sentence(self) -> str:
        return self.passage.text[self.sentence_start : self.sentence_end]

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "supported": self.supported,
            "support": self.support,
            **self.passage.to_dict(),
            "sentence": self.sentence,
            "spans": [list(span) for span in self.spans],
        }


@dataclass(frozen=True)
class ClaimCheck:
    """A sentence of the answer, the passages it cites and whether they support it.

    `supported` is False for a statement that cites nothing (an answer's every claim must
    rest on a passage), None for what states nothing: a decline, a lead-in ending in ":".
    """

    text: str
    cited: tuple[int, ...]
    supported: bool | None
    start: int = 0  # offsets in the answer's text
    end: int = 0
    supports: tuple[bool, ...] = ()  # for each cited passage: does it support the sentence?
    attributed: bool = False  # the citation is dossier's: the model copied the passage bare
    # (passage number, start, end) of the window of each cited passage that supports it
    windows: tuple[tuple[int, int, int], ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "cited": list(self.cited),
            "supported": self.supported,
            "supports": list(self.supports),
            "attributed": self.attributed,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    mode: str  # "ollama" | "openai" | "extractive"
    model: str | None
    answerable: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]  # what the answer was given, numbered from 1
    claims: tuple[ClaimCheck, ...] = ()
    standalone: str = ""  # the question as retrieved (a follow-up rewritten)
    notice: str | None = None  # e.g. why auto mode fell back to extractive
    reason: str = ""  # why dossier declined, or how the extractive sentences were chosen
    timings_ms: dict = field(default_factory=dict)
    # "unsupported": the LLM's answer had no supported claim answering the question, and these
    # are the extractive quotes (or the decline) instead; "llm-error": the LLM failed (auto).
    fallback: str | None = None
    draft: str | None = None  # the LLM's own answer, when it was set aside (fallback, strict)
    # "fr" or "en": the language of the quotes of an extractive answer, when it is not the
    # question's (an English question about French articles gets French quotes)
    quotes_language: str | None = None

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "mode": self.mode,
            "model": self.model,
            "answerable": self.answerable,
            "citations": [c.to_dict() for c in self.citations],
            "timings_ms": self.timings_ms,
            "standalone_question": self.standalone,
            "claims": [c.to_dict() for c in self.claims],
            "notice": self.notice,
            "reason": self.reason,
            "fallback": self.fallback,
            "draft": self.draft,
            "quotes_language": self.quotes_language,
        }


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer.

    kind: "status" (text), "passages" (passages retrieved), "delta" (text to append to the
    answer), "reset" (discard the text so far: the LLM failed and extractive mode takes over,
    or its answer had no supported claim answering and the quotes follow, or strict left
    sentences out and the kept ones follow; a "status" saying which comes next), "answer" (the
    final `Answer`, always last).
    """

    kind: str
    text: str = ""
    passages: tuple[Passage, ...] = ()
    answer: Answer | None = None


def fit_passages(
    question: str, passages: Sequence[Passage], context_window: int, answer_tokens: int
) -> tuple[list[Passage], str]:
    """The passages (best first) whose prompt fits the context window with room for the answer.

    The least relevant passages are dropped first; if the best alone does not fit, its text is
    cut at a sentence end (or hard) to the room left; LLMError if not even 200 characters fit.
    """
    budget = (context_window - answer_tokens) * CHARS_PER_TOKEN - len(prompts.system_prompt())
    kept = list(passages)
    while kept:
        prompt = prompts.answer_prompt(question, kept)
        if len(prompt) <= budget:
            return kept, prompt
        if len(kept) == 1:
            break
        kept.pop()
    if not kept:
        return [], prompts.answer_prompt(question, [])
    best = kept[0]
    overflow = len(prompts.answer_prompt(question, [best])) - budget
    room = len(best.text) - overflow
    if room < MIN_PASSAGE_CHARS:
        needed = answer_tokens + (overflow + MIN_PASSAGE_CHARS) // CHARS_PER_TOKEN + 1
        raise LLMError(
            f"The model's context window ({context_window} tokens) cannot hold the instructions, "
            f"a passage and a {answer_tokens}-token answer: set DOSSIER_CONTEXT_WINDOW to at "
            f"least {context_window + needed} (8192 is the default)."
        )
    cut = best.text[:room]
    stop = max(cut.rfind(". "), cut.rfind(".\n"))
    text = cut[: stop + 1] if stop > room // 2 else cut
    trimmed = replace(best, text=text, end=best.start + len(text))
    return [trimmed], prompts.answer_prompt(question, [trimmed])


class CachedEmbedder:
    """An embedder that remembers the vectors of the last `size` texts it embedded.

    Answers embed the sentences of the passages they were given, and the same passages come
    back question after question; a warm page answers faster for it.
    """

    def __init__(self, embedder, size: int = 20_000) -> None:
        self.inner = embedder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = self.inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._vectors.get(text)
                if vector is None:  # evicted meanwhile by another thread
                    vector = self.inner.embed([text])[0]
                else:
                    self._vectors.move_to_end(text)
                rows.append(vector)
        return np.stack(rows) if rows else self.inner.embed([])


class Assistant:
    """Answers questions about an `Index`. `llm` is "auto", "ollama", "openai", "llamacpp" or
    "extractive"; for "llamacpp", `model` is the path of a GGUF file (run in this process,
    on `threads` threads), and `max_tokens` bounds every backend's answer. `strict` keeps
    only the supported claims of an LLM's answer (off: the others are kept, flagged).

    `openai_base_url` is an OpenAI-compatible server (e.g. "http://gpu-box:8000/v1"), used by
    "openai" and tried first by "auto"; `openai_api_key` defaults to DOSSIER_OPENAI_API_KEY,
    else OPENAI_API_KEY, else a placeholder that local servers ignore.
    """

    def __init__(
        self,
        index: Index,
        *,
        llm: str = "auto",
        model: str | None = None,
        ollama_host: str | None = None,
        context_window: int = 8192,
        timeout: float = 120.0,
        k: int = 5,
        openai_base_url: str | None = None,
        openai_api_key: str | None = None,
        max_tokens: int = 512,
        threads: int | None = None,
        attribute: bool = True,
        strict: bool = True,
    ) -> None:
        self.index = index
        self.strict = strict  # an LLM's answer keeps only its supported claims
        self.attribute = attribute  # cite a bare sentence that copies a passage (_attribute)
        self.max_tokens = max_tokens
        self.threads = threads  # llama.cpp's (llamacpp mode); None: the cores available
        self.llm = llm
        self.model = model
        self.ollama_host = ollama_host
        self.context_window = context_window
        self.timeout = timeout
        self.k = k
        self.openai_base_url = openai_base_url
        self._openai_api_key = openai_api_key  # not shown: kept out of reprs and messages
        self._choices: dict[tuple[str, str | None], tuple[float, Choice]] = {}
        self._embedder: CachedEmbedder | None = None
        self._embedder_lock = threading.Lock()

    @property
    def embedder(self) -> CachedEmbedder:
        """The index's model with a cache of the sentences of passages seen recently."""
        if self._embedder is None:
            embedder = self.index.embedder  # loaded once, however many threads ask at first
            with self._embedder_lock:
                if self._embedder is None:  # one cache, not one per first request
                    self._embedder = CachedEmbedder(embedder)
        return self._embedder

    # -- the LLM ----------------------------------------------------------------------------
    def choice(
        self, model: str | None = None, *, llm: str | None = None, refresh: bool = False
    ) -> Choice:
        """Which backend answers (probing the LLM server unless extractive), cached a while.

        `llm` and `model` override the assistant's settings for one question.
        """
        self.check_model(model)
        model, llm = model or self.model, llm or self.llm
        cached = self._choices.get((llm, model))
        if cached and not refresh and time.monotonic() - cached[0] < CHOICE_TTL:
            return cached[1]
        choice = choose_backend(
            llm,
            host=self.ollama_host,
            model=model,
            context_window=self.context_window,
            timeout=self.timeout,
            openai_base_url=self.openai_base_url,
            openai_api_key=self._openai_api_key,
            max_tokens=self.max_tokens,
            threads=self.threads,
        )
        self._choices[(llm, model)] = (time.monotonic(), choice)
        if len(self._choices) > MAX_CHOICES:  # model names come from API clients: bound them
            oldest = min(self._choices, key=lambda key: self._choices[key][0])
            self._choices.pop(oldest, None)
        return choice

    def check_model(self, model: str | None) -> None:
        """ConfigError when a question names a GGUF file it may not load (see `_may_load`)."""
        if model and model != self.model and is_gguf_path(model) and not self._may_load(model):
            raise ConfigError(
                f"The model {model!r} is a file path: a question cannot load a GGUF file of its "
                "own. Ask with the model this assistant was started with (--model), or a "
                "server's model name."
            )

    def _may_load(self, model: str) -> bool:
        """A GGUF path a question may name: the configured model's file, or the bundled one
        (what `--llm llamacpp` loads without --model). Nothing else: the page and the API
        take model names from their users, and a path would let them load any file."""
        allowed = [p for p in (self.model, bundled_gguf()) if p and is_gguf_path(str(p))]
        try:
            wanted = Path(model).expanduser().resolve()
            return any(Path(p).expanduser().resolve() == wanted for p in allowed)
        except OSError:
            return False

    # -- answering --------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[dict] = (), **options) -> Answer:
        """The whole answer at once (see `stream` for the options)."""
        for event in self.stream(question, history, **options):
            if event.kind == "answer":
                assert event.answer is not None
                return event.answer
        raise AssertionError("stream ended without an answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        history: Sequence[dict] = (),
        *,
        k: int | None = None,
        after: str | None = None,
        before: str | None = None,
        source: str | None = None,
        model: str | None = None,
        llm: str | None = None,
        strict: bool | None = None,
    ) -> Iterator[Event]:
        """Answer `question` step by step; the last event carries the `Answer`. `strict`
        (default: the assistant's) keeps only an LLM answer's supported claims.

        Raises LLMError in `ollama`/`openai` mode when the LLM fails; `auto` falls back instead.
        """
        question = question.strip()
        if not question:
            raise ConfigError("Ask a question: the question is empty.")
        if len(question) > MAX_QUESTION_CHARS:
            raise ConfigError(
                f"The question is {len(question)} characters long; ask in at most "
                f"{MAX_QUESTION_CHARS} (dossier searches the articles for you: no need to paste "
                "them)."
            )
        k = self.k if k is None else k
        started = time.monotonic()
        mode = llm or self.llm
        choice = self.choice(model, llm=mode)
        backend, notice = choice.backend, None
        if backend is None and mode == "auto":
            notice = choice.reason
        yield Event("status", choice.reason)

        standalone, failed_early = question, False
        if history:
            try:
                standalone, why = self._standalone(question, history, backend)
            except LLMError as exc:
                if mode != "auto":
                    raise
                backend, notice = None, self._fell_back(exc, model)
                failed_early = True
                yield Event("status", notice)
                standalone, why = self._standalone(question, history, None)
            if why:
                yield Event("status", why)
        searching = time.monotonic()
        passages = self.index.search(standalone, k, after=after, before=before, source=source)
        retrieved = time.monotonic()
        yield Event("passages", passages=tuple(passages))
        common = {"question": question, "standalone": standalone, "notice": notice}

        def timings() -> dict:
            end = time.monotonic()
            return {
                "retrieve": round((retrieved - searching) * 1000),
                "generate": round((end - retrieved) * 1000),
                "total": round((end - started) * 1000),
                "prepare": round((searching - started) * 1000),  # LLM probe, follow-up rewrite
            }

        # Without an LLM, a name the passages never mention ends it too; an LLM reads the
        # passages and judges for itself ("Embassy" in a question, « ambassade » in the text).
        missing = extractive.missing_names(standalone, passages) if passages and not backend else []
        if not passages or missing:
            if missing:
                why = f"the passages never mention {', '.join(missing)}"
            elif self.index.documents_matching(after=after, before=before, source=source) == set():
                why = "no article matches the date range or source asked for"
            else:
                why = "no passage passes the relevance floor"
            text = DECLINE[question_language(question)]
            yield Event("delta", text)
            yield Event(
                "answer",
                answer=Answer(
                    answer=text,
                    mode=backend.mode if backend else "extractive",
                    model=backend.model if backend else None,
                    answerable=False,
                    citations=(),
                    passages=tuple(passages),
                    timings_ms=timings(),
                    reason=why,
                    **common,
                ),
            )
            return

        reason, fallback = "", "llm-error" if failed_early else None
        if backend is not None:
            try:
                used, text = yield from self._generate(backend, standalone, question, passages)
            except LLMError as exc:
                if mode != "auto":
                    raise
                common["notice"] = self._fell_back(exc, model)
                yield Event("reset")
                yield Event("status", common["notice"])
                backend, fallback = None, "llm-error"
        if backend is not None:
            draft = self._finish(text, used, backend, timings, reason, common)
            if not draft.answerable or self._answers(draft, _asked(question, standalone)):
                keep_supported = self.strict if strict is None else strict
                final = self._strictly(draft) if keep_supported else draft
                if final.answer != draft.answer:
                    yield Event("reset")
                    yield Event("status", final.notice or "")
                    yield Event("delta", final.answer)
                yield Event("answer", answer=final)
                return
            # No supported claim answers the question: the model's text is not an answer.
            set_aside = f"{backend.model}'s answer had no supported claim that answers the question"
            yield Event("reset")
            yield Event("status", f"{set_aside}; quoting the passages instead")
            fallback = "unsupported"
        else:
            draft = None
        used = list(passages)
        text, reason = yield from self._extract(standalone, question, used)
        if fallback == "unsupported":
            common["notice"] = (
                f"{set_aside}; quoted from the passages instead"
                if text not in DECLINE.values()
                else f"{set_aside}, and no passage sentence answers it either"
            )
        answer = self._finish(text, used, None, timings, reason, common)
        if fallback == "unsupported":  # the model answered: its mode stays, its text is set aside
            assert backend is not None and draft is not None
            answer = replace(
                answer,
                mode=backend.mode,
                model=backend.model,
                fallback=fallback,
                draft=draft.answer,
            )
        elif fallback:
            answer = replace(answer, fallback=fallback)
        yield Event("answer", answer=answer)

    def _answers(self, answer: Answer, question: str) -> bool:
        """Whether at least one supported claim of `answer` answers `question`, by the rules
        the extractive answerer keeps to (`extractive.answers`): the claim, or the passage
        sentences it rests on, hold what the question asks for (a number, a date, a sum, a
        cause…), and rest on a passage naming what the question names."""
        passages = answer.passages
        for claim in answer.claims:
            if not claim.supported:
                continue
            rests_on = [passages[n - 1] for n, _, _ in claim.windows]
            sentences = " ".join(passages[n - 1].text[a:b] for n, a, b in claim.windows)
            if extractive.answers(question, claim.text, sentences, rests_on):
                return True
        return False

    def _strictly(self, answer: Answer) -> Answer:
        """`answer` with only its supported claims (and what states nothing, a lead-in) left;
        a list's bare numbers ("1.", "2.") go with the sentences they numbered."""
        drafted = answer.claims
        keep = [c.supported is not False for c in drafted]
        for i, c in enumerate(drafted):  # "2." goes with the sentence it numbers
            if c.supported is None and not re.search(r"[^\W\d_]", c.text):
                keep[i] = i + 1 < len(drafted) and drafted[i + 1].supported is True
        if not any(c.supported is False for c in drafted):
            return answer
        kept = [c for c, k in zip(drafted, keep, strict=True) if k]
        text, claims, previous_end = "", [], 0
        for c in kept:  # each kept claim after the break that stood before it (a paragraph)
            gap = answer.answer[previous_end : c.start]
            text += ("\n\n" if "\n" in gap else " ") if text else ""
            claims.append(replace(c, start=len(text), end=len(text) + len(c.text)))
            text += c.text
            previous_end = c.end
        cited = {n for c in kept if c.supported for n in c.cited}
        return replace(
            answer,
            answer=text,
            claims=tuple(claims),
            citations=tuple(c for c in answer.citations if c.n in cited),
            draft=answer.answer,
            notice=answer.notice
            or f"strict: {sum(1 for c in drafted if c.supported is False)} unsupported "
            "sentence(s) left out",
        )

    def _fell_back(self, exc: LLMError, model: str | None) -> str:
        """Remember, for a while, that the LLM failed (so that the next questions do not wait
        for it again), and say so."""
        notice = f"extractive mode (no LLM) for this answer: {exc}"
        key = ("auto", model or self.model)
        self._choices[key] = (time.monotonic(), Choice(None, f"extractive mode (no LLM): {exc}"))
        return notice

    def _standalone(
        self, question: str, history: Sequence[dict], backend: Backend | None
    ) -> tuple[str, str | None]:
        """The follow-up as a standalone question, and a status note when it was rewritten.

        Raises LLMError when the LLM fails to rewrite it."""
        turns = [
            {
                "role": t["role"],
                "content": _MARKERS.sub("", t["content"])[:MAX_TURN_CHARS],
            }
            for t in list(history)[-HISTORY_TURNS:]
            if isinstance(t, dict)
            and t.get("role") in ("user", "assistant")
            and isinstance(t.get("content"), str)
        ]
        if not turns:
            return question, None
        if backend is not None:
            rewritten = backend.complete(
                "You rewrite follow-up questions. Reply with the question only.",
                prompts.rewrite_prompt(question, turns),
            ).strip()
            rewritten = rewritten.splitlines()[0].strip().strip('"«» ') if rewritten else ""
            if rewritten and len(rewritten) <= MAX_QUESTION_CHARS:
                return rewritten, f"searched for: {rewritten}"
        if not _FOLLOW_UP.search(question) and len(query_terms(question)) >= 3:
            return question, None
        previous = next((t["content"] for t in reversed(turns) if t["role"] == "user"), "")
        if not previous:
            return question, None
        combined = f"{question} ({previous.strip()})"
        return combined, f"searched for: {combined}"

    def _generate(self, backend: Backend, standalone: str, question: str, passages):
        used, prompt = fit_passages(
            standalone if standalone == question.strip() else f"{question.strip()} ({standalone})",
            passages,
            backend.context_window,
            backend.max_answer_tokens,
        )
        if len(used) < len(passages):
            yield Event(
                "status",
                f"{len(passages) - len(used)} least relevant passage(s) left out to fit the "
                f"model's {backend.context_window}-token context window",
            )
        pieces: list[str] = []
        shown = MarkupFilter()  # echoed prompt markup never reaches the page, even briefly
        for piece in backend.stream(prompts.system_prompt(), prompt):
            pieces.append(piece)
            if visible := shown.feed(piece):
                yield Event("delta", visible)
        if rest := shown.flush():
            yield Event("delta", rest)
        return used, strip_markup("".join(pieces))

    def _extract(self, standalone: str, question: str, passages: list[Passage]):
        # Sentences are scored against what is asked now; the previous question's words only
        # helped retrieval, unless the follow-up has no content words of its own.
        found = extractive.extract(_asked(question, standalone), passages, self.embedder)
        if found.answerable:
            text = extractive.answer_text(found)
        else:
            text = DECLINE[question_language(question)]
            yield Event("status", f"declined: {found.reason}")
        yield Event("delta", text)
        return text, found.reason

    def _attribute(self, text: str, used: list[Passage]) -> tuple[str, set[str]]:
        """`text` with a citation added after each sentence that cites nothing but copies a
        passage almost word for word (support at least ATTRIBUTE_THRESHOLD), and those
        sentences. Small models copy the right sentence and leave the [n] out; the sentence
        then rests on that passage as surely as if the model had cited it."""
        parsed = parse_citations(text, len(used))
        bare = [c for c in parsed.claims if not c.cited and _states_something(c.text)]
        if not bare or not used:
            return text, set()
        texts = [p.text for p in used]
        scores = check([c.text for c in bare], [texts] * len(bare), self.embedder)
        pieces, last, attributed = [], 0, set()
        for claim, supports in zip(bare, scores, strict=True):
            n, best = max(enumerate(supports, 1), key=lambda pair: pair[1].score)
            if best.score < ATTRIBUTE_THRESHOLD:
                continue
            pieces += [parsed.text[last : claim.end].rstrip(), f" [{n}]"]
            last = claim.end
            attributed.add(f"{claim.text.rstrip()} [{n}]")
        if not attributed:
            return text, set()
        return "".join([*pieces, parsed.text[last:]]), attributed

    def _finish(self, text: str, used: list[Passage], backend, timings, reason, common) -> Answer:
        attributed: set[str] = set()
        if backend is not None and self.attribute:
            text, attributed = self._attribute(text, used)
        parsed = parse_citations(text, len(used))
        claims = [c for c in parsed.claims if c.cited]
        bare = [re.sub(r"\s*\[\d+\]", "", c.text).strip() for c in claims]
        checks = check(bare, [[used[n - 1].text for n in c.cited] for c in claims], self.embedder)
        best: dict[int, tuple[float, int, int]] = {}
        spans: dict[int, list[tuple[int, int]]] = {}
        claim_checks: list[ClaimCheck] = []
        by_claim = iter(zip(claims, checks, strict=True))
        for claim in parsed.claims:
            if not claim.cited:
                states = backend is not None and _states_something(claim.text)
                claim_checks.append(
                    ClaimCheck(claim.text, (), False if states else None, claim.start, claim.end)
                )
                continue
            _, supports = next(by_claim)
            for n, s in zip(claim.cited, supports, strict=True):
                if s.supported and (s.start, s.end) not in spans.setdefault(n, []):
                    spans[n].append((s.start, s.end))
                if n not in best or s.score > best[n][0]:
                    best[n] = (s.score, s.start, s.end)
            claim_checks.append(
                ClaimCheck(
                    claim.text,
                    claim.cited,
                    any(s.supported for s in supports),
                    claim.start,
                    claim.end,
                    tuple(s.supported for s in supports),
                    claim.text.strip() in attributed,
                    tuple(
                        (n, s.start, s.end)
                        for n, s in zip(claim.cited, supports, strict=True)
                        if s.supported
                    ),
                )
            )
        from .support import SUPPORT_THRESHOLD

        citations = tuple(
            Citation(
                n,
                used[n - 1],
                score >= SUPPORT_THRESHOLD,
                score,
                start,
                end,
                tuple(sorted(spans.get(n) or [(start, end)])),
            )
            for n, (score, start, end) in sorted(best.items())
        )
        declined = not citations and (bool(_DECLINED.search(parsed.text)) or not parsed.text)
        quotes_language = None
        if backend is None:
            declined = not citations
            quoted = guess_language(parsed.text) if not declined else None
            if quoted and quoted != question_language(common["question"]):
                quotes_language = quoted
        elif declined:
            reason = f"{backend.model} said the passages do not hold the answer"
        return Answer(
            answer=parsed.text or DECLINE[question_language(common["question"])],
            mode=backend.mode if backend else "extractive",
            model=backend.model if backend else None,
            answerable=not declined,
            citations=citations,
            passages=tuple(used),
            claims=tuple(claim_checks),
            timings_ms=timings(),
            reason=reason,
            quotes_language=quotes_language,
            **common,
        )
