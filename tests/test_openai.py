"""`--llm openai`: answers from an OpenAI-compatible server (here the stand-in,
tests/openai_standin.py), exactly as from vLLM or llama.cpp's server: what dossier sends (system
message, fenced passages, answer length, the key), the model it picks, what it makes of the
replies, each fault's message, and `auto`'s order (OpenAI-compatible server, Ollama,
extractive)."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from app.assistant import Assistant
from app.llm import LLMError
from tests.ollama_standin import StandInOllama
from tests.openai_standin import StandInOpenAI
from tests.test_assistant import QUESTION, closed_port_url, user_message

pytestmark = pytest.mark.integration

MODEL = "Qwen/Qwen2.5-7B-Instruct"
KEY = "sk-dossier-test-1234"


@pytest.fixture
def server():
    with StandInOpenAI(models=[MODEL, "llama-3.2-3b-instruct"]) as standin:
        yield standin


def assistant(idx, base_url: str, **kwargs) -> Assistant:
    kwargs.setdefault("llm", "openai")
    kwargs.setdefault("ollama_host", closed_port_url())
    return Assistant(idx, openai_base_url=base_url, timeout=kwargs.pop("timeout", 5.0), **kwargs)


def test_openai_answer_streams_cites_and_is_checked(sample_index, server, monkeypatch):
    monkeypatch.setenv("DOSSIER_OPENAI_API_KEY", KEY)
    server.api_key = KEY
    events = list(assistant(sample_index, server.base_url).stream(QUESTION))
    assert events[0].kind == "status" and "OpenAI-compatible server" in events[0].text
    assert [e.kind for e in events].count("delta") > 2, "the answer arrives piece by piece"
    answer = events[-1].answer
    assert (answer.mode, answer.model, answer.answerable) == ("openai", MODEL, True)
    assert "".join(e.text for e in events if e.kind == "delta").strip() == answer.answer
    assert answer.citations and all(c.supported for c in answer.citations)
    assert answer.to_dict()["mode"] == "openai"

    (chat,) = server.chats
    assert chat["model"] == MODEL and chat["stream"] is True
    assert chat["max_tokens"] == 512, "the answer is capped as with Ollama"
    assert chat["messages"][0]["role"] == "system"
    assert "Answer only from the numbered passages" in chat["messages"][0]["content"]
    sent = user_message(chat)
    assert f"Question: {QUESTION}" in sent and "accusations d’espionnage" in sent
    assert sent.count("<passage n=") == len(answer.passages) >= 1
    auth = {r["headers"].get("Authorization") for r in server.requests.snapshot()}
    assert auth == {f"Bearer {KEY}"}, "the key goes with every request, models list included"


def test_without_a_key_a_placeholder_is_sent_and_local_servers_accept_it(
    sample_index, server, monkeypatch
):
    monkeypatch.delenv("DOSSIER_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env")
    assistant(sample_index, server.base_url).ask(QUESTION)
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-from-openai-env"
    monkeypatch.delenv("OPENAI_API_KEY")
    server.requests.clear()
    answer = assistant(sample_index, server.base_url).ask(QUESTION)
    assert answer.mode == "openai"
    assert server.requests[0]["headers"]["Authorization"] == "Bearer not-needed"


def test_a_wrong_key_says_which_variable_to_set_and_never_shows_the_key(sample_index, server):
    server.api_key = "sk-the-right-one"
    with pytest.raises(LLMError) as refused:
        assistant(sample_index, server.base_url, openai_api_key=KEY).ask(QUESTION)
    message = str(refused.value)
    assert "refused the API key (401" in message and "DOSSIER_OPENAI_API_KEY" in message
    assert server.base_url in message and KEY not in message
    auto = assistant(sample_index, server.base_url, openai_api_key=KEY, llm="auto").ask(QUESTION)
    assert auto.mode == "extractive" and "DOSSIER_OPENAI_API_KEY" in auto.notice
    assert KEY not in json.dumps(auto.to_dict())


@pytest.mark.parametrize(
    ("wanted", "used", "note"),
    [
        (None, MODEL, False),  # vLLM serves one model: the first listed
        ("llama-3.2-3b-instruct", "llama-3.2-3b-instruct", False),
        ("qwen2.5-7b-instruct", MODEL, False),  # "org/name" ids match on their name
        ("llama3.2:3b", MODEL, True),  # an Ollama name left in DOSSIER_MODEL
    ],
)
def test_model_choice_from_the_servers_list(sample_index, server, wanted, used, note):
    helper = assistant(sample_index, server.base_url, model=wanted)
    choice = helper.choice()
    assert choice.model == used and choice.models == (MODEL, "llama-3.2-3b-instruct")
    assert (f"{wanted} is not served there" in choice.reason) is note
    assert helper.ask(QUESTION).model == used and server.chats[-1]["model"] == used


FAULTS = {
    "404": f"does not serve the model {MODEL}",
    "500": "failed (500",
    "slow": "did not answer within 1 s",
    "cut": "broke off",
    "no_finish": "cut off before its end (no finish_reason)",
    "trickle": "was still writing its answer after 3 s",  # 3 x the timeout
    "garbage": "broke off",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_server_faults_fall_back_in_auto_and_fail_clearly_in_openai_mode(
    sample_index, server, fault
):
    server.fault, server.delay = fault, 30.0
    started = time.monotonic()
    events = list(
        assistant(sample_index, server.base_url, timeout=1.0, llm="auto").stream(QUESTION)
    )
    assert time.monotonic() - started < 10, "nothing hangs"
    answer = events[-1].answer
    assert answer.mode == "extractive" and answer.answerable
    assert FAULTS[fault] in answer.notice and server.base_url in answer.notice
    if fault in ("cut", "no_finish", "slow", "trickle"):
        assert "reset" in [e.kind for e in events], "the broken partial answer is withdrawn"

    with pytest.raises(LLMError, match=re.escape(FAULTS[fault])):
        assistant(sample_index, server.base_url, timeout=1.0).ask(QUESTION)


def test_a_server_that_cannot_list_its_models(sample_index, server):
    closed = closed_port_url()
    with pytest.raises(LLMError, match=f"not reachable at {closed}/v1 \\(connection refused\\)"):
        assistant(sample_index, f"{closed}/v1").choice()
    with pytest.raises(LLMError, match=re.escape(f"use {server.url}/v1")):
        assistant(sample_index, server.url).choice()  # "/v1" left out
    server.models_fault = "html"
    with pytest.raises(LLMError, match="does not answer like an OpenAI-compatible server"):
        assistant(sample_index, server.base_url).choice()
    server.models_fault = "500"
    with pytest.raises(LLMError, match="failed listing its models \\(500"):
        assistant(sample_index, server.base_url).choice()
    server.models_fault, server.models = None, []
    with pytest.raises(LLMError, match="lists no chat model: start it"):
        assistant(sample_index, server.base_url).choice()
    server.models = ["text-embedding-nomic-embed-text-v1.5", "qwen2.5-7b-instruct"]
    assert assistant(sample_index, server.base_url).choice().model == "qwen2.5-7b-instruct"
    with pytest.raises(LLMError, match="--openai-base-url"):
        Assistant(sample_index, llm="openai").choice()


def test_auto_prefers_the_openai_server_then_ollama_then_extractive(sample_index, server):
    with StandInOllama(models=["llama3.2:3b"]) as ollama:
        both = assistant(sample_index, server.base_url, llm="auto", ollama_host=ollama.url)
        assert both.ask(QUESTION).mode == "openai" and ollama.chats == []

        down = closed_port_url() + "/v1"
        fallback = assistant(sample_index, down, llm="auto", ollama_host=ollama.url)
        answer = fallback.ask(QUESTION)
        assert (answer.mode, answer.model) == ("ollama", "llama3.2:3b")
        reason = fallback.choice().reason
        assert reason.startswith("Ollama at") and f"not reachable at {down}" in reason

        ollama_only = assistant(sample_index, down, llm="ollama", ollama_host=ollama.url)
        assert ollama_only.ask(QUESTION).mode == "ollama"

    neither = assistant(sample_index, down, llm="auto").ask(QUESTION)
    assert neither.mode == "extractive" and neither.answerable
    assert f"not reachable at {down}" in neither.notice
    assert "; not Ollama: Ollama is not reachable" in neither.notice


def test_the_page_lists_the_servers_models_and_names_the_server(sample_index, server):
    import gradio as gr

    from app.ui import build, status_markdown

    helper = assistant(sample_index, server.base_url, llm="auto")
    assert f"OpenAI-compatible server · model `{MODEL}`" in status_markdown(helper)
    with build(helper) as page:
        dropdowns = [b for b in page.blocks.values() if isinstance(b, gr.Dropdown)]
    (models,) = [d for d in dropdowns if d.label == "Model"]
    assert [c[0] for c in models.choices] == [
        "auto",
        MODEL,
        "llama-3.2-3b-instruct",
        "extractive (no LLM)",
    ]


@pytest.mark.slow
def test_ask_on_the_command_line_through_an_openai_server(tmp_path, server):
    from tests.conftest import CORPUS
    from tests.test_cli import run, run_env

    shutil.copytree(CORPUS, tmp_path / "corpus")
    assert run("index", "corpus/", cwd=tmp_path).returncode == 0
    flags = ("--llm", "openai", "--openai-base-url", server.base_url, "--json")
    ok = run_env("ask", QUESTION, *flags, cwd=tmp_path, DOSSIER_OPENAI_API_KEY=KEY)
    assert ok.returncode == 0, ok.stderr
    answer = json.loads(ok.stdout)
    assert (answer["mode"], answer["model"], answer["answerable"]) == ("openai", MODEL, True)
    assert answer["citations"] and answer["citations"][0]["supported"] is True
    assert server.requests[-1]["headers"]["Authorization"] == f"Bearer {KEY}"

    via_env = run_env(
        "ask", QUESTION, "--json", cwd=tmp_path, DOSSIER_OPENAI_BASE_URL=server.base_url
    )
    assert json.loads(via_env.stdout)["mode"] == "openai", "auto uses the server when set"

    server.fault = "500"  # fails mid-answer: exit 1, the error in the JSON
    failed = run_env("ask", QUESTION, *flags, cwd=tmp_path)
    assert failed.returncode == 1 and "failed (500" in json.loads(failed.stdout)["error"]
    assert server.base_url in "".join(failed.stderr.split()) and "Traceback" not in failed.stderr

    down = closed_port_url() + "/v1"
    refused = run_env("ask", QUESTION, "--llm", "openai", "--openai-base-url", down, cwd=tmp_path)
    assert refused.returncode == 2, "a server that is not there is a configuration problem"
    said = " ".join(refused.stderr.split())  # the terminal's line breaks taken out
    assert f"not reachable at {down}" in said and "--openai-base-url" in said
    unset = run("ask", QUESTION, "--llm", "openai", cwd=tmp_path)
    assert unset.returncode == 2 and "DOSSIER_OPENAI_BASE_URL" in unset.stderr


def test_eval_and_the_judge_run_through_the_openai_server(sample_index, server):
    from app.cli import _judge_backend
    from eval.judge import judge_result
    from eval.qaset import QAItem
    from eval.runner import evaluate

    items = [QAItem(id="q1", question=QUESTION, line=1, answers=("espionnage",))]
    run = evaluate(items, assistant(sample_index, server.base_url), qaset="inline")
    assert run.summary["mode"] == "openai" and run.results[0]["answerable"] is True
    assert run.summary["citations"]["precision"] == 1.0

    settings = {
        "ollama_host": closed_port_url(),
        "model": None,
        "context_window": 8192,
        "llm_timeout": 5.0,
        "openai_base_url": server.base_url,
    }
    judge = _judge_backend(settings, "openai")
    assert (judge.mode, judge.model) == ("openai", MODEL)
    server.reply = json.dumps({"faithfulness": 1, "correctness": 0.5, "explanation": "Partly."})
    judged = judge_result(judge, items[0], run.results[0])
    assert (judged["faithfulness"], judged["correctness"]) == (1.0, 0.5)
    assert "faithfulness" in user_message(server.chats[-1]).lower()
