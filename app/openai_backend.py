"""The OpenAI-compatible backend: any server that speaks OpenAI's chat completions API (vLLM,
llama.cpp's server, LM Studio…), through llama-index's `OpenAILike`.

Everything is passed to `OpenAILike` explicitly (base URL, key, model, context window, answer
length, timeout, retries); llama-index's global `Settings` is never touched. The model is
chosen from the server's own list (`GET {base}/models`). The API key comes from
`DOSSIER_OPENAI_API_KEY`, else `OPENAI_API_KEY`, else a placeholder that local servers ignore;
it is sent as `Authorization: Bearer …` and never shown: error messages are scrubbed of it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .llm import PROBE_TIMEOUT, LLMError, answer_deadline, endless

PLACEHOLDER_KEY = "not-needed"  # the OpenAI SDK insists on a key; vLLM & co. ignore it
# One retry of a refused connection, a 429 or a 5xx (the OpenAI SDK's backoff, under a
# second): a busy local server gets a second chance, a dead one does not stall the answer.
MAX_RETRIES = 1
KEY_FIX = "set DOSSIER_OPENAI_API_KEY to the key the server expects"
URL_FIX = "set --openai-base-url (or DOSSIER_OPENAI_BASE_URL) to where it runs"


def openai_api_key(env: Mapping[str, str] | None = None) -> str:
    """DOSSIER_OPENAI_API_KEY, else OPENAI_API_KEY, else a placeholder."""
    env = os.environ if env is None else env
    return env.get("DOSSIER_OPENAI_API_KEY") or env.get("OPENAI_API_KEY") or PLACEHOLDER_KEY


def base_url(url: str) -> str:
    """The base URL as the SDK wants it: a scheme (http:// when none) and no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def _scrub(text: str, key: str | None) -> str:
    """`text` with the API key masked (some servers echo the key they refused)."""
    if key and key != PLACEHOLDER_KEY and len(key) >= 4:
        text = text.replace(key, "***")
    return text


def _server_message(response, key: str | None) -> str:
    """The message of an error body ({"error": {"message": …}}, {"detail": …}) or its text,
    with the API key masked before it is cut short (so no part of the key survives)."""
    message = " ".join(response.text.split())
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message")
        if error:
            message = str(error)
    return _scrub(message, key)[:200]


def _model_ids(response) -> list[str] | None:
    """The ids of an OpenAI `/models` list, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


def not_reachable(url: str, why: str) -> LLMError:
    return LLMError(
        f"The OpenAI-compatible server is not reachable at {url} ({why}): start it (e.g. "
        f"`vllm serve MODEL`), or {URL_FIX}."
    )


def list_models(url: str, api_key: str, timeout: float = PROBE_TIMEOUT) -> list[str]:
    """The models the server at `url` serves (`GET {url}/models`); LLMError when it cannot
    list them, naming the server and the fix."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise not_reachable(url, f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        why = "connection refused" if isinstance(exc, httpx.ConnectError) else str(exc)
        raise not_reachable(url, _scrub(why, api_key)) from None
    status = response.status_code
    if status in (401, 403):
        raise LLMError(
            f"The OpenAI-compatible server at {url} refused the API key ({status}: "
            f"{_server_message(response, api_key)}): {KEY_FIX}."
        )
    if status == 404 and not url.endswith("/v1"):
        try:
            v1 = httpx.get(f"{url}/v1/models", headers=headers, timeout=timeout)
        except httpx.HTTPError:
            v1 = None
        if v1 is not None and v1.status_code == 200 and _model_ids(v1) is not None:
            raise LLMError(
                f"{url} is not the API's base URL ({url}/models: 404): use {url}/v1 "
                "(--openai-base-url or DOSSIER_OPENAI_BASE_URL)."
            )
    if status >= 500:
        raise LLMError(
            f"The OpenAI-compatible server at {url} failed listing its models ({status}: "
            f"{_server_message(response, api_key)}); check the server's log."
        )
    ids = _model_ids(response) if status == 200 else None
    if ids is None:
        shown = f"{status}" if status != 200 else "not an OpenAI model list"
        raise LLMError(
            f"The server at {url} does not answer like an OpenAI-compatible server (GET "
            f"{url}/models: {shown}): check --openai-base-url / DOSSIER_OPENAI_BASE_URL (it "
            "usually ends in /v1)."
        )
    return ids


def pick_model(available: list[str], wanted: str | None) -> tuple[str | None, str]:
    """`wanted` if the server lists it (exactly, ignoring case, or as the last part of a
    "org/name" id), else the first listed chat model; with a note when `wanted` was passed
    over."""
    if wanted:
        for same in (
            lambda m: m == wanted,
            lambda m: m.casefold() == wanted.casefold(),
            lambda m: m.rsplit("/", 1)[-1].casefold() == wanted.casefold(),
        ):
            found = next((m for m in available if same(m)), None)
            if found:
                return found, ""
    chat = [m for m in available if "embed" not in m.lower()]  # LM Studio lists embedders too
    if not chat:
        return None, ""
    note = f"; {wanted} is not served there" if wanted else ""
    return chat[0], note


@dataclass
class OpenAIBackend:
    """A model on an OpenAI-compatible server through `llama_index.llms.openai_like`,
    streaming."""

    url: str
    model: str
    api_key: str = field(default=PLACEHOLDER_KEY, repr=False)
    context_window: int = 8192
    timeout: float = 120.0  # seconds without a byte from the server (first token included)
    max_answer_tokens: int = 512  # as Ollama's num_predict
    mode: str = "openai"

    def __post_init__(self) -> None:
        from llama_index.llms.openai_like import OpenAILike

        try:
            self._llm = OpenAILike(
                model=self.model,
                api_base=self.url,
                api_key=self.api_key,
                is_chat_model=True,
                is_function_calling_model=False,
                context_window=self.context_window,
                max_tokens=self.max_answer_tokens,
                temperature=0.1,
                timeout=self.timeout,
                max_retries=MAX_RETRIES,
            )
        except ValueError as exc:
            raise LLMError(
                f"The model {self.model} at {self.url} cannot be used through the chat "
                f"completions API ({exc}); choose another with --model."
            ) from None

    def _messages(self, system: str, prompt: str):
        from llama_index.core.llms import ChatMessage, MessageRole

        return [
            ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=prompt),
        ]

    def stream(self, system: str, prompt: str) -> Iterator[str]:
        finished = False
        deadline = time.monotonic() + answer_deadline(self.timeout)
        parts = None
        try:
            parts = self._llm.stream_chat(self._messages(system, prompt))
            for part in parts:
                choices = getattr(part.raw, "choices", None) or []
                if choices and choices[0].finish_reason:
                    finished = True
                if part.delta:
                    yield part.delta
                if not finished and time.monotonic() > deadline:
                    where = f"The OpenAI-compatible server at {self.url}"
                    raise endless(where, self.model, self.timeout)
        except Exception as exc:
            raise self._error(exc) from None
        finally:
            if parts is not None:  # closes the HTTP response when the reply is abandoned
                with contextlib.suppress(Exception):
                    parts.close()
        if not finished:
            raise LLMError(
                f"The answer from the OpenAI-compatible server at {self.url} ({self.model}) was "
                "cut off before its end (no finish_reason); the server may have stopped or run "
                "out of memory: check its log, then ask again."
            )

    def complete(self, system: str, prompt: str) -> str:
        return "".join(self.stream(system, prompt))

    def _error(self, exc: Exception) -> LLMError:
        import httpx
        import openai

        if isinstance(exc, LLMError):
            return exc
        where = f"The OpenAI-compatible server at {self.url}"
        if isinstance(exc, openai.APIStatusError):
            message = exc.message
            if isinstance(exc.body, dict) and exc.body.get("message"):
                message = str(exc.body["message"])
            said = f"{exc.status_code}: {_scrub(message, self.api_key)}"
            if exc.status_code in (401, 403):
                return LLMError(f"{where} refused the API key ({said}): {KEY_FIX}.")
            if exc.status_code == 404:
                return LLMError(
                    f"{where} does not serve the model {self.model} ({said}): "
                    "choose one it lists with --model, or leave --model out to use its first."
                )
            return LLMError(
                f"{where} failed ({said}); check the server's log, or try another "
                "model with --model."
            )
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return LLMError(
                f"{where} did not answer within {self.timeout:g} s ({self.model}); "
                "the model may be busy or too large for the machine: try again, raise "
                "DOSSIER_LLM_TIMEOUT, or choose a smaller model with --model."
            )
        if isinstance(exc, openai.APIConnectionError | httpx.ConnectError):
            return not_reachable(self.url, "connection refused")
        return LLMError(
            f"The answer from the OpenAI-compatible server at {self.url} ({self.model}) broke "
            f"off ({type(exc).__name__}: {_scrub(str(exc), self.api_key)}); ask again, or "
            "check the server's log."
        )
