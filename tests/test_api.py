"""The JSON API as other programs use it: a real `dossier serve` process (with an API token and
a page password set), called over HTTP with httpx; answers come from the stand-in Ollama server
(tests/ollama_standin.py), so streaming carries real text deltas.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest

from .conftest import CORPUS
from .ollama_standin import StandInOllama
from .serving import clean_env, dossier_command, serving, sse_events

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "t0ken-for-tests"
PASSWORD = "page-password"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ARREST = "Why was the agent arrested?"
PASSAGE_KEYS = {
    "rank", "score", "chunk_id", "doc_id", "title", "date", "source", "path", "text", "start",
    "end",
}  # fmt: skip


@pytest.fixture(scope="module")
def standin():
    with StandInOllama(models=["llama3.2:3b"]) as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, standin):
    """The bundled corpus indexed, and what the CLI prints for the same requests (before the
    server opens the index: one process at a time on an embedded store)."""
    work = tmp_path_factory.mktemp("api")
    shutil.copytree(CORPUS, work / "corpus")
    env = clean_env(standin.url)

    def run(*args: str) -> str:
        done = subprocess.run(
            [*dossier_command(), *args, "--index-dir", "idx"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"dossier {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("index", "corpus")
    cli = {
        "search": json.loads(run("search", "agent arrêté espionnage", "--k", "3", "--json")),
        "ask": json.loads(run("ask", ARREST, "--json")),
    }
    return work, cli


@pytest.fixture(scope="module")
def server(workdir, standin):
    work, _ = workdir
    env = clean_env(standin.url)
    env.update(DOSSIER_API_TOKEN=TOKEN, DOSSIER_PASSWORD=PASSWORD)
    with serving(work, env) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


# -- search, ask, stream, health --------------------------------------------------------------
def test_search_returns_what_the_cli_prints(server, workdir):
    _, cli = workdir
    response = server.post(
        "/api/search", json={"query": cli["search"]["query"], "k": 3}, headers=AUTH
    )
    assert response.status_code == 200
    body = response.json()
    assert body == cli["search"]
    assert set(body["passages"][0]) == PASSAGE_KEYS
    assert "espionnage" in body["passages"][0]["text"]


def test_search_filters_by_date_and_source(server):
    def ranks(**filters):
        body = {"query": "agent arrested", **filters}
        response = server.post("/api/search", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()["passages"]

    assert ranks(after="2025-09-19", before="2025-09-19")
    assert ranks(after="2025-09-20") == []  # the article is dated 2025-09-19
    assert ranks(source="france-mali")
    assert ranks(source="no-such-source") == []


def test_ask_answers_with_checked_citations_like_the_cli(server, workdir):
    _, cli = workdir
    response = server.post("/api/ask", json={"question": ARREST}, headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == set(cli["ask"])  # the CLI's JSON contract
    assert answer["mode"] == "ollama" and answer["model"] == "llama3.2:3b"
    assert answer["answerable"] is True
    assert answer["answer"] == cli["ask"]["answer"]
    assert "[1]" in answer["answer"]
    citation = answer["citations"][0]
    assert citation["supported"] is True
    assert set(citation) >= PASSAGE_KEYS | {"n", "supported", "support", "sentence", "spans"}
    assert citation["sentence"] in citation["text"]


def test_ask_follows_up_with_history(server, standin):
    history = [
        {"role": "user", "content": ARREST},
        {"role": "assistant", "content": "He was accused of espionage [1]."},
    ]
    response = server.post(
        "/api/ask",
        json={"question": "And what did France do in response?", "history": history},
        headers=AUTH,
    )
    assert response.status_code == 200
    answer = response.json()
    # The stand-in rewrote the follow-up with the earlier turn's words, and retrieval used it.
    assert "arrested" in answer["standalone_question"]
    assert answer["answerable"] is True and answer["citations"]


def test_ask_in_extractive_mode_on_request(server):
    body = {"question": ARREST, "llm": "extractive", "k": 3}
    answer = server.post("/api/ask", json=body, headers=AUTH).json()
    assert answer["mode"] == "extractive" and answer["model"] is None
    assert "espionnage" in answer["answer"]


def test_an_unsupported_answer_is_set_aside_and_strict_is_the_default(server, standin):
    invented = "He was released on Tuesday after paying a fine of 40,000 euros [1]."
    standin.reply = invented
    try:
        answer = server.post("/api/ask", json={"question": ARREST}, headers=AUTH).json()
        assert answer["fallback"] == "unsupported" and answer["draft"] == invented
        assert "40,000" not in answer["answer"] and "espionnage" in answer["answer"]
        assert answer["mode"] == "ollama" and "no supported claim" in answer["notice"]

        standin.reply = "The agent was arrested over accusations of espionage [1]. " + invented
        body = {"question": ARREST, "strict": False}
        loose = server.post("/api/ask", json=body, headers=AUTH).json()
        assert "40,000" in loose["answer"] and loose["fallback"] is None
        assert [c["supported"] for c in loose["claims"]] == [True, False]
        strict = server.post("/api/ask", json={"question": ARREST}, headers=AUTH).json()
        assert "40,000" not in strict["answer"] and "40,000" in strict["draft"]
        assert [c["supported"] for c in strict["claims"]] == [True]
    finally:
        standin.reply = None


def test_ask_stream_sends_status_passages_deltas_then_the_answer(server):
    with server.stream("POST", "/api/ask/stream", json={"question": ARREST}, headers=AUTH) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "status" and "Ollama" in events[0][1]["text"]
    assert kinds[1] == "passages" and set(events[1][1]["passages"][0]) == PASSAGE_KEYS
    deltas = [data["text"] for kind, data in events if kind == "delta"]
    assert len(deltas) > 1  # the stand-in sends a few words at a time: they arrive as they come
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    answer = events[-1][1]
    assert "".join(deltas).strip() == answer["answer"].strip()
    assert answer["citations"] and answer["citations"][0]["supported"] is True


def test_ask_stream_reports_an_llm_failure_as_an_error_event(server, standin):
    standin.fault = "500"
    try:
        body = {"question": ARREST, "llm": "ollama"}
        with server.stream("POST", "/api/ask/stream", json=body, headers=AUTH) as r:
            events = sse_events(r)
        plain = server.post("/api/ask", json=body, headers=AUTH)
    finally:
        standin.fault = None
    assert events[-1][0] == "error"
    assert "Ollama" in events[-1][1]["error"]
    assert plain.status_code == 502
    assert "Ollama" in plain.json()["detail"]


def test_ask_with_a_model_the_server_lacks_is_a_502_naming_it(server):
    body = {"question": ARREST, "llm": "ollama", "model": "mistral:7b"}
    response = server.post("/api/ask", json=body, headers=AUTH)
    assert response.status_code == 502
    assert "mistral:7b" in response.json()["detail"]
    assert "ollama pull mistral:7b" in response.json()["detail"]


def test_health_reports_the_index_the_model_and_the_llm(server, standin):
    response = server.get("/api/health", headers=AUTH)
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["documents"] == 1 and health["chunks"] >= 1
    assert health["embedding_model"] == "all-MiniLM-L6-v2"
    assert health["store"] == "embedded"
    assert health["llm"]["reachable"] is True
    assert health["llm"]["mode"] == "ollama" and health["llm"]["model"] == "llama3.2:3b"
    assert "llama3.2:3b" in health["llm"]["models"]


# -- the token ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "longer", "no-scheme", "basic", "empty"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/search", {"query": "agent"}),
        ("POST", "/api/ask", {"question": ARREST}),
        ("POST", "/api/ask/stream", {"question": ARREST}),
        ("GET", "/api/health", None),
        ("POST", "/api/search", "not json"),  # no 422: nothing is read before the token
        ("GET", "/api/nowhere", None),  # no 404: which paths exist is not told either
    ],
    ids=["search", "ask", "stream", "health", "bad-body", "unknown-path"],
)
def test_a_missing_or_wrong_token_gets_a_bare_401(server, headers, method, path, body):
    if isinstance(body, str):
        response = server.request(method, path, content=body, headers=headers)
    else:
        response = server.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_scheme_name_is_read_in_any_case(server):
    for scheme in ("bearer", "BEARER"):
        response = server.get("/api/health", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert response.status_code == 200


def test_the_token_is_not_accepted_in_the_query_string(server):
    response = server.get("/api/health", params={"token": TOKEN, "access_token": TOKEN})
    assert response.status_code == 401


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field", "says"),
    [
        ("/api/search", {}, "query", "Field required"),
        ("/api/search", {"query": "   "}, "query", "must not be empty"),
        ("/api/search", {"query": "x" * 1001}, "query", "at most 1000"),
        ("/api/search", {"query": "agent", "k": 0}, "k", "greater than or equal to 1"),
        ("/api/search", {"query": "agent", "k": 51}, "k", "less than or equal to 50"),
        ("/api/search", {"query": "agent", "k": "five"}, "k", "valid integer"),
        ("/api/search", {"query": "agent", "after": "2025-13-01"}, "after", "YYYY-MM-DD"),
        ("/api/search", {"query": "agent", "before": "soon"}, "before", "YYYY-MM-DD"),
        ("/api/search", {"query": "agent", "top_k": 3}, "top_k", "Extra inputs"),
        ("/api/ask", {"q": ARREST}, "question", "Field required"),
        ("/api/ask", {"question": ARREST, "llm": "gpt-4"}, "llm", "auto, ollama"),
        ("/api/ask", {"question": ARREST, "history": [{"role": "bot", "content": "hi"}]},
         "role", "'user' or 'assistant'"),
        ("/api/ask", {"question": ARREST, "history": "hi"}, "history", "valid list"),
        ("/api/ask/stream", {"question": ""}, "question", "at least 1 character"),
        ("/api/ask", {"question": ARREST, "llm": "openai"}, "llm", "no OpenAI-compatible server"),
        ("/api/ask/stream", {"question": ARREST, "llm": "openai"}, "llm", "DOSSIER_OPENAI_BASE"),
    ],
)  # fmt: skip
def test_a_bad_body_gets_422_naming_the_field_and_the_reason(server, path, body, field, says):
    response = server.post(path, json=body, headers=AUTH)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(field in error["loc"] and says in error["msg"] for error in errors), errors


def test_a_body_that_is_not_json_gets_422(server):
    response = server.post(
        "/api/search",
        content="{query: agent}",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in json.dumps(response.json())


# -- the description --------------------------------------------------------------------------
def test_the_openapi_description_is_valid_and_documents_every_endpoint(server):
    from openapi_spec_validator import validate

    response = server.get("/openapi.json")  # open: it says nothing about the articles
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    paths = schema["paths"]
    assert set(paths) >= {"/api/search", "/api/ask", "/api/ask/stream", "/api/health"}
    assert "text/event-stream" in paths["/api/ask/stream"]["post"]["responses"]["200"]["content"]
    assert "422" in paths["/api/search"]["post"]["responses"]
    assert not any(p.startswith("/gradio_api") for p in paths)  # the page's own API is apart


def test_the_docs_page_loads_its_scripts_from_this_server(server):
    page = server.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text  # works offline
    script = server.get("/api-docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


# -- the page password ------------------------------------------------------------------------
def test_the_page_asks_for_the_password(server):
    from gradio_client import Client

    url = str(server.base_url).rstrip("/")
    assert server.get("/config").status_code == 401  # the page's config needs a login
    with pytest.raises(Exception, match=r"(?i)login|auth|401"):
        Client(url, verbose=False)
    with pytest.raises(Exception, match=r"(?i)incorrect|credentials|login|auth|401"):
        Client(url, auth=("someone", "wrong-password"), verbose=False)
    client = Client(url, auth=("anyone", PASSWORD), verbose=False)
    chat, _sources, status, _box = client.predict(
        ARREST, [], 5, "extractive (no LLM)", "", "", api_name="/ask"
    )
    assert "extractive" in status
    assert chat[-1]["role"] == "assistant"


def test_the_api_benchmark_runs_on_a_tiny_corpus(tmp_path, monkeypatch, capsys):
    """eval/bench_api.py end to end (no timing asserted: the figures go in the README)."""
    from eval import bench_api

    argv = ["bench_api", "--index-dir", str(tmp_path / "idx"), "--corpus", str(CORPUS)]
    monkeypatch.setattr("sys.argv", [*argv, "--rounds", "1", "--json"])
    bench_api.main()
    result = json.loads(capsys.readouterr().out)
    search = result["search"]
    assert result["index"]["documents"] == 1
    questions = [line for line in bench_api.QUESTIONS.read_text().splitlines() if line]
    assert search["queries"] == len(questions)
    assert search["http_p50_ms"] > 0 and search["direct_p50_ms"] > 0
    ratio = search["http_p50_ms"] / search["direct_p50_ms"]
    assert search["ratio_p50"] == pytest.approx(ratio, abs=0.02)


# -- a team: several `dossier serve` on one Chroma server --------------------------------------
KIRKWALL = """date 2025-10-01
Kirkwall harbour reopens after storm repairs

The harbour of Kirkwall reopened on Wednesday after the storm damage to its north pier was
repaired, the Orkney council said. Ferries to Stromness resume their timetable on Thursday.
"""


def test_two_servers_on_one_chroma_server_answer_alike_and_see_new_articles(tmp_path):
    """Two `dossier serve` processes with their own index directories share a Chroma server:
    both answer from the same articles, and an article a third process indexes is found by
    both, by a word only the keyword side can match exactly."""
    from .conftest import ChromaServer

    chroma = ChromaServer(tmp_path / "chroma-data").start()
    try:
        shutil.copytree(CORPUS, tmp_path / "corpus")
        env = clean_env("127.0.0.1:1")  # no LLM: extractive answers
        env["DOSSIER_CHROMA_URL"] = chroma.url

        def dossier(*args: str) -> None:
            done = subprocess.run(
                [*dossier_command(), *args], cwd=tmp_path, env=env, capture_output=True,
                text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr

        dossier("index", "corpus", "--index-dir", "first")
        with (
            serving(tmp_path, env, index_dir="first") as url_a,
            serving(tmp_path, env, index_dir="second") as url_b,
        ):
            a, b = (
                httpx.Client(base_url=url_a, timeout=60),
                httpx.Client(base_url=url_b, timeout=60),
            )
            health = b.get("/api/health").json()
            assert health["store"] == chroma.url and health["documents"] == 1
            query = {"query": "pourquoi l'agent a-t-il été arrêté ?", "k": 3}
            found_a = a.post("/api/search", json=query).json()["passages"]
            found_b = b.post("/api/search", json=query).json()["passages"]
            assert found_a == found_b and "espionnage" in found_a[0]["text"]

            (tmp_path / "later").mkdir()
            (tmp_path / "later" / "2025-10-01-kirkwall.txt").write_text(KIRKWALL, encoding="utf-8")
            dossier("index", "later", "--index-dir", "third")
            for client in (a, b):
                hits = client.post("/api/search", json={"query": "Stromness", "k": 1}).json()
                assert hits["passages"], "a search missed an article another process indexed"
                assert "kirkwall" in hits["passages"][0]["path"]
                answer = client.post(
                    "/api/ask", json={"question": "When did the harbour of Kirkwall reopen?"}
                ).json()
                assert "Wednesday" in answer["answer"] and answer["citations"]
            assert b.get("/api/health").json()["documents"] == 2
            a.close()
            b.close()
    finally:
        chroma.stop()


@pytest.mark.browser
def test_the_docs_page_renders_every_endpoint_offline(server):
    """/docs in headless Chromium: Swagger UI lists the four endpoints, and nothing is fetched
    from another host."""
    from playwright.sync_api import sync_playwright

    from .serving import launch_chromium

    url = str(server.base_url).rstrip("/")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{url}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert sorted(paths) == ["/api/ask", "/api/ask/stream", "/api/health", "/api/search"]
    assert requested and all(r.startswith(url) for r in requested), requested
