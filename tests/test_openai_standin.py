"""The stand-in OpenAI-compatible server follows the chat completions API: checked with the
`openai` SDK (the client under llama-index's OpenAILike) and with raw HTTP, so that the tests
of dossier's OpenAI backend rest on a server that behaves like vLLM or llama.cpp's."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.openai_standin import StandInOpenAI

MODEL = "Qwen/Qwen2.5-7B-Instruct"
PROMPT = (
    'Question: Why was the agent arrested?\n<passage n="1" date="2025-09-19" file="a.txt">\n'
    "Mali arrested a French agent. He was arrested on accusations of spying.\n</passage>"
)
MESSAGES = [{"role": "system", "content": "Answer."}, {"role": "user", "content": PROMPT}]


@pytest.fixture
def server():
    with StandInOpenAI(models=[MODEL, "llama-3.2-3b"]) as standin:
        yield standin


def client(server, key: str = "sk-test", **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, **kwargs)


def sse_events(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


def test_models_are_listed_as_openai_lists_them(server):
    listed = client(server).models.list()
    assert [m.id for m in listed.data] == [MODEL, "llama-3.2-3b"]
    raw = httpx.get(f"{server.base_url}/models").json()
    assert raw["object"] == "list" and raw["data"][0]["object"] == "model"


def test_a_completion_answers_from_the_passages(server):
    reply = client(server).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "Mali arrested a French agent. [1]"
    assert reply.choices[0].finish_reason == "stop" and reply.usage.completion_tokens == 6
    assert server.chats[0]["messages"] == MESSAGES


def test_a_stream_is_server_sent_events_ending_in_stop_and_done(server):
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/completions",
        json={"model": MODEL, "messages": MESSAGES, "stream": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Mali arrested a French agent. [1]"
    pieces = [c for c in chunks if c["choices"][0]["delta"].get("content")]
    assert len(pieces) >= 2, "the answer comes in pieces"

    streamed = client(server).chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == text


def test_a_required_key_is_checked_and_recorded(server):
    server.api_key = "sk-right"
    with pytest.raises(openai.AuthenticationError) as refused:
        client(server, key="sk-wrong").models.list()
    assert refused.value.status_code == 401
    assert refused.value.body["code"] == "invalid_api_key"
    assert client(server, key="sk-right").models.list().data
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-right"


def test_unknown_model_and_server_error_use_openai_error_bodies(server):
    with pytest.raises(openai.NotFoundError) as missing:
        client(server).chat.completions.create(model="gpt-9", messages=MESSAGES)
    assert missing.value.body["code"] == "model_not_found"
    assert set(missing.value.body) == {"message", "type", "param", "code"}
    server.fault = "500"
    with pytest.raises(openai.InternalServerError):
        client(server).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert httpx.get(f"{server.url}/models").status_code == 404, "the API lives under /v1"


def test_faults_break_the_stream_as_announced(server):
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    server.fault = "no_finish"
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
        events = sse_events(response)
    assert events[-1] == "[DONE]" and 'finish_reason": "stop' not in "".join(events)

    server.fault = "cut"
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{server.base_url}/chat/completions", json=body) as response,
    ):
        sse_events(response)

    server.fault, server.delay = "slow", 5.0
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST", f"{server.base_url}/chat/completions", json=body, timeout=0.5
        ) as response,
    ):
        assert response.status_code == 200, "headers first, as vLLM sends them"
        sse_events(response)

    server.models_fault = "html"
    assert httpx.get(f"{server.base_url}/models").text.startswith("<html>")
    with pytest.raises(ValueError):
        server.fault = "nonsense"


def test_fault_trickle_streams_chunks_forever_without_a_finish_reason(server):
    server.fault, server.interval = "trickle", 0.02
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    events = []
    with httpx.stream(
        "POST", f"{server.base_url}/chat/completions", json=body, timeout=1
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
            if len(events) == 40:
                break
    assert all(e["choices"][0]["finish_reason"] is None for e in events)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert text.count("Mali arrested") > 2, "the answer, over and over"
    without = {**body, "stream": False}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.base_url}/chat/completions", json=without, timeout=0.5)
