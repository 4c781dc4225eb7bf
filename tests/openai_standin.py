"""A stand-in OpenAI-compatible server for tests: the chat completions API, no model behind it.

What it follows: the parts of OpenAI's REST API (https://platform.openai.com/docs/api-reference)
that vLLM, llama.cpp's server and LM Studio serve under ``/v1`` and that dossier and its
clients (the ``openai`` SDK under llama-index's ``OpenAILike``) use:

- ``GET /v1/models``: ``{"object": "list", "data": [{"id", "object": "model", "created",
  "owned_by"}]}``;
- ``POST /v1/chat/completions`` with ``model`` and ``messages``: without ``"stream": true`` one
  ``chat.completion`` object (``choices[0].message.content``, ``finish_reason: "stop"``,
  ``usage``); with it, Server-Sent Events (``text/event-stream``, chunked): a first chunk with
  ``delta.role``, one ``chat.completion.chunk`` per piece of a few words in
  ``choices[0].delta.content``, a last chunk with an empty delta and ``finish_reason: "stop"``,
  then ``data: [DONE]``;
- errors as OpenAI writes them: ``{"error": {"message", "type", "param", "code"}}`` with 401
  (``.api_key`` set and the ``Authorization: Bearer`` header missing or different; the message
  quotes the key it refused, as some servers do), 404 (a
  model not in ``.models``, or an unknown path), 400 (a body that is not JSON, no messages).

The answer is computed from the prompt exactly as the stand-in Ollama computes it
(`tests.ollama_standin.automatic_reply`): the passage sharing most words with the question,
its first such sentence, " [N]". ``.reply`` (a string, or a callable taking the messages)
overrides it.

``.fault`` breaks /v1/chat/completions on purpose, and can be changed at any time: "404"
(model not found), "500" (an internal error body), "slow" (the first token comes after
``.delay`` seconds: streamed, the status line and the role chunk come at once, as from vLLM;
not streamed, nothing comes until then), "cut" (two content chunks, then the connection
closes mid-body), "no_finish" (two content chunks and ``[DONE]``, the body ending cleanly with
no ``finish_reason``), "trickle" (content chunks every ``.interval`` seconds, the answer over and
over, never a ``finish_reason``: a model in a loop; not streamed, nothing comes until the
server stops), "garbage" (status 200 and a data line that is not JSON).
``.models_fault`` breaks /v1/models: "html" (a 200 web page, as a router's login page) or
"500".

Every request is recorded (method, path, headers, body): ``.chats`` holds the chat bodies and
``.requests`` everything, to check the prompt and the key sent.

Usage::

    with StandInOpenAI(models=["Qwen/Qwen2.5-7B-Instruct"]) as server:
        OpenAILike(api_base=server.base_url, ...)
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.ollama_standin import _pieces, _RequestLog, automatic_reply

__all__ = ["FAULTS", "MODELS_FAULTS", "StandInOpenAI"]

FAULTS = (None, "404", "500", "slow", "cut", "no_finish", "trickle", "garbage")
MODELS_FAULTS = (None, "html", "500")
SERVER_ERROR = "The server had an error while processing your request."


def _error(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, standin: StandInOpenAI) -> None:
        self.standin = standin
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.standin.stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StandInOpenAI"
    sys_version = ""
    server: _Server

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
    def standin(self) -> StandInOpenAI:
        return self.server.standin

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode(), "application/json")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj: Any) -> None:
        data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
        self._chunk(f"data: {data}\n\n".encode())

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.standin.requests.append(
            {"method": method, "path": path, "headers": dict(self.headers), "body": body}
        )
        try:
            route = {
                ("GET", "/v1/models"): self._models,
                ("POST", "/v1/chat/completions"): self._chat,
            }.get((method, path))
            if route is None:
                self._json(
                    404, _error(f"Not Found: {method} {path}", "invalid_request_error", None)
                )
            elif not self._authorized():
                self._json(
                    401,
                    _error(
                        # Echoing the key refused, as some servers do: dossier must mask it.
                        "Incorrect API key provided: "
                        + (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                        + ". You can find your API key in your server's settings.",
                        "invalid_request_error",
                        "invalid_api_key",
                    ),
                )
            elif method == "POST" and not isinstance(body, dict):
                self._json(
                    400, _error("We could not parse the JSON body.", "invalid_request_error", None)
                )
            else:
                route(body or {})
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _authorized(self) -> bool:
        key = self.standin.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _models(self, _body: dict) -> None:
        fault = self.standin.models_fault
        if fault == "html":
            self._send(200, b"<html><body>router login</body></html>", "text/html")
            return
        if fault == "500":
            self._json(500, _error(SERVER_ERROR, "server_error", None))
            return
        data = [
            {"id": name, "object": "model", "created": self.standin.created, "owned_by": "standin"}
            for name in self.standin.models
        ]
        self._json(200, {"object": "list", "data": data})

    def _chat(self, body: dict) -> None:
        standin = self.standin
        fault = standin.fault
        name = body.get("model") or ""
        messages = body.get("messages")
        if not name or not isinstance(messages, list) or not messages:
            missing = "model" if not name else "messages"
            self._json(
                400, _error(f"'{missing}' is required", "invalid_request_error", None, missing)
            )
            return
        if fault == "slow" and not body.get("stream") and standin.stopping.wait(standin.delay):
            self.close_connection = True
            return
        if fault == "404" or name not in standin.models:
            self._json(
                404,
                _error(
                    f"The model `{name}` does not exist.",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
            return
        if fault == "500":
            self._json(500, _error(SERVER_ERROR, "server_error", None))
            return
        answer = standin._answer(messages)
        ident = f"chatcmpl-{standin._next_id()}"
        if not body.get("stream"):
            if fault == "trickle":
                standin.stopping.wait()
            if fault in ("cut", "no_finish", "trickle"):
                self._drop()
                return
            if fault == "garbage":
                self._send(200, b"<html>this is not JSON</html>", "application/json")
                return
            words = sum(
                len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict)
            )
            self._json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": name,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": words,
                        "completion_tokens": len(answer.split()),
                        "total_tokens": words + len(answer.split()),
                    },
                },
            )
            return
        self._stream(ident, name, answer, fault)

    def _stream(self, ident: str, name: str, answer: str, fault: str | None) -> None:
        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if fault == "garbage":
            self._event("<html>this is not JSON</html>")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        self._event(chunk({"role": "assistant", "content": ""}))
        if fault == "slow" and self.standin.stopping.wait(self.standin.delay):
            self._drop()
            return
        pieces = _pieces(answer)
        if fault == "trickle":
            sent = 0
            while True:  # ends when the client goes (a broken pipe) or the server stops
                self._event(chunk({"content": pieces[sent % len(pieces)]}))
                sent += 1
                if self.standin.stopping.wait(self.standin.interval):
                    self._drop()
                    return
        if fault in ("cut", "no_finish"):
            pieces = pieces[:2]
        for piece in pieces:
            self._event(chunk({"content": piece}))
        if fault == "cut":
            self._drop()  # no last chunk of the chunked body
            return
        if fault != "no_finish":
            self._event(chunk({}, "stop"))
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class StandInOpenAI:
    """A running stand-in OpenAI-compatible server on 127.0.0.1 and a free port; see the module
    doc. ``.base_url`` ends in ``/v1``; ``.url`` is the server's root."""

    def __init__(
        self,
        models: Iterable[str] = ("Qwen/Qwen2.5-7B-Instruct",),
        *,
        api_key: str | None = None,
        fault: str | None = None,
        models_fault: str | None = None,
        delay: float = 5.0,
        interval: float = 0.1,
        reply: str | Callable[[list[dict]], str] | None = None,
    ) -> None:
        self.models = list(models)
        self.api_key = api_key
        self.fault = fault
        self.models_fault = models_fault
        self.delay = delay
        self.interval = interval
        self.reply = reply
        self.requests = _RequestLog()
        self.stopping = threading.Event()
        self.created = int(time.time())
        self._ids = 0
        self._ids_lock = threading.Lock()
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.base_url = f"{self.url}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"StandInOpenAI {host}:{port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def fault(self) -> str | None:
        return self._fault

    @fault.setter
    def fault(self, value: str | None) -> None:
        if value not in FAULTS:
            raise ValueError(f"unknown fault {value!r}; use one of {FAULTS}")
        self._fault = value

    @property
    def models_fault(self) -> str | None:
        return self._models_fault

    @models_fault.setter
    def models_fault(self, value: str | None) -> None:
        if value not in MODELS_FAULTS:
            raise ValueError(f"unknown models fault {value!r}; use one of {MODELS_FAULTS}")
        self._models_fault = value

    @property
    def chats(self) -> list[Any]:
        """The bodies of the /v1/chat/completions requests, oldest first."""
        return [
            r["body"]
            for r in self.requests.snapshot()
            if r["method"] == "POST" and r["path"] == "/v1/chat/completions"
        ]

    def __enter__(self) -> StandInOpenAI:
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

    def _next_id(self) -> int:
        with self._ids_lock:
            self._ids += 1
            return self._ids

    def _answer(self, messages: list[Any]) -> str:
        if callable(self.reply):
            return self.reply(messages)
        if self.reply is not None:
            return self.reply
        return automatic_reply(messages)
