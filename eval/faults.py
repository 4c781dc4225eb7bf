"""What a user sees when the LLM server fails, and how long it takes: every fault of the
stand-in Ollama server (tests/ollama_standin.py), asked in `auto` mode (dossier answers in
extractive mode and says why) and in `ollama` mode (dossier stops with the message).

    python -m eval.faults [--timeout 2] [--index-dir DIR]

Run it from a checkout: it uses the tests' stand-in server. It indexes the bundled article
and a small corpus of lottery results (lines of one-digit numbers, which a real tokenizer
cuts into one token per two characters, where dossier budgets three) into DIR (a
temporary folder by default), then prints a markdown table: fault | message the user sees |
time to answer (auto) | time to error (ollama). `--timeout` is DOSSIER_LLM_TIMEOUT (seconds
without a byte); a whole reply may take `ANSWER_TIMEOUTS` times as long.
"""

from __future__ import annotations

import argparse
import random
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.assistant import Answer, Assistant
from app.llm import PROBE_TIMEOUT, LLMError, answer_deadline
from index.core import Index

ROOT = Path(__file__).resolve().parent.parent
MODEL = "llama3.2:3b"
QUESTION = "Why was the agent arrested?"
DENSE_QUESTION = "Which numbers came up in the lottery draws?"
DENSE_WINDOW = 8192  # tokens: dossier's default window
DENSE_K = 30  # passages asked for: what the window takes of them comes to 9,000 tokens
SMALL_MODEL_WINDOW = 2048  # the model's own context length in the "model's window" row
# Seconds beyond the LLM's own bounds that an answer may take: retrieval and the extractive
# answer on two cores shared with other work (about 0.1 s when quiet), generously.
EXTRA = 30.0


@dataclass(frozen=True)
class Fault:
    """One way the LLM server fails, as the stand-in plays it."""

    name: str
    says: str  # a fragment of the message the user sees ("" when Ollama answers after all)
    fault: str | None = None  # the stand-in's .fault
    refused: bool = False  # no server listening at OLLAMA_HOST
    dense: bool = False  # asked on the lottery corpus, 30 passages in an 8192-token window
    context_length: int | None = None  # the model's own context length (/api/show)
    waits: int = 0  # LLM timeouts the fault must last at least (a lower bound on its time)


FAULTS = (
    Fault("connection refused (no server)", "not reachable at", refused=True),
    Fault("model not found (404)", "ollama pull llama3.2:3b", "404"),
    Fault("server error (500)", "failed (500", "500"),
    Fault("no status line (silence after the request)", "did not answer within", "slow", waits=1),
    Fault(
        "slow first token (headers, then silence)",
        "did not answer within",
        "slow_first_token",
        waits=1,
    ),
    Fault("stream cut mid-answer (connection dropped)", "broke off", "cut"),
    Fault("stream ends cleanly without `done`", "cut off before its end", "cut_clean"),
    Fault("no `done`, then silence", "did not answer within", "no_done", waits=1),
    Fault(
        "no `done`, tokens forever",
        "was still writing its answer",
        "trickle",
        waits=3,
    ),
    Fault("a reply that is not JSON", "broke off", "garbage"),
    Fault(
        f"model's context length ({SMALL_MODEL_WINDOW}) below the window asked (8192)",
        "",
        context_length=SMALL_MODEL_WINDOW,
    ),
    Fault("prompt over the context window (dense text)", "read only", dense=True),
)


@dataclass(frozen=True)
class Outcome:
    """What one question gave: an answer (auto, or an LLM that answered) or an error."""

    seconds: float
    answer: Answer | None = None
    error: str | None = None
    status: str = ""  # the status line: which mode answers, and why

    @property
    def message(self) -> str:
        if self.error is not None:
            return self.error
        assert self.answer is not None
        return self.answer.notice or f"(answered) {self.status}"


def bound(timeout: float) -> float:
    """The most any question may take here: the model list and the model's context length
    (PROBE_TIMEOUT each), a whole reply, and EXTRA."""
    return 2 * PROBE_TIMEOUT + answer_deadline(timeout) + EXTRA


def closed_port_url() -> str:
    """The URL of a port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def write_dense_corpus(folder: Path, articles: int = 4, draws: int = 20) -> Path:
    """Lottery results: lines of 150 one-digit numbers (deterministic), about 40 passages."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for a in range(articles):
        lines = [f"Lottery results, week {a + 1}", ""]
        for d in range(draws):
            digits = " ".join(str(rng.randrange(10)) for _ in range(150))
            lines.append(f"Lottery draw {a * draws + d + 1} numbers: {digits}.")
        (folder / f"2025-06-0{a + 1}-lottery.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder


def run(
    fault: Fault, mode: str, index: Index, dense_index: Index, timeout: float
) -> tuple[Outcome, list[dict]]:
    """Ask once with `fault` in `mode` ("auto" or "ollama"); the outcome, and the stand-in's
    evaluations (window, prompt tokens, tokens read) of the chats it answered."""
    from tests.ollama_standin import StandInOllama

    standin = StandInOllama(models=[MODEL], fault=fault.fault, delay=10 * timeout + 5)
    if fault.context_length:
        standin.context_length = fault.context_length
    # Should dossier not stop by itself, stopping the server ends the question (late: the
    # time then exceeds the bound, which the tests check).
    watchdog = threading.Timer(bound(timeout) + 5, standin.stop)
    watchdog.start()
    try:
        url = closed_port_url() if fault.refused else standin.url
        options = {"llm": mode, "ollama_host": url, "timeout": timeout}
        if fault.dense:
            assistant = Assistant(dense_index, context_window=DENSE_WINDOW, k=DENSE_K, **options)
            question = DENSE_QUESTION
        else:
            assistant = Assistant(index, **options)
            question = QUESTION
        started, status, answer = time.monotonic(), "", None
        try:
            for event in assistant.stream(question):
                status = status or (event.text if event.kind == "status" else "")
                answer = event.answer or answer
        except LLMError as exc:
            return Outcome(time.monotonic() - started, error=str(exc)), standin.evaluations
        outcome = Outcome(time.monotonic() - started, answer=answer, status=status)
        return outcome, standin.evaluations
    finally:
        watchdog.cancel()
        standin.stop()


def table(rows: list[tuple[Fault, Outcome, Outcome]]) -> str:
    lines = [
        "| fault | message the user sees | time to answer (auto) | time to error (ollama) |",
        "|---|---|---|---|",
    ]
    for fault, auto, strict in rows:
        message = strict.message if strict.error else auto.message
        message = message.replace("|", "\\|")
        auto_time = f"{auto.seconds:.2f} s ({auto.answer.mode if auto.answer else 'error'})"
        strict_time = (
            f"{strict.seconds:.2f} s" if strict.error else f"{strict.seconds:.2f} s (answered)"
        )
        lines.append(f"| {fault.name} | {message} | {auto_time} | {strict_time} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=2.0, help="DOSSIER_LLM_TIMEOUT (s)")
    parser.add_argument("--index-dir")
    args = parser.parse_args()
    work = Path(args.index_dir or tempfile.mkdtemp(prefix="dossier-faults-"))
    dense = write_dense_corpus(work / "lottery")
    with Index(work / "sample") as index, Index(work / "dense") as dense_index:
        index.add([ROOT / "corpus"])
        dense_index.add([dense])
        Assistant(index, llm="extractive").ask(QUESTION)  # warm up the model and caches
        rows = []
        for fault in FAULTS:
            auto, _ = run(fault, "auto", index, dense_index, args.timeout)
            strict, _ = run(fault, "ollama", index, dense_index, args.timeout)
            rows.append((fault, auto, strict))
    print(
        f"DOSSIER_LLM_TIMEOUT {args.timeout:g} s: a whole reply may take "
        f"{answer_deadline(args.timeout):g} s; every question here is bounded by "
        f"{bound(args.timeout):g} s (model list and /api/show {PROBE_TIMEOUT:g} s each + "
        f"reply + {EXTRA:g} s)."
    )
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
