"""Every LLM server fault, as a user meets it: in `auto` mode an extractive answer that says
why, in `ollama` mode one clear error; never a hang. Each is timed against a bound derived
from the configured timeout (eval.faults.bound: the model list, a whole reply of
ANSWER_TIMEOUTS timeouts, and room for retrieval on busy cores). Through the Assistant, the
`dossier ask` command and the HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import httpx
import pytest

from app.assistant import Assistant
from app.llm import LLMError, answer_deadline
from eval.faults import (
    DENSE_K,
    DENSE_QUESTION,
    DENSE_WINDOW,
    FAULTS,
    QUESTION,
    Fault,
    bound,
    closed_port_url,
    run,
    write_dense_corpus,
)
from tests.ollama_standin import StandInOllama

from .conftest import CORPUS
from .serving import clean_env, dossier_command, serving, sse_events

pytestmark = pytest.mark.integration

TIMEOUT = 1.0  # DOSSIER_LLM_TIMEOUT here: seconds without a byte
FAILING = [f for f in FAULTS if f.says]


@pytest.fixture(scope="module")
def dense_index(tmp_path_factory, embedder):
    """Lottery tables: one-digit numbers, two characters a token where dossier budgets three."""
    from index import Index

    work = tmp_path_factory.mktemp("dense")
    idx = Index(work / "idx", embedder=embedder)
    assert not idx.add([write_dense_corpus(work / "lottery")]).failed
    yield idx
    idx.close()


@pytest.mark.parametrize("fault", FAILING, ids=[f.fault or f.name.split()[0] for f in FAILING])
def test_each_fault_falls_back_in_auto_and_fails_clearly_in_ollama_mode(
    sample_index, dense_index, fault: Fault
):
    auto, _ = run(fault, "auto", sample_index, dense_index, TIMEOUT)
    assert auto.answer is not None, auto.error
    assert auto.answer.mode == "extractive"
    assert fault.says in auto.answer.notice, auto.answer.notice
    assert auto.answer.citations, "the extractive answer quotes its passage"
    assert fault.waits * TIMEOUT <= auto.seconds < bound(TIMEOUT), auto.seconds

    strict, _ = run(fault, "ollama", sample_index, dense_index, TIMEOUT)
    assert strict.error is not None, "ollama mode stops with the message"
    assert fault.says in strict.error
    assert "127.0.0.1:" in strict.error, "the message names the server"
    assert fault.waits * TIMEOUT <= strict.seconds < bound(TIMEOUT), strict.seconds


def test_an_endless_stream_ends_at_the_deadline_and_the_connection_is_closed(sample_index):
    with StandInOllama(models=["llama3.2:3b"], fault="trickle", interval=0.05) as server:
        watchdog = threading.Timer(bound(TIMEOUT), server.stop)  # a failure, not a hang
        watchdog.start()
        helper = Assistant(sample_index, llm="ollama", ollama_host=server.url, timeout=TIMEOUT)
        events, started = [], time.monotonic()
        with pytest.raises(LLMError, match=r"still writing its answer after 3 s"):
            for event in helper.stream(QUESTION):
                events.append(event)
        took = time.monotonic() - started
        # The deadline, plus listing models, retrieval and embedding the question: generous on
        # a loaded machine.
        assert answer_deadline(TIMEOUT) <= took < answer_deadline(TIMEOUT) + 20
        assert sum(e.kind == "delta" for e in events) > 20, "tokens kept coming all along"
        deadline = time.monotonic() + 2
        while server.open_streams and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.open_streams == 0, "dossier hung up on the endless stream"
        watchdog.cancel()


def test_a_slow_first_token_within_the_timeout_is_waited_for(sample_index):
    with StandInOllama(models=["llama3.2:3b"], fault="slow_first_token", delay=1.5) as server:
        answer = Assistant(sample_index, llm="ollama", ollama_host=server.url, timeout=3.0).ask(
            QUESTION
        )
    assert answer.mode == "ollama" and answer.citations


# -- the context window --------------------------------------------------------------------------


@pytest.mark.parametrize("window", [1100, 1500, 2048, 4096, 8192])
def test_the_prompt_dossier_fits_fits_by_the_servers_count(sample_index, window):
    """fit_passages budgets three characters a token; the server, counting its own way, reads
    the whole prompt, with room for the answer, at every window."""
    with StandInOllama(models=["llama3.2:3b"]) as server:
        answer = Assistant(
            sample_index, llm="ollama", ollama_host=server.url, context_window=window, k=10
        ).ask(QUESTION)
        (evaluation,) = server.evaluations
    assert answer.mode == "ollama"
    assert evaluation["num_ctx"] == window
    assert evaluation["evaluated"] == evaluation["prompt_tokens"], "nothing was cut"
    assert evaluation["prompt_tokens"] + 512 <= window


def test_a_model_with_a_smaller_context_length_gets_a_prompt_that_fits_it(sample_index):
    """Ollama clamps num_ctx to the model's own context length (and then cuts the prompt):
    dossier reads that length from /api/show and fits the prompt to it."""
    with StandInOllama(models=["llama3.2:3b"], context_length=1000) as server:
        helper = Assistant(sample_index, llm="ollama", ollama_host=server.url, k=10)
        events = list(helper.stream(QUESTION))
        (evaluation,) = server.evaluations
        (chat,) = server.chats
    answer = events[-1].answer
    assert answer.mode == "ollama" and answer.citations
    assert chat["options"]["num_ctx"] == 1000
    assert evaluation["evaluated"] == evaluation["prompt_tokens"], "nothing was cut"
    statuses = [e.text for e in events if e.kind == "status"]
    assert "its context window of 1000 tokens" in statuses[0]
    assert any("left out to fit the model's 1000-token context window" in s for s in statuses)


def test_a_prompt_the_server_cuts_anyway_is_detected(dense_index):
    """Text that tokenizes densely overflows the window despite the budget; Ollama answers 200
    from the end of the prompt, and prompt_eval_count gives it away."""
    with StandInOllama(models=["llama3.2:3b"]) as server:
        options = {"ollama_host": server.url, "context_window": DENSE_WINDOW, "k": DENSE_K}
        auto = Assistant(dense_index, **options).ask(DENSE_QUESTION)
        (evaluation,) = server.evaluations
        with pytest.raises(LLMError) as caught:
            Assistant(dense_index, llm="ollama", **options).ask(DENSE_QUESTION)
    assert evaluation["prompt_tokens"] > DENSE_WINDOW, "the budget was not enough here"
    assert evaluation["evaluated"] == DENSE_WINDOW // 2 + 2
    assert auto.mode == "extractive"
    message = str(caught.value)
    assert message in auto.notice
    assert f"read only {DENSE_WINDOW // 2 + 2} tokens" in message
    assert "fewer passages (--k)" in message and "ollama show llama3.2:3b" in message


# -- through the command line and the HTTP API ---------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The bundled corpus indexed by `dossier index`, for the commands below."""
    work = tmp_path_factory.mktemp("faults-cli")
    shutil.copytree(CORPUS, work / "corpus")
    done = subprocess.run(
        [*dossier_command(), "index", "corpus", "--index-dir", "idx"],
        cwd=work,
        env=clean_env(closed_port_url()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return work


def ask(work, host: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**clean_env(host), "DOSSIER_LLM_TIMEOUT": str(TIMEOUT)}
    started = time.monotonic()
    done = subprocess.run(
        [*dossier_command(), "ask", QUESTION, "--index-dir", "idx", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, time.monotonic() - started


# A new process loads the embedding model (about 10 s, more on busy cores) before it asks.
PROCESS = 60.0


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["trickle", "slow_first_token", "no_done"])
def test_dossier_ask_falls_back_or_exits_1_without_hanging(workdir, fault):
    says = next(f.says for f in FAULTS if f.fault == fault)
    with StandInOllama(models=["llama3.2:3b"], fault=fault, delay=60) as server:
        auto, auto_took = ask(workdir, server.url, "--json")
        strict, strict_took = ask(workdir, server.url, "--llm", "ollama")
    assert auto.returncode == 0, auto.stderr
    answer = json.loads(auto.stdout)
    assert answer["mode"] == "extractive" and says in answer["notice"]
    assert strict.returncode == 1, strict.stderr
    said = " ".join(strict.stderr.split())  # the terminal's width wraps the message
    assert says in said and server.url in said
    assert "Traceback" not in strict.stderr
    assert auto_took < bound(TIMEOUT) + PROCESS and strict_took < bound(TIMEOUT) + PROCESS


@pytest.mark.slow
def test_dossier_ask_with_ollama_down_exits_2_at_once(workdir):
    closed = closed_port_url()
    strict, took = ask(workdir, closed, "--llm", "ollama")
    said = " ".join(strict.stderr.split())
    assert strict.returncode == 2 and f"not reachable at {closed}" in said
    assert took < bound(TIMEOUT) + PROCESS


@pytest.mark.slow
def test_the_http_api_streams_a_fallback_or_an_error_for_an_endless_stream(workdir):
    with StandInOllama(models=["llama3.2:3b"], fault="trickle", interval=0.05) as standin:
        env = {**clean_env(standin.url), "DOSSIER_LLM_TIMEOUT": str(TIMEOUT)}
        with serving(workdir, env) as url, httpx.Client(base_url=url, timeout=60) as client:
            started = time.monotonic()
            with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as r:
                auto = sse_events(r)
            auto_took = time.monotonic() - started
            standin.fault = "trickle"
            body = {"question": QUESTION, "llm": "ollama"}
            started = time.monotonic()
            with client.stream("POST", "/api/ask/stream", json=body) as r:
                strict = sse_events(r)
            strict_took = time.monotonic() - started
            plain = client.post("/api/ask", json=body)
    kinds = [kind for kind, _ in auto]
    assert kinds.count("delta") > 2 and "reset" in kinds, "the endless text is withdrawn"
    assert kinds[-1] == "answer" and auto[-1][1]["mode"] == "extractive"
    assert "still writing its answer" in auto[-1][1]["notice"]
    assert strict[-1][0] == "error" and "still writing its answer" in strict[-1][1]["error"]
    assert plain.status_code == 502 and "still writing its answer" in plain.json()["detail"]
    assert auto_took < bound(TIMEOUT) and strict_took < bound(TIMEOUT)


def test_the_fault_table_shows_the_message_and_both_times(sample_index, dense_index):
    from eval.faults import table

    fault = next(f for f in FAULTS if f.fault == "500")
    auto, _ = run(fault, "auto", sample_index, dense_index, TIMEOUT)
    strict, _ = run(fault, "ollama", sample_index, dense_index, TIMEOUT)
    header, _, row = table([(fault, auto, strict)]).splitlines()
    assert header == (
        "| fault | message the user sees | time to answer (auto) | time to error (ollama) |"
    )
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "server error (500)" and cells[1] == strict.error
    assert cells[2].endswith("s (extractive)") and cells[3] == f"{strict.seconds:.2f} s"
