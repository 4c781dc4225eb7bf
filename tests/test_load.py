"""Many users at once (eval/load.py): 50 searches and 20 extractive answers released together
through the JSON API and through the chat page's Gradio queue of a real `dossier serve`; no
request fails and every user gets the response to their own question. Timings are printed,
not asserted (the machine is shared)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from eval import load

from .conftest import CORPUS, NEWS
from .serving import clean_env, dossier_command, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The test articles and the sample article indexed; Ollama unreachable (extractive)."""
    work = tmp_path_factory.mktemp("load")
    shutil.copytree(NEWS, work / "news")
    shutil.copytree(CORPUS, work / "corpus")
    env = clean_env("127.0.0.1:1")
    indexed = subprocess.run(
        [*dossier_command(), "index", "news", "corpus", "--index-dir", "idx"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert indexed.returncode == 0, f"dossier index failed:\n{indexed.stdout}\n{indexed.stderr}"
    with serving(work, env) as url:
        yield url


def test_fifty_searches_and_twenty_answers_at_once_on_both_paths(server, capsys):
    probes = load.pick(load.load_questions(), 50, 20)
    assert len({p.question for p in probes if p.kind == "search"}) == 50
    assert len({p.question for p in probes if p.kind == "answer"}) == 20
    report = load.run(server, probes)
    with capsys.disabled():
        print()
        load.print_report(report)
    rows = {(r["path"], r["kind"]): r for r in report["rows"] if r["kind"] != "all"}
    assert set(rows) == {(p, k) for p in load.PATHS for k in ("search", "answer")}
    for (path, kind), row in rows.items():
        assert row["errors"] == [], f"{path} {kind}: {row['errors']}"
        assert row["mixed_up"] == [], f"{path} {kind}: {row['mixed_up']}"
        assert row["requests"] == (50 if kind == "search" else 20)
        # The references are meaningful: most users' responses rest on their own article.
        assert row["own_article"] >= 0.7 * row["requests"], row
    # The page's queue really held users back (it runs two answers at a time), and every
    # answer went through it.
    queue = rows["gradio", "answer"]["queue"]
    assert queue["queued"] > 0 and queue["processing_at_once_max"] >= 1


def test_the_page_search_endpoint_names_a_bad_field(server):
    """The page's `search` (for gradio_client scripts, and the load test's Gradio searches)."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    # Passages carry a `path`, which gradio_client (sse_v3) would take for a file to download.
    client = Client(server, verbose=False, download_files=False)
    found = client.predict("Combien de conducteurs ?", 3, api_name="/search")
    assert found["query"] == "Combien de conducteurs ?" and len(found["passages"]) == 3
    with pytest.raises(AppError, match="query: give the words to search for"):
        client.predict("  ", 5, api_name="/search")
    with pytest.raises(AppError, match="k: 99 passages asked for; ask for 1 to 50"):
        client.predict("tram", 99, api_name="/search")


def test_a_cold_servers_first_requests_at_once_load_the_model_once(make_index, tmp_path):
    """A server's first users arrive together. Each of them used to load its own copy of the
    model (40 first searches at once: 40 copies, 11 s instead of 1 s, found by `--cold`)."""
    from index import Index

    built = make_index("idx")
    assert not built.add([CORPUS]).failed
    built.close()
    idx = Index(tmp_path / "idx")  # as `dossier serve` opens it: the model loaded when needed
    loaded = []

    def watch(frame, event, _arg):  # sees each thread's calls; changes nothing
        if event == "call" and frame.f_code.co_qualname in (
            "OnnxEmbedder.__init__",
            "SentenceTransformerEmbedder.__init__",
        ):
            loaded.append(frame.f_code.co_qualname)

    threading.setprofile(watch)
    try:
        gate = threading.Barrier(16)

        def search(_):
            gate.wait()
            return idx.search("Why was the agent arrested?", 3)

        with ThreadPoolExecutor(16) as pool:
            found = list(pool.map(search, range(16)))
    finally:
        threading.setprofile(None)
        idx.close()
    assert all(f == found[0] and f for f in found)
    assert len(loaded) == 1, loaded


def test_a_response_for_another_question_counts_as_mixed_up():
    probes = load.pick(load.load_questions(), 2, 0)
    mine = load.search_outcome({"query": probes[0].question, "passages": []})
    theirs = load.search_outcome({"query": probes[1].question, "passages": []})
    assert load.mixed_up(probes[0], mine, mine) is None
    assert "another question" in load.mixed_up(probes[0], theirs, mine)
    passage = {"chunk_id": "c1", "score": 0.5, "path": "news/a.txt"}
    moved = load.search_outcome({"query": probes[0].question, "passages": [passage]})
    assert "alone" in load.mixed_up(probes[0], moved, mine)


def test_too_many_users_for_the_question_set_is_a_clear_error():
    done = subprocess.run(
        [sys.executable, "-m", "eval.load", "--searches", "500", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        cwd=load.ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--searches 500: the question set holds 58 distinct questions" in done.stderr


def test_without_a_url_it_serves_its_own_index(tmp_path):
    """`python -m eval.load` indexes the test articles, starts `dossier serve --llm extractive`
    and stops it; a small crowd here (the full one runs above)."""
    done = subprocess.run(
        [sys.executable, "-m", "eval.load", "--searches", "4", "--answers", "2", "--json"],
        capture_output=True,
        text=True,
        cwd=load.ROOT,
        env={**clean_env("127.0.0.1:1"), "TMPDIR": str(tmp_path)},
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["searches"], report["answers"], report["errors"], report["mixed_up"]) == (
        4, 2, 0, 0,
    )  # fmt: skip
    assert {(r["path"], r["kind"]) for r in report["rows"]} >= {
        ("api", "answer"),
        ("gradio", "search"),
    }
    assert list(tmp_path.glob("dossier-load-*")) == []  # its temporary index is gone
