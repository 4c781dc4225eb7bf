"""The `dossier` command as users run it: a new process, the contract's JSON and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT, SAMPLE, user_env

DOSSIER = str(Path(sys.executable).with_name("dossier"))
PASSAGE_FIELDS = {
    "rank",
    "score",
    "chunk_id",
    "doc_id",
    "title",
    "date",
    "source",
    "path",
    "text",
    "start",
    "end",
}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = user_env()
    return subprocess.run(
        [DOSSIER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path


def test_help_lists_the_commands(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "index" in result.stdout and "search" in result.stdout


@pytest.mark.integration
def test_index_then_search_as_in_the_readme(workdir):
    indexed = run("index", "corpus/", "--json", cwd=workdir)
    assert indexed.returncode == 0, indexed.stderr
    report = json.loads(indexed.stdout)
    assert {"indexed", "skipped", "removed", "failed", "documents", "chunks"} <= set(report)
    assert (report["indexed"], report["failed"], report["documents"]) == (1, [], 1)
    assert (workdir / ".dossier").is_dir(), "the default index directory is ./.dossier"

    found = run("search", "why was the agent arrested?", "--k", "2", "--json", cwd=workdir)
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    assert body["query"] == "why was the agent arrested?"
    assert 1 <= len(body["passages"]) <= 2
    top = body["passages"][0]
    assert set(top) == PASSAGE_FIELDS
    assert top["path"] == f"corpus/{SAMPLE}" and top["date"] == "2025-09-19"
    assert "espionnage" in top["text"]
    raw = (workdir / "corpus" / SAMPLE).read_text(encoding="utf-8")
    assert top["text"] in raw

    human = run("search", "why was the agent arrested?", cwd=workdir)
    assert human.returncode == 0 and "[1]" in human.stdout and SAMPLE in human.stdout

    again = json.loads(run("index", "corpus/", "--json", cwd=workdir).stdout)
    assert (again["indexed"], again["skipped"], again["chunks"]) == (0, 1, report["chunks"])

    typo = run("index", "corpus/", "--rebuild", "--embed-model", "no-such-model", cwd=workdir)
    assert typo.returncode == 2 and "no-such-model" in typo.stderr
    kept = json.loads(run("index", "corpus/", "--json", cwd=workdir).stdout)
    assert (kept["unchanged"], kept["chunks"]) == (1, report["chunks"]), "nothing was wiped"


@pytest.mark.integration
def test_failures_exit_1_with_the_file_named(workdir):
    (workdir / "corpus" / "bad.json").write_text('{"title": "x",, }')
    result = run("index", "corpus", "--json", "--index-dir", "elsewhere", cwd=workdir)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["documents"] == 1
    assert report["failed"] == [{"path": "corpus/bad.json", "error": report["failed"][0]["error"]}]
    assert report["failed"][0]["error"].startswith("line 1: invalid JSON")
    assert (workdir / "elsewhere").is_dir()


def test_search_without_an_index_exits_2_and_says_what_to_do(tmp_path):
    result = run("search", "anything", cwd=tmp_path)
    assert result.returncode == 2
    assert "dossier index" in result.stderr
    assert not (tmp_path / ".dossier").exists(), "searching must not create an index"


def test_bad_settings_exit_2_naming_the_setting(tmp_path):
    (tmp_path / ".dossier").mkdir()
    result = run("search", "x", "--after", "19/09/2025", cwd=tmp_path)
    assert result.returncode == 2 and "--after" in result.stderr
    env_result = subprocess.run(
        [DOSSIER, "search", "x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DOSSIER_TOP_K": "lots"},
    )
    assert env_result.returncode == 2 and "DOSSIER_TOP_K" in env_result.stderr


def test_readme_settings_table_matches_the_code():
    from app.settings import SETTINGS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        row = next(
            (
                line
                for line in readme.splitlines()
                if line.startswith("|") and f"`{setting.env}`" in line
            ),
            None,
        )
        assert row, f"README's settings table lacks {setting.env}"
        assert setting.shown_default in row and setting.description in row
        assert f"`{setting.name}`" in row, "the dossier.toml key is listed"
        if setting.flag:
            assert f"`{setting.flag}`" in row


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_during_indexing_then_rerun_completes_the_index(tmp_path, embedder):
    """A real SIGINT to `dossier index` once its first batch of files is recorded, while it
    embeds the next; the next run finishes the job: every chunk once, nothing lost."""
    import signal
    import sqlite3
    import time

    from index import Index
    from index.chunking import chunk_spans
    from index.loaders import load_file

    from .conftest import NEWS

    corpus = tmp_path / "articles"
    corpus.mkdir()
    # About 675 chunks: writes of 256, 256 and the rest (10 s of embedding each, more on a
    # busy machine), so that the signal, sent once the first write is recorded, finds the run
    # still embedding even when other work slows the test's polling.
    for copy in range(12):
        for path in sorted(NEWS.glob("*.txt")):
            text = path.read_text(encoding="utf-8").replace(".", f" ({copy}).")
            (corpus / f"{copy}-{path.name}").write_text(text, encoding="utf-8")
    expected = sum(
        len(chunk_spans(article.text))
        for path in corpus.iterdir()
        for article in load_file(path).articles
    )
    env = user_env()
    proc = subprocess.Popen(
        [DOSSIER, "index", "articles"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background of a non-interactive shell
        # inherits SIGINT ignored, and a Python started that way ignores Ctrl-C too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    manifest = tmp_path / ".dossier" / "manifest.sqlite3"
    deadline = time.monotonic() + 240
    settled = 0
    while proc.poll() is None and time.monotonic() < deadline and not settled:
        time.sleep(0.5)
        if manifest.exists():
            with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
                settled = db.execute("SELECT COUNT(*) FROM files WHERE sha256 != ''").fetchone()[0]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"not interrupted mid-run ({settled} files settled): {err}"
    assert "run the same command again" in err.lower()

    rerun = run("index", "articles", "--json", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert 0 < report["embedded"] < expected, "the first run's writes were kept"
    assert (report["documents"], report["chunks"]) == (12 * 14, expected)
    with Index(tmp_path / ".dossier", embedder=embedder, create=False) as idx:
        chunks = list(idx.store.iter_all())
        assert len({c.chunk_id for c in chunks}) == expected
        assert sorted(idx.keyword.ids) == sorted(c.chunk_id for c in chunks)
        for chunk in chunks[:: max(1, expected // 40)]:
            meta = chunk.metadata
            assert idx.document_text(meta["doc_id"])[meta["start"] : meta["end"]] == chunk.text


def test_an_unusable_index_directory_exits_2_with_one_line(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    result = run("index", "corpus", "--index-dir", "a-file", cwd=tmp_path)
    assert result.returncode == 2
    assert "a-file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for line in readme.split("**From Python**:", 1)[1].splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    code = "\n".join(lines)
    shutil.copytree(CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("1 ") and SAMPLE in printed[0]
    assert printed[-1].startswith("True [1] "), printed[-1]


def run_env(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    base = user_env()
    return subprocess.run(
        [DOSSIER, *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.mark.integration
@pytest.mark.slow
def test_ask_on_the_command_line(workdir):
    """`dossier ask` in each mode, as users run it: the contract's JSON, the text output, and
    a clear message and exit code when the LLM server cannot answer."""
    from tests.ollama_standin import StandInOllama
    from tests.test_assistant import closed_port_url

    assert run("index", "corpus/", cwd=workdir).returncode == 0
    closed = closed_port_url()
    question = "Why was the agent arrested?"

    extractive = run_env("ask", question, "--json", cwd=workdir, OLLAMA_HOST=closed)
    assert extractive.returncode == 0, extractive.stderr
    answer = json.loads(extractive.stdout)
    assert {"question", "answer", "mode", "model", "answerable", "citations", "timings_ms"} <= set(
        answer
    )
    assert (answer["mode"], answer["model"], answer["answerable"]) == ("extractive", None, True)
    assert "not reachable" in answer["notice"], "auto says why it fell back"
    citation = answer["citations"][0]
    assert PASSAGE_FIELDS | {"n", "supported"} <= set(citation)
    assert citation["supported"] is True and f"[{citation['n']}]" in answer["answer"]
    assert {"retrieve", "generate", "total"} <= set(answer["timings_ms"])

    text = run_env("ask", question, "--llm", "extractive", cwd=workdir)
    assert text.returncode == 0, text.stderr
    assert "extractive" in text.stdout and "accusations d’espionnage" in text.stdout
    assert f"corpus/{SAMPLE}" in text.stdout, "the sources are listed with their files"

    declined = run_env(
        "ask", "Who won the 2022 World Cup?", "--json", "--llm", "extractive", cwd=workdir
    )
    assert declined.returncode == 0
    assert json.loads(declined.stdout)["answerable"] is False

    with StandInOllama(models=["llama3.2:3b"]) as server:
        llm = run_env("ask", question, "--json", cwd=workdir, OLLAMA_HOST=server.host_port)
        assert llm.returncode == 0, llm.stderr
        answer = json.loads(llm.stdout)
        assert (answer["mode"], answer["model"]) == ("ollama", "llama3.2:3b")
        assert answer["citations"] and answer["citations"][0]["supported"] is True
        assert len(server.chats) == 1

        server.fault = "cut"  # the broken start is withdrawn; the extractive answer once
        cut = run_env("ask", question, cwd=workdir, OLLAMA_HOST=server.url)
        assert cut.returncode == 0, cut.stderr
        assert "broke off" in cut.stderr
        assert cut.stdout.count("accusations d’espionnage.") == 2, cut.stdout  # answer + source

        server.fault = "404"
        missing = run_env("ask", question, "--llm", "ollama", cwd=workdir, OLLAMA_HOST=server.url)
        assert missing.returncode == 1
        failed = run_env(
            "ask", question, "--llm", "ollama", "--json", cwd=workdir, OLLAMA_HOST=server.url
        )
        assert failed.returncode == 1 and "ollama pull" in json.loads(failed.stdout)["error"]
        assert "ollama pull llama3.2:3b" in missing.stderr and server.url in missing.stderr

    down = run_env("ask", question, "--llm", "ollama", cwd=workdir, OLLAMA_HOST=closed)
    assert down.returncode == 2, "Ollama not running is a configuration problem"
    assert f"not reachable at {closed}" in down.stderr and "ollama serve" in down.stderr
    assert "Traceback" not in down.stderr + missing.stderr


def test_ask_with_an_unknown_llm_mode_is_a_usage_error(tmp_path):
    result = run("ask", "Why?", "--llm", "gpt-9", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "--llm: expected one of auto, ollama, openai, llamacpp, extractive, got 'gpt-9'"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    env_result = run_env("ask", "Why?", cwd=tmp_path, DOSSIER_LLM="chatgpt")
    assert env_result.returncode == 2 and "DOSSIER_LLM" in env_result.stderr


def test_serve_on_a_busy_port_says_so(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = run("serve", "--port", port, cwd=tmp_path)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


@pytest.mark.parametrize(
    ("host", "token", "password", "warned"),
    [
        ("127.0.0.1", None, None, []),
        ("localhost", None, None, []),
        ("::1", None, None, []),
        ("127.0.0.2", None, None, []),
        ("0.0.0.0", None, None, ["DOSSIER_API_TOKEN", "DOSSIER_PASSWORD"]),
        ("0.0.0.0", "t", None, ["DOSSIER_PASSWORD"]),
        ("192.168.1.5", None, "p", ["DOSSIER_API_TOKEN"]),
        ("::", "t", "p", []),
        ("my-host.lan", None, "p", ["DOSSIER_API_TOKEN"]),
    ],
)
def test_serve_warns_when_it_listens_beyond_this_machine_unguarded(host, token, password, warned):
    from app.cli import exposure_warnings

    warnings = exposure_warnings(host, token, password)
    assert len(warnings) == len(warned)
    for warning, setting in zip(warnings, warned, strict=True):
        assert setting in warning and host in warning
