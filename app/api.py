"""The JSON API served beside the chat page: search, ask (whole or streamed), health.

Bodies follow the CLI's JSON contract (`dossier search --json`, `dossier ask --json`), so a
script can switch between the two. When an API token is set, every `/api/` request must carry
it as `Authorization: Bearer TOKEN`; anything else gets a bare 401 before the body is read.
The OpenAPI description is at /openapi.json and its page at /docs, served from local files
(no CDN: the machine may be offline, and a docs page should not tell a CDN who reads it).
"""

from __future__ import annotations

import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from index import ConfigError, DossierError, Passage
from index.dates import parse_bound
from index.loaders import DEFAULT_MAX_FILE_MB

from .assistant import MAX_QUESTION_CHARS, Assistant, Event
from .llm import LLM_MODES, LLMError

API_PREFIX = "/api/"
INDEX_PATH = "/api/index"
WRITER_HEADER = "X-Dossier-Writer"
MAX_K = 50  # passages per request: more would only slow the answer and swamp the prompt
MAX_TURNS = 20  # earlier turns a follow-up may carry (the assistant reads the last few)
MAX_TURN_CHARS = 20_000
# Answers computed at once; more wait their turn. Each extractive answer keeps a core busy, and
# an LLM server answers one or two at a time anyway (the page allows 2).
ASK_CONCURRENCY = 4
SSE_EVENTS = "status, passages, delta, reset, answer, error"


# -- request bodies -------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored


def _date(value: str | None, name: str) -> str | None:
    try:
        return parse_bound(value, name)
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix(f"--{name}: ")) from None


class Filters(_Body):
    after: str | None = Field(
        None, description="Only articles dated on or after this day (YYYY-MM-DD)."
    )
    before: str | None = Field(None, description="Only articles dated on or before this day.")
    source: str | None = Field(
        None,
        max_length=200,
        description="Only articles whose source or path contains this (case-insensitive).",
    )

    @field_validator("after")
    @classmethod
    def _after(cls, value: str | None) -> str | None:
        return _date(value, "after")

    @field_validator("before")
    @classmethod
    def _before(cls, value: str | None) -> str | None:
        return _date(value, "before")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only spaces")
    return value


class SearchRequest(Filters):
    query: str = Field(
        ..., min_length=1, max_length=MAX_QUESTION_CHARS, examples=["why was the agent arrested?"]
    )
    k: int = Field(5, ge=1, le=MAX_K, description="Passages to return.")

    _query = field_validator("query")(_not_blank)


class Turn(_Body):
    role: Literal["user", "assistant"]
    content: str = Field(..., max_length=MAX_TURN_CHARS)


class AskRequest(Filters):
    question: str = Field(
        ..., min_length=1, max_length=MAX_QUESTION_CHARS, examples=["Why was the agent arrested?"]
    )
    history: list[Turn] = Field(
        [], max_length=MAX_TURNS, description="Earlier turns, oldest first, for a follow-up."
    )
    k: int | None = Field(
        None, ge=1, le=MAX_K, description="Passages to answer from (default: the server's)."
    )
    llm: str | None = Field(
        None, description=f"LLM mode for this question: {', '.join(LLM_MODES)}."
    )
    model: str | None = Field(None, max_length=200, description="LLM model for this question.")
    strict: bool | None = Field(
        None,
        description="Keep only the LLM's supported claims (default: the server's, DOSSIER_STRICT).",
    )

    _question = field_validator("question")(_not_blank)

    @field_validator("llm")
    @classmethod
    def _llm(cls, value: str | None) -> str | None:
        if value is not None and value not in LLM_MODES:
            raise ValueError(f"must be one of {', '.join(LLM_MODES)}")
        return value


# -- response bodies (the CLI's JSON contract) ------------------------------------------------
class PassageOut(BaseModel):
    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str | None
    path: str
    text: str
    start: int = Field(description="Offset of the passage in its document's text.")
    end: int


class SearchResponse(BaseModel):
    query: str
    passages: list[PassageOut]


class CitationOut(PassageOut):
    n: int = Field(description="The number cited in the answer as [n].")
    supported: bool = Field(description="Does the passage support the sentence citing it?")
    support: float
    sentence: str = Field(description="The passage's sentence that best supports the claim.")
    spans: list[list[int]] = Field(description="Supporting sentences, as offsets in `text`.")


class ClaimOut(BaseModel):
    text: str
    cited: list[int]
    supported: bool | None
    supports: list[bool]
    attributed: bool = Field(
        False, description="The citation is dossier's: the model copied the passage bare."
    )


class AskResponse(BaseModel):
    question: str
    answer: str
    mode: str = Field(description="ollama, openai, llamacpp or extractive.")
    model: str | None
    answerable: bool = Field(description="False when dossier declines: the articles don't say.")
    citations: list[CitationOut]
    timings_ms: dict[str, float]
    standalone_question: str
    claims: list[ClaimOut]
    notice: str | None
    reason: str
    fallback: str | None = Field(
        None,
        description="'unsupported': the LLM's answer had no supported claim answering the "
        "question, and these are the quoted sentences (or the decline) instead; 'llm-error': "
        "the LLM failed and auto mode answered extractively.",
    )
    draft: str | None = Field(
        None, description="The LLM's own answer, when it was set aside (fallback, strict)."
    )
    quotes_language: str | None = Field(
        None,
        description="'fr' or 'en': the language of an extractive answer's quotes, when it is "
        "not the question's.",
    )


class LLMHealth(BaseModel):
    mode: str = Field(
        description="The mode answers would use now: ollama, openai, llamacpp or extractive."
    )
    model: str | None
    reachable: bool = Field(description="Does the configured LLM server answer with a model?")
    reason: str
    models: list[str]


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    chunks: int
    embedding_model: str
    embedding_backend: str
    store: str = Field(description='"embedded", or the URL of the Chroma server.')
    llm: LLMHealth


class Problem(BaseModel):
    detail: str


class IndexRequest(_Body):
    """A `dossier index` run handed over by the CLI on the same machine (not in the schema)."""

    paths: list[str] = Field(..., min_length=1, max_length=1000)
    prune: bool = False
    max_file_mb: float = Field(DEFAULT_MAX_FILE_MB, gt=0)

    @field_validator("paths")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        if not all(Path(p).is_absolute() for p in value):
            raise ValueError("paths must be absolute")
        return value


# -- the app --------------------------------------------------------------------------------
def _passages(passages: tuple[Passage, ...] | list[Passage]) -> list[dict]:
    return [p.to_dict() for p in passages]


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_data(event: Event) -> dict:
    if event.kind == "passages":
        return {"passages": _passages(event.passages)}
    if event.kind == "answer":
        assert event.answer is not None
        return event.answer.to_dict()
    return {"text": event.text}


def _token_ok(given: str | None, token: str) -> bool:
    """`Authorization: Bearer TOKEN` (the scheme in any case, as RFC 6750 allows)."""
    scheme, _, credentials = (given or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return False
    return hmac.compare_digest(credentials.encode(), token.encode())


def create_api(
    assistant: Assistant, *, token: str | None = None, writer_secret: str | None = None
) -> FastAPI:
    """The FastAPI app with dossier's JSON API and its docs; mount the page on it after.

    With `writer_secret` (the one `dossier serve` wrote in the index directory's lock file),
    POST /api/index takes a `dossier index` run from the same machine: the request must carry
    the secret in the X-Dossier-Writer header, which only someone who can read the index
    directory has (the API token is neither needed nor enough)."""
    from fastapi_offline import FastAPIOffline

    api = FastAPIOffline(
        title="dossier",
        summary="Questions about a collection of news articles, answered with citations.",
        version="1",
        redoc_url=None,
        static_url="/api-docs-assets",
        responses={401: {"model": Problem, "description": "Missing or wrong API token."}},
    )
    index = assistant.index

    if token:

        @api.middleware("http")
        async def require_token(request: Request, call_next):
            if (
                request.url.path.startswith(API_PREFIX)
                and request.url.path != INDEX_PATH  # its own secret, checked there
                and not _token_ok(request.headers.get("authorization"), token)
            ):
                return JSONResponse(
                    {"detail": "Unauthorized"}, 401, headers={"WWW-Authenticate": "Bearer"}
                )
            return await call_next(request)

    import httpx
    from chromadb.errors import ChromaError

    store_failures = (ChromaError, httpx.TransportError)

    def store_failed(exc: Exception) -> str:
        return (
            f"The passages {index.store.where} cannot be read ({exc.__class__.__name__}: {exc}); "
            "check the store, then ask again."
        )

    @api.exception_handler(ChromaError)
    @api.exception_handler(httpx.TransportError)
    async def store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": store_failed(exc)}, 503)

    bad_request = {422: {"description": "A field is missing or invalid: `detail` says which."}}

    @api.post("/api/search", response_model=SearchResponse, responses=bad_request, tags=["api"])
    def search(body: SearchRequest) -> dict:
        """The `k` passages that best match `query`, best first (as `dossier search --json`)."""
        passages = index.search(
            body.query, body.k, after=body.after, before=body.before, source=body.source
        )
        return {"query": body.query, "passages": _passages(passages)}

    llm_failed = {
        502: {"model": Problem, "description": "The LLM failed (llm=ollama, openai or llamacpp)."}
    }
    asking = threading.BoundedSemaphore(ASK_CONCURRENCY)

    def check_mode(body: AskRequest) -> None:
        try:
            assistant.check_model(body.model)
        except ConfigError as exc:
            raise HTTPException(
                422,
                [
                    {
                        "type": "value_error",
                        "loc": ["body", "model"],
                        "msg": str(exc),
                        "input": body.model,
                    }
                ],
            ) from None
        if body.llm == "openai" and not assistant.openai_base_url:
            raise HTTPException(
                422,
                [
                    {
                        "type": "value_error",
                        "loc": ["body", "llm"],
                        "msg": "this server has no OpenAI-compatible server configured "
                        "(DOSSIER_OPENAI_BASE_URL): choose auto, ollama or extractive",
                        "input": body.llm,
                    }
                ],
            )

    @api.post(
        "/api/ask",
        response_model=AskResponse,
        responses={**bad_request, **llm_failed},
        tags=["api"],
    )
    def ask(body: AskRequest) -> dict:
        """An answer with its checked citations (as `dossier ask --json`)."""
        check_mode(body)
        try:
            with asking:
                answer = assistant.ask(body.question, _history(body), **_options(body))
        except LLMError as exc:
            raise HTTPException(502, str(exc)) from None
        return answer.to_dict()

    @api.post(
        "/api/ask/stream",
        responses={
            **bad_request,
            200: {
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": f"Server-sent events ({SSE_EVENTS}); each `data` is JSON: "
                "`{text}` for status and delta, `{passages}`, the whole answer (as /api/ask) "
                "last, or `{error}` if the LLM fails.",
            },
        },
        tags=["api"],
    )
    def ask_stream(body: AskRequest) -> StreamingResponse:
        """The answer as server-sent events, text deltas as the LLM writes them."""
        check_mode(body)
        events = assistant.stream(body.question, _history(body), **_options(body))

        def lines() -> Iterator[str]:
            try:
                with asking:
                    for event in events:
                        yield _sse(event.kind, _event_data(event))
            except LLMError as exc:
                yield _sse("error", {"error": str(exc)})
            except store_failures as exc:
                yield _sse("error", {"error": store_failed(exc)})

        return StreamingResponse(
            lines(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.post(INDEX_PATH, include_in_schema=False)
    def index_files(request: Request, body: IndexRequest) -> dict:
        given = request.headers.get(WRITER_HEADER, "")
        if not writer_secret or not hmac.compare_digest(given.encode(), writer_secret.encode()):
            raise HTTPException(403, "Only a `dossier index` on this machine may hand runs over.")
        paths = [Path(p) for p in body.paths]
        try:
            return index.add(paths, prune=body.prune, max_file_mb=body.max_file_mb).to_dict()
        except DossierError as exc:  # the CLI shows the detail as its one line
            raise HTTPException(422, str(exc)) from None
        except (OSError, sqlite3.Error) as exc:
            raise HTTPException(
                500, f"the server could not write its index ({exc.__class__.__name__}: {exc})"
            ) from None

    @api.get("/api/health", response_model=Health, tags=["api"])
    def health() -> dict:
        """Index size, embedding model, and whether the LLM server answers."""
        try:
            choice = assistant.choice()
            llm = {
                "mode": choice.mode,
                "model": choice.model,
                "reachable": choice.backend is not None,
                "reason": choice.reason,
                "models": list(choice.models),
            }
        except LLMError as exc:  # llm=ollama and the server does not answer
            llm = {
                "mode": assistant.llm,
                "model": None,
                "reachable": False,
                "reason": str(exc),
                "models": [],
            }
        return {
            "status": "ok",
            "documents": index.count_documents(),
            "chunks": index.count_chunks(),
            "embedding_model": index.embed_model,
            "embedding_backend": index.backend,
            "store": index.chroma_url or "embedded",
            "llm": llm,
        }

    return api


def _history(body: AskRequest) -> list[dict]:
    return [turn.model_dump() for turn in body.history]


def _options(body: AskRequest) -> dict:
    return {
        "k": body.k,
        "after": body.after,
        "before": body.before,
        "source": body.source,
        "llm": body.llm,
        "model": body.model,
        "strict": body.strict,
    }
