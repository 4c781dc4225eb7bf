"""A stand-in Ollama server for tests: the HTTP API, no model behind it.

What it follows: the parts of Ollama's REST API (https://github.com/ollama/ollama/blob/main/
docs/api.md) that dossier and its clients (`ollama` Python client, llama-index's `Ollama`) use,
with Ollama's status codes, error bodies and framing:

- ``GET /`` and ``HEAD /`` answer "Ollama is running" (text/plain);
- ``GET /api/version`` answers ``{"version": "0.12.6"}``;
- ``GET /api/tags`` lists ``.models`` with name, model, modified_at, size, digest, details;
- ``POST /api/show`` ``{"model": NAME}`` answers modelfile, parameters, template, details and
  model_info (``llama.context_length`` 131072), or 404 ``{"error": "model 'NAME' not found"}``;
- ``POST /api/chat``: a model not in ``.models`` gets 404 ``{"error": "model \\"NAME\\" not
  found, try pulling it first"}``; ``"stream"`` defaults to true as in Ollama, and a streamed
  reply is NDJSON (``application/x-ndjson``) sent with chunked transfer encoding, one object
  per line and a flush after each (pieces of a few words), then a last object with
  ``"done": true``, ``"done_reason": "stop"`` and the counts and durations; ``"stream": false``
  gets one object holding the whole message. An empty ``messages`` list answers as Ollama does
  when it only loads the model (``"done_reason": "load"``). A model name without a tag
  matches the same name with ``:latest``.
- any other path or method: 404 with the body "404 page not found", as Ollama's router does.

What it does not do: run a model, count real tokens (counts are words), or implement the other
endpoints (generate, embed, pull, ps…), tools, images, ``format`` or ``think``. Its answer is
computed from the prompt so that tests can predict it:

- when the last user message holds "Standalone question:" (the follow-up rewriting prompt, with
  "Conversation:" lines "user: …" / "assistant: …" and "Last question: …"), the reply is the
  last question followed by the content words (4+ letters, a few function words left out) of
  the earlier user turns in parentheses: "And what did France do in response? (agent arrested)";
- otherwise it reads the passages fenced as ``<passage n="1" date="…" file="…">…</passage>``
  and the line ``Question: …``, picks the passage sharing the most words with the question
  (casefolded, accents folded, words of 4+ letters; the first one on a tie) and answers with
  that passage's first sentence sharing a word with the question, followed by " [N]"; with no
  such passage: "The articles don't say." or, for a French-looking question, "Les articles ne
  le disent pas." (the question holds " le ", " la ", " les ", " des ", "pourquoi", "quand",
  "qui ", "comment", "combien" or "quel").

``.reply`` (a string, or a callable taking the request's messages) overrides all of this.
``.relay`` hands the chat to a real model instead: a callable taking the messages and the
request's ``options`` and returning ``(pieces, prompt_tokens)``, where ``pieces`` yields the
model's tokens as it writes them; each becomes one NDJSON line the moment it arrives, and the
done line carries the real prompt count (``tests/llm_relay.py`` runs SmolLM2 through
llama.cpp this way). Ollama's framing then carries real tokens, at a real model's pace.
``.fault`` breaks /api/chat on purpose, and can be changed at any time: "404" (model not
found), "500" (runner terminated), "slow" (waits ``.delay`` seconds before the status line),
"slow_first_token" (the status line and headers at once, as Ollama sends them, then
``.delay`` seconds before the first token: a model still loading or reading a long prompt),
"cut" (two content lines, then the connection closes without the done line or the end of the
chunked body), "no_done" (two content lines, then nothing until the server stops), "trickle"
(content lines every ``.interval`` seconds, the answer over and over, never a done line: a
model stuck in a loop that ignores ``num_predict``), "garbage" (status 200 and a line that is
not JSON), and one Ollama itself never shows: "cut_clean" (two content lines in a
close-delimited body that ends cleanly without the done line, as through an HTTP/1.0 proxy).
Without streaming, "cut" and "cut_clean" drop the connection before the status line,
"no_done" and "trickle" stall there and "slow_first_token" answers after the delay. Faults
only touch /api/chat.

The context window, as Ollama handles it: the window is ``options.num_ctx`` when the request
sends it, else 4096 (Ollama's default on a machine without a large GPU), and never more than
the model's own context length (``.context_length``, 131072 unless set; `/api/show` reports
it), as Ollama clamps a larger ``num_ctx`` to what the model was trained for. The prompt's
tokens are counted as words (whitespace-separated, over all messages). A prompt longer than
the window is not refused: Ollama answers 200 from a shortened prompt (its log says
"truncating input prompt") and only ``prompt_eval_count`` in the final message shows it. The
stand-in keeps what current Ollama keeps (ollama/ollama#17427, #17889): the first 4 tokens
(``num_keep``) and the end of the prompt, ``num_ctx // 2 + 2`` tokens in all (older versions
kept the end up to the whole window; either way the start of the prompt, the system message
and the first passages, is lost), and answers from what is left. A request with ``"truncate":
false`` (accepted on /api/chat by recent versions, default true; ollama/ollama#17944) gets
400 ``{"error": "the input length exceeds the context length"}`` instead (the wording of
Ollama's embed endpoint: its chat wording is not documented).
``.evaluations`` records, for each answered chat, the window, the prompt's tokens and how many
were evaluated.

Usage::

    with StandInOllama(models=["llama3.2:3b"]) as server:
        client = ollama.Client(host=server.url)
        ...
        assert server.chats[-1]["options"]["num_ctx"] == 4096
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FAULTS", "StandInOllama", "context_size", "prompt_tokens", "shorten"]

FAULTS = (
    None,
    "404",
    "500",
    "slow",
    "slow_first_token",
    "cut",
    "cut_clean",
    "no_done",
    "trickle",
    "garbage",
)
VERSION = "0.12.6"
DEFAULT_NUM_CTX = 4096  # Ollama's default window below 24 GiB of VRAM (docs: context length)
CONTEXT_LENGTH = 131072  # llama3.2's trained context, as /api/show reports it
NUM_KEEP = 4  # tokens Ollama keeps from the start of a prompt it shortens ("keep=4" in its log)
TOO_LONG = "the input length exceeds the context length"
NO_ANSWER_EN = "The articles don't say."
NO_ANSWER_FR = "Les articles ne le disent pas."
RUNNER_FAILED = "llama runner process has terminated: exit status 2"
WORDS_PER_PIECE = 3
FRENCH_MARKERS = (
    " le ",
    " la ",
    " les ",
    " des ",
    "pourquoi",
    "quand",
    "qui ",
    "comment",
    "combien",
    "quel",
)
# Left out of the words appended to a rewritten question (they carry no topic).
FUNCTION_WORDS = frozenset(
    re.findall(
        r"\S+",
        """what when where which while whom whose that this these those there their they them
        then than with without from into onto about after before does did done have having
        were been being would could should will shall must might also just very more most
        some such only other over under your yours ours mine tell said says
        dans pour avec sans sont était étaient avait avoir être fait faire cette ceux celle
        elle elles leur leurs mais donc alors quoi quel quelle quels quelles comment pourquoi
        quand combien lequel laquelle""",
    )
)

_WORD = re.compile(r"\S+")
_PASSAGE = re.compile(r"<passage\b([^>]*)>\n?(.*?)\n?</passage>", re.DOTALL)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_LETTERS = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _now() -> str:
    """RFC 3339 in UTC, as Ollama writes created_at."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> set[str]:
    """Casefolded, accent-folded words of 4+ letters."""
    return {w for w in _LETTERS.findall(_fold(text)) if len(w) >= 4}


def _looks_french(question: str) -> bool:
    padded = f" {question.casefold()} "
    return any(marker in padded for marker in FRENCH_MARKERS)


def _pieces(text: str, size: int = WORDS_PER_PIECE) -> list[str]:
    """`text` in pieces of `size` words whose concatenation is exactly `text`."""
    tokens = re.findall(r"\s*\S+", text)
    pieces = ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]
    tail = text[len("".join(tokens)) :]  # trailing whitespace
    if tail:
        pieces.append(tail)
    return pieces or [text]


def prompt_tokens(messages: list[Any]) -> int:
    """The prompt's length as the stand-in counts tokens: words, over all messages."""
    return sum(len(_WORD.findall(_content(m))) for m in messages)


def context_size(body: dict, context_length: int = CONTEXT_LENGTH) -> int:
    """The window a chat request gets: its ``options.num_ctx`` (else Ollama's default),
    clamped to the model's context length."""
    options = body.get("options")
    asked = options.get("num_ctx") if isinstance(options, dict) else None
    if not isinstance(asked, int) or isinstance(asked, bool) or asked <= 0:
        asked = DEFAULT_NUM_CTX
    return min(asked, context_length)


def shorten(messages: list[Any], num_ctx: int) -> tuple[list[Any], int]:
    """The messages as the model reads them when their prompt overflows `num_ctx`: the first
    NUM_KEEP tokens and the end, num_ctx // 2 + 2 tokens in all; and the tokens kept."""
    total = prompt_tokens(messages)
    if total <= num_ctx:
        return messages, total
    tail = max(num_ctx // 2 + 2 - NUM_KEEP, 0)
    head_end, tail_start = NUM_KEEP, total - tail  # token positions in the whole prompt
    kept: list[Any] = []
    seen = 0
    for message in messages:
        content = _content(message)
        spans = [m.span() for m in _WORD.finditer(content)]
        first, count = seen, len(spans)
        seen += count
        parts = []
        if first < head_end and count:  # the head lies (partly) in this message
            parts.append(content[: spans[min(head_end - first, count) - 1][1]])
        if first + count > tail_start and count:  # the tail starts in or before it
            parts.append(content[spans[max(tail_start - first, 0)][0] :])
        if parts:
            kept.append({**message, "content": " ".join(parts)})
    return kept, NUM_KEEP + tail


def _content(message: Any) -> str:
    if isinstance(message, dict):
        content = message.get("content")
        return content if isinstance(content, str) else ""
    return ""


def _last_user_message(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content(message)
    return _content(messages[-1]) if messages else ""


def rewrite_reply(prompt: str) -> str:
    """The follow-up rewriting answer: last question + (content words of earlier user turns)."""
    last = None
    for line in prompt.splitlines():
        if line.strip().casefold().startswith("last question:"):
            last = line.split(":", 1)[1].strip()
    turns = []
    for line in prompt.splitlines():
        stripped = line.strip()
        if stripped.casefold().startswith("user:"):
            turns.append(stripped.split(":", 1)[1].strip())
    if last is None:
        last = turns[-1] if turns else ""
    seen: set[str] = set()
    extra: list[str] = []
    for turn in turns:
        if turn == last:
            continue
        for word in _LETTERS.findall(turn):
            word = word.casefold()
            folded = _fold(word)
            if len(word) < 4 or folded in seen or word in FUNCTION_WORDS:
                continue
            if folded in FUNCTION_WORDS:
                continue
            seen.add(folded)
            extra.append(word)
    return f"{last} ({' '.join(extra)})" if extra else last


def passage_answer(prompt: str) -> str:
    """The answer drawn from the fenced passages of `prompt` for its `Question:` line."""
    passages = []
    for order, match in enumerate(_PASSAGE.finditer(prompt)):
        attrs = dict(_ATTR.findall(match.group(1)))
        passages.append((attrs.get("n", str(order + 1)), match.group(2)))
    outside = _PASSAGE.sub("", prompt)
    questions = re.findall(r"^\s*Question:\s*(.*)$", outside, re.MULTILINE)
    if questions:
        question = questions[-1].strip()
    else:
        lines = [line.strip() for line in outside.splitlines() if line.strip()]
        question = lines[-1] if lines else ""
    asked = _words(question)
    best_n, best_text, best_score = None, "", 0
    for n, text in passages:
        score = len(asked & _words(text))
        if score > best_score:
            best_n, best_text, best_score = n, text, score
    if best_n is not None:
        for sentence in _SENTENCE_END.split(" ".join(best_text.split())):
            if asked & _words(sentence):
                return f"{sentence} [{best_n}]"
    return NO_ANSWER_FR if _looks_french(question) else NO_ANSWER_EN


def automatic_reply(messages: list[Any]) -> str:
    prompt = _last_user_message(messages)
    if "Standalone question:" in prompt:
        return rewrite_reply(prompt)
    return passage_answer(prompt)


class _RequestLog(list):
    """The recorded requests; appended to by handler threads under a lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: dict) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for stalled handlers
    allow_reuse_address = True

    def __init__(self, standin: StandInOllama) -> None:
        self.standin = standin
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout, closed stream) is part of the tests, not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.standin.stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StandInOllama"
    sys_version = ""
    server: _Server

    # -- plumbing ---------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def standin(self) -> StandInOllama:
        return self.server.standin

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, None

    def _send(self, status: int, body: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _text(self, status: int, text: str, head: bool = False) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8", head)

    def _not_found(self) -> None:
        self._text(404, "404 page not found")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        raw, body = self._read_body() if method == "POST" else (b"", None)
        self.standin._record(method, path, body)
        try:
            route = {
                ("GET", "/"): self._root,
                ("HEAD", "/"): lambda _body: self._text(200, "Ollama is running", head=True),
                ("GET", "/api/version"): lambda _body: self._json(200, {"version": VERSION}),
                ("GET", "/api/tags"): self._tags,
                ("POST", "/api/show"): self._show,
                ("POST", "/api/chat"): self._chat,
            }.get((method, path))
            if route is None:
                self._not_found()
            elif method == "POST" and body is None and raw:
                self._json(400, {"error": "invalid character in request body"})
            else:
                route(body if isinstance(body, dict) else {})
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # -- endpoints --------------------------------------------------------------------------

    def _root(self, _body: dict) -> None:
        self._text(200, "Ollama is running")

    def _tags(self, _body: dict) -> None:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": self.standin.started_at,
                "size": 2019393189,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": _details(),
            }
            for name in self.standin.models
        ]
        self._json(200, {"models": models})

    def _show(self, body: dict) -> None:
        name = body.get("model") or body.get("name") or ""
        found = self.standin._find_model(name)
        if found is None:
            self._json(404, {"error": f"model '{name}' not found"})
            return
        self._json(
            200,
            {
                "modelfile": f"# Modelfile generated by StandInOllama\nFROM {found}\n",
                "parameters": 'stop "<|start_header_id|>"\nstop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": _details(),
                "model_info": {
                    "general.architecture": "llama",
                    "general.parameter_count": 3212749888,
                    "llama.context_length": self.standin.context_length,
                    "llama.embedding_length": 3072,
                },
                "capabilities": ["completion"],
                "modified_at": self.standin.started_at,
            },
        )

    def _chat(self, body: dict) -> None:
        standin = self.standin
        fault = standin.fault
        name = body.get("model") or ""
        if not name:
            self._json(400, {"error": "model is required"})
            return
        if fault == "slow" and standin.stopping.wait(standin.delay):
            self.close_connection = True
            return
        if fault == "404" or standin._find_model(name) is None:
            self._json(404, {"error": f'model "{name}" not found, try pulling it first'})
            return
        if fault == "500":
            self._json(500, {"error": RUNNER_FAILED})
            return
        stream = body.get("stream")
        stream = True if stream is None else bool(stream)
        if fault == "garbage":
            content_type = "application/x-ndjson" if stream else "application/json; charset=utf-8"
            self._send(200, b"<html>this is not JSON</html>\n", content_type)
            return

        messages = body.get("messages") or []
        if not isinstance(messages, list):
            messages = []
        started = time.perf_counter_ns()
        if not messages:  # Ollama loads the model and says so
            self._chat_reply(stream, name, [], "load", started, 0)
            return
        num_ctx = context_size(body, standin.context_length)
        total = prompt_tokens(messages)
        if total > num_ctx and body.get("truncate") is False:
            self._json(400, {"error": TOO_LONG})
            return
        messages, evaluated = shorten(messages, num_ctx)
        standin.evaluations.append(
            {"num_ctx": num_ctx, "prompt_tokens": total, "evaluated": evaluated}
        )
        if standin.relay is not None and fault is None:
            self._relay(stream, name, messages, body.get("options") or {}, started)
            return
        answer = standin._answer(messages)
        pieces = _pieces(answer)
        if fault in ("cut", "no_done", "cut_clean", "trickle"):
            self._broken_reply(fault, stream, name, pieces)
            return
        if fault == "slow_first_token" and stream:
            self._start_stream()
            if standin.stopping.wait(standin.delay):
                self._drop()
                return
            self._chat_reply(True, name, pieces, "stop", started, evaluated, started_stream=True)
            return
        if fault == "slow_first_token" and standin.stopping.wait(standin.delay):
            self._drop()
            return
        if not stream:
            self._chat_reply(False, name, [answer], "stop", started, evaluated)
            return
        self._chat_reply(True, name, pieces, "stop", started, evaluated)

    def _relay(self, stream: bool, name: str, messages: list, options: dict, started: int):
        """The reply of the real model behind `.relay`, token by token as it comes."""
        pieces, evaluated = self.standin.relay(messages, options)
        self.standin.evaluations.append(
            {
                "num_ctx": context_size({"options": options}),
                "prompt_tokens": evaluated,
                "evaluated": evaluated,
            }
        )
        if not stream:
            self._chat_reply(False, name, ["".join(pieces)], "stop", started, evaluated)
            return
        self._start_stream()
        written: list[str] = []
        try:
            for piece in pieces:
                written.append(piece)
                self._chunk(_line(_part(name, piece)))
        except OSError:  # the client went away: stop the model too
            close = getattr(pieces, "close", None)
            if close:
                close()
            self.close_connection = True
            return
        self._chat_reply(
            True, name, [], "stop", started, evaluated, started_stream=True, written=written
        )

    def _broken_reply(self, fault: str, stream: bool, name: str, pieces: list[str]) -> None:
        """Two content lines and no done line: the connection drops ("cut"), the body ends
        cleanly ("cut_clean") or nothing more comes until stop() ("no_done"); or content lines
        every `.interval` seconds until stop() ("trickle"). Without streaming, "cut" drops the
        connection and "no_done" and "trickle" stall before the status line."""
        if not stream:
            if fault in ("no_done", "trickle"):
                self.standin.stopping.wait()
            self._drop()
            return
        if fault == "trickle":
            self._start_stream()
            sent = 0
            with self.standin._streaming():
                while True:  # ends when the client goes (a broken pipe) or the server stops
                    self._chunk(_line(_part(name, pieces[sent % len(pieces)])))
                    sent += 1
                    if self.standin.stopping.wait(self.standin.interval):
                        self._drop()
                        return
        pieces = [*pieces[:2], "", ""][:2]
        lines = [_line(_part(name, piece)) for piece in pieces]
        if fault == "cut_clean":  # the framing an HTTP/1.0 proxy would use: close-delimited
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            for line in lines:
                self.wfile.write(line)
                self.wfile.flush()
            self._drop()
            return
        self._start_stream()
        for line in lines:
            self._chunk(line)
        if fault == "no_done":
            self.standin.stopping.wait()
        self._drop()  # no done line, no last chunk

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chat_reply(
        self,
        stream: bool,
        name: str,
        pieces: list[str],
        reason: str,
        started: int,
        evaluated: int,
        started_stream: bool = False,
        written: list[str] = (),
    ) -> None:
        answer = "".join([*written, *pieces])
        final = _part(name, "" if stream else answer)
        final["done"] = True
        final["done_reason"] = reason
        if reason == "stop":
            elapsed = max(time.perf_counter_ns() - started, 1000)
            final.update(
                total_duration=elapsed + 2_000_000,
                load_duration=1_000_000,
                prompt_eval_count=evaluated,
                prompt_eval_duration=500_000,
                eval_count=len(written) or len(answer.split()),
                eval_duration=elapsed + 500_000,
            )
        if not stream:
            self._json(200, final)
            return
        if not started_stream:
            self._start_stream()
        for piece in pieces:
            self._chunk(_line(_part(name, piece)))
        self._chunk(_line(final))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _details() -> dict:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


def _part(model: str, content: str) -> dict:
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": content},
        "done": False,
    }


def _line(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


class StandInOllama:
    """A running stand-in Ollama server on 127.0.0.1 and a free port; see the module doc."""

    def __init__(
        self,
        models: Iterable[str] = ("llama3.2:3b",),
        *,
        fault: str | None = None,
        delay: float = 5.0,
        interval: float = 0.1,
        context_length: int = CONTEXT_LENGTH,
        reply: str | Callable[[list[dict]], str] | None = None,
        relay: Callable[[list[dict], dict], tuple[Iterable[str], int]] | None = None,
    ) -> None:
        self.relay = relay
        self.models = list(models)
        self.fault = fault
        self.delay = delay
        self.interval = interval
        self.context_length = context_length
        self.reply = reply
        self.requests: _RequestLog = _RequestLog()
        self.evaluations: _RequestLog = _RequestLog()
        self._streams = 0
        self._streams_lock = threading.Lock()
        self.stopping = threading.Event()
        self.started_at = _now()
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.host_port = f"{host}:{port}"
        self.url = f"http://{self.host_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"StandInOllama {self.host_port}",
            daemon=True,
        )
        self._thread.start()

    # -- settable state ---------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        return self._models

    @models.setter
    def models(self, names: Iterable[str]) -> None:
        self._models = list(names)

    @property
    def fault(self) -> str | None:
        return self._fault

    @fault.setter
    def fault(self, value: str | None) -> None:
        if value not in FAULTS:
            raise ValueError(f"unknown fault {value!r}; use one of {FAULTS}")
        self._fault = value

    @property
    def chats(self) -> list[Any]:
        """The bodies of the /api/chat requests, oldest first."""
        return [
            r["body"]
            for r in self.requests.snapshot()
            if r["method"] == "POST" and r["path"] == "/api/chat"
        ]

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> StandInOllama:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving; stalled handlers are released and open connections dropped."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._server.sockets_lock:
            sockets = list(self._server.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=1)

    # -- used by the handler ----------------------------------------------------------------

    @property
    def open_streams(self) -> int:
        """Endless ("trickle") replies still being written: 0 once their clients hang up."""
        with self._streams_lock:
            return self._streams

    @contextlib.contextmanager
    def _streaming(self):
        with self._streams_lock:
            self._streams += 1
        try:
            yield
        finally:
            with self._streams_lock:
                self._streams -= 1

    def _record(self, method: str, path: str, body: Any) -> None:
        self.requests.append({"method": method, "path": path, "body": body})

    def _find_model(self, name: str) -> str | None:
        models = self.models
        if name in models:
            return name
        if ":" not in name and f"{name}:latest" in models:
            return f"{name}:latest"
        return None

    def _answer(self, messages: list[Any]) -> str:
        reply = self.reply
        if callable(reply):
            return reply(messages)
        if reply is not None:
            return reply
        return automatic_reply(messages)
