"""The chat page as users reach it: a real `dossier serve` process, driven through its API with
gradio_client and through the page itself in headless Chromium (/usr/bin/chromium).

The server runs with OLLAMA_HOST on a closed port, so `auto` mode falls back to the extractive
answerer: no LLM is needed and the answers are deterministic. Besides the bundled corpus the
index holds a hostile article whose text carries HTML and Markdown; it must be shown as text.
The screenshot test can re-take docs/screenshot.png (shown in the README):
DOSSIER_UPDATE_SCREENSHOT=1 pytest tests/test_ui.py -k screenshot.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
from urllib.parse import urlsplit

import pytest

from .conftest import CORPUS, ROOT, SAMPLE
from .serving import clean_env as _env
from .serving import dossier_command as _dossier
from .serving import launch_chromium as _launch
from .serving import serving as _serving

SCREENSHOT = ROOT / "docs" / "screenshot.png"

ARREST = "Why was the agent arrested?"
FOLLOW_UP = "And what did France do in response?"
WORLD_CUP = "Who won the 2022 World Cup?"
HOSTILE_QUESTION = "What happened at the zebra crossing in Dunmore?"
SCRIPT = "<script>window.__pwned = 1; alert(1)</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'
MARKDOWN = "**bold** [link](http://evil.example)"
HOSTILE_NAME = "2025-09-20-hostile.txt"
HOSTILE = f"""date 2025-09-20
Zebra crossing in Dunmore defaced overnight

Overnight on Friday, vandals at the zebra crossing in Dunmore painted {SCRIPT} across the \
stripes, taped a poster reading {IMG} to the Belisha beacon and chalked {MARKDOWN} on the kerb.

Dunmore council said the crossing was cleaned on Saturday morning and reopened to pedestrians \
by noon. Police have appealed for witnesses.
"""

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _words(text: str) -> str:
    return " ".join(text.split())


ARTICLE = _words((CORPUS / SAMPLE).read_text(encoding="utf-8"))


def _is_article_sentence(text: str) -> bool:
    """`text` is a whole sentence quoted from the sample article."""
    sentence = _words(text)
    return len(sentence) > 40 and sentence.endswith(".") and sentence in ARTICLE


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The bundled corpus and a hostile article, indexed into `idx`.

    The working directory holds only the copies indexed (no dossier.toml), so the sources panel
    shows short relative paths such as corpus/2025-09-19-france-mali.txt.
    """
    work = tmp_path_factory.mktemp("serve")
    shutil.copytree(CORPUS, work / "corpus")
    (work / "hostile").mkdir()
    (work / "hostile" / HOSTILE_NAME).write_text(HOSTILE, encoding="utf-8")
    indexed = subprocess.run(
        [*_dossier(), "index", "corpus", "hostile", "--index-dir", "idx"],
        cwd=work,
        env=_env("127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert indexed.returncode == 0, f"dossier index failed:\n{indexed.stdout}\n{indexed.stderr}"
    return work


@pytest.fixture(scope="module")
def server(workdir):
    """The page with Ollama unreachable (a closed port): auto mode answers extractively."""
    with _serving(workdir, _env("127.0.0.1:1")) as url:
        yield url


# ---------------------------------------------------------------------------------------------
# The API (gradio_client), as a script or another program would use it
# ---------------------------------------------------------------------------------------------


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def _ask(client, question: str, chat=()):
    """(chat, sources_html, status, textbox) for `question` after `chat`."""
    return client.predict(question, list(chat), 5, "auto", "", "", api_name="/ask")


def _text(message: dict) -> str:
    """The Markdown of a chat message (Gradio returns content as a list of text parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _plain(markdown: str) -> str:
    """Markdown with its backslash escapes undone: the text a reader sees."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _marks(sources: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", sources, re.S)]


@pytest.fixture(scope="module")
def arrest(server):
    """One client (one session, so the conversation's history is kept) and its first answer."""
    client = _client(server)
    return client, _ask(client, ARREST)


def test_ask_answers_extractively_with_a_citation_and_its_source(arrest):
    _, (chat, sources, status, box) = arrest
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = _text(chat[-1])
    assert answer.startswith("*Extractive answer: sentences quoted from the articles (no LLM).*")
    assert "\\[1\\]" in answer  # the citation, escaped so Markdown shows "[1]"
    assert "espionnage" in answer  # the reason the article gives
    assert SAMPLE in sources
    marks = _marks(sources)
    assert marks and all(_is_article_sentence(m) for m in marks), marks
    assert "extractive" in status
    assert "Answered in" in status
    assert box == ""  # the question box is cleared


def test_follow_up_uses_the_conversation(arrest):
    client, (chat, *_) = arrest
    chat2, sources, status, _ = _ask(client, FOLLOW_UP, chat)
    assert [m["role"] for m in chat2] == ["user", "assistant", "user", "assistant"]
    answer = _plain(_text(chat2[-1]))
    # What France did: it suspended its counter-terrorism cooperation with Mali.
    assert re.search(r"suspendu|suspension", answer), answer
    assert "coopération antiterroriste" in answer
    assert re.search(r"\[\d\]", answer)
    marks = _marks(sources)
    assert any("suspen" in m for m in marks), marks
    assert all(_is_article_sentence(m) for m in marks), marks
    assert "extractive" in status


def test_question_the_articles_do_not_answer_is_declined(server):
    chat, sources, status, _ = _ask(_client(server), WORLD_CUP)
    answer = _plain(_text(chat[-1]))
    assert answer.startswith("The articles don't say."), answer
    assert "Extractive answer" not in answer
    assert "<mark" not in sources
    assert "extractive" in status


def test_hostile_article_is_shown_as_text(server):
    chat, sources, status, _ = _ask(_client(server), HOSTILE_QUESTION)
    assert HOSTILE_NAME in sources
    assert "&lt;script&gt;" in sources
    assert "&lt;img" in sources
    assert "<script" not in sources.lower()
    assert "<img" not in sources.lower()
    assert "<mark" in sources
    assert "extractive" in status
    # The chat quotes the hostile sentence with every character Markdown or HTML reads escaped.
    answer = _text(chat[-1])
    assert SCRIPT in _plain(answer)
    assert "\\<script\\>" in answer
    assert "\\*\\*bold\\*\\*" in answer
    assert re.search(r"(?<!\\)[<>]", answer) is None, answer
    # The quote of the hostile sentence is its own passage's words: supported, not flagged.
    assert "not supported" not in answer and "does not support" not in sources
    assert "cited: supports the answer" in sources


def test_uploaded_articles_are_indexed_and_answered_from(server, tmp_path):
    from gradio_client import handle_file

    good = tmp_path / "2025-10-01-kirkwall-harbour.txt"
    good.write_text(
        "date 2025-10-01\nThe harbour of Kirkwall reopened on Wednesday after the storm "
        "damage to its north pier was repaired, the council said.\n",
        encoding="utf-8",
    )
    bad = tmp_path / "broken.json"
    bad.write_text('{"title": "half an object", ', encoding="utf-8")
    client = _client(server)
    report, status = client.predict(
        [handle_file(str(good)), handle_file(str(bad))], api_name="/add_files"
    )
    assert "Indexed 1 file(s)" in report and "1 failed" in report, report
    assert "broken.json" in _plain(report) and "invalid JSON" in _plain(report)
    assert "articles" in status
    chat, sources, _, _ = _ask(client, "When did the harbour of Kirkwall reopen?")
    assert "Wednesday" in _plain(_text(chat[-1]))
    assert "2025-10-01-kirkwall-harbour.txt" in sources


def test_without_a_token_the_json_api_beside_the_page_is_open(server):
    import httpx

    health = httpx.get(f"{server}/api/health", timeout=30)
    assert health.status_code == 200, health.text
    assert health.json()["llm"]["mode"] == "extractive"  # OLLAMA_HOST is a closed port
    found = httpx.post(f"{server}/api/search", json={"query": "espionnage", "k": 1}, timeout=60)
    assert found.status_code == 200
    assert SAMPLE in found.json()["passages"][0]["path"]


# ---------------------------------------------------------------------------------------------
# The page in a browser
# ---------------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, page):
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


def _ask_in_page(page, question: str, marked: str) -> None:
    """Type `question`, press Enter and wait for the answer's highlighted source."""
    from playwright.sync_api import expect

    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator("#sources mark").first).to_contain_text(marked, timeout=60_000)
    expect(page.locator("#status")).to_contain_text("Answered in")


@pytest.mark.browser
def test_page_answers_cites_and_escapes(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            seen = _Recorder(page)
            page.goto(server + "/", wait_until="load")

            # The first example fills the question box; the Ask button sends it.
            box = page.locator("#question textarea")
            page.get_by_text(ARREST, exact=True).first.click()
            try:
                expect(box).to_have_value(ARREST, timeout=10_000)
            except AssertionError:  # the example did not fill the box: type the question
                box.fill(ARREST)
            page.locator("#ask").click()

            mark = page.locator("#sources mark").first
            mark.wait_for()
            expect(page.locator("#status")).to_contain_text("Answered in")
            chat = page.locator("#chat")
            expect(chat).to_contain_text(ARREST)
            expect(chat).to_contain_text("Extractive answer")
            expect(chat).to_contain_text("[1]")
            assert _is_article_sentence(mark.inner_text()), mark.inner_text()
            expect(page.locator("#sources")).to_contain_text(SAMPLE)
            expect(page.locator("#status")).to_contain_text("extractive")

            _ask_in_page(page, HOSTILE_QUESTION, "Dunmore")
            sources = page.locator("#sources").inner_text()
            assert SCRIPT in sources, sources
            assert IMG in sources, sources
            assert SCRIPT in chat.inner_text()
            page.wait_for_timeout(500)  # time for a (wrongly) rendered <img onerror> to fire
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.locator("#sources script, #sources img, #chat img[src='x']").count() == 0
            assert seen.dialogs == []
            outside = [
                url
                for url in seen.requests
                if urlsplit(url).scheme not in ("data", "blob")
                and urlsplit(url).hostname != "127.0.0.1"
            ]
            assert outside == [], outside
            assert seen.requests  # the recorder did see the page's own requests
        finally:
            browser.close()


@pytest.mark.browser
def test_urls_in_answers_and_status_are_plain_text(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(server + "/", wait_until="load")
            _ask_in_page(page, HOSTILE_QUESTION, "Dunmore")
            chat = page.locator("#chat")
            links = [a.get_attribute("href") for a in chat.locator("a[href]").all()]
            assert not [h for h in links if "evil" in h or "127.0.0.1" in h], links
            assert MARKDOWN in chat.inner_text()
            assert "http://127.0.0.1:1" in page.locator("#status").inner_text()
        finally:
            browser.close()


# ---------------------------------------------------------------------------------------------
# The page with an LLM: the stand-in Ollama server
# ---------------------------------------------------------------------------------------------


def test_page_answers_through_ollama_and_falls_back_when_it_fails(workdir):
    from tests.ollama_standin import StandInOllama

    llm_dir = workdir / "idx-llm"  # a copy: one process per Chroma directory
    shutil.copytree(workdir / "idx", llm_dir)
    with (
        StandInOllama(models=["llama3.2:3b"]) as ollama,
        _serving(workdir, _env(ollama.host_port), index_dir="idx-llm") as url,
    ):
        client = _client(url)
        chat, sources, status, _ = _ask(client, ARREST)
        answer = _plain(_text(chat[-1]))
        assert "Extractive answer" not in answer and re.search(r"\[\d\]", answer), answer
        assert "llama3.2:3b" in status and "ollama" in status.lower()
        assert len(ollama.chats) == 1 and ARREST in str(ollama.chats[0]["messages"])
        assert _marks(sources), "the cited sentence is highlighted"

        # The follow-up is rewritten by the model, then answered with the conversation.
        _ask(client, FOLLOW_UP, chat)
        rewrite = str(ollama.chats[1]["messages"])
        assert "Standalone question:" in rewrite and ARREST in rewrite

        # The model answers with what no passage says: the page does not present it as an
        # answer. It says so, and shows the quotes instead.
        ollama.reply = "The agent was released on Tuesday after paying a fine of 40,000 euros [1]."
        chat, sources, status, _ = _ask(_client(url), ARREST)
        answer = _plain(_text(chat[-1]))
        assert "40,000" not in answer, answer
        assert answer.startswith(
            "*llama3.2:3b's answer had no supported claim that answers the question"
        )
        assert "accusations d’espionnage" in answer and _marks(sources)
        ollama.reply = None

        # The stream is cut: the page withdraws the partial answer and answers extractively.
        ollama.fault = "cut"
        chat, sources, status, _ = _ask(_client(url), ARREST)
        answer = _plain(_text(chat[-1]))
        assert answer.startswith("*Extractive answer"), answer
        assert "broke off" in answer and ollama.url in answer


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """The page as a newcomer first sees it: the bundled corpus only, indexed by `serve`
    itself, Ollama at its default address (when nothing listens there) and not running."""
    index_dir = tmp_path_factory.mktemp("fresh") / ".dossier"
    with socket.socket() as probe:
        default_free = probe.connect_ex(("127.0.0.1", 11434)) != 0
    host = "127.0.0.1:11434" if default_free else "127.0.0.1:1"
    # From the checkout, as the README's command runs it: the sources show corpus/….txt.
    with _serving(ROOT, _env(host), index_dir=str(index_dir), logs=index_dir.parent) as url:
        yield url, index_dir


@pytest.mark.browser
def test_screenshot_of_the_example_question(fresh_server, tmp_path):
    url, index_dir = fresh_server
    """Takes the picture at the top of the README: into docs/screenshot.png when
    DOSSIER_UPDATE_SCREENSHOT=1, else into a temporary folder (a test run leaves the checkout
    as it was)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(url + "/", wait_until="load")
            expect(page.locator("#status")).to_contain_text("1 article, 4 passages")
            _ask_in_page(page, ARREST, "")
            espionage = page.locator("#sources mark").filter(has_text="espionnage")
            expect(espionage).to_have_count(1)
            update = os.environ.get("DOSSIER_UPDATE_SCREENSHOT") == "1"
            target = SCREENSHOT if update else tmp_path / "screenshot.png"
            page.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 10_000

            # A thumbs-down on the answer becomes a line of a Q&A set, marked for review.
            page.get_by_role("button", name="Dislike").last.click()
            expect(page.locator("#status")).to_contain_text("Noted for review")
            lines = (index_dir / "feedback.jsonl").read_text("utf-8").splitlines()
            vote = json.loads(lines[-1])
            assert (vote["question"], vote["feedback"], vote["review"]) == (ARREST, "down", True)
            assert "espionnage" in vote["answer_given"]
            page.get_by_role("button", name="Like").last.click()
            expect(page.locator("#status")).to_contain_text("Thanks: noted")
            up = json.loads((index_dir / "feedback.jsonl").read_text("utf-8").splitlines()[-1])
            assert up["feedback"] == "up" and any("espionnage" in e for e in up["evidence"])
            assert up["sources"] == [SAMPLE]
            from eval.qaset import load_qaset

            items, problems = load_qaset(index_dir / "feedback.jsonl")
            assert len(items) == 2 and problems == []
        finally:
            browser.close()
