"""Killed runs, and one writer per index directory: SIGKILL at random moments must leave an
index that opens, and that the next run completes into exactly what a clean build gives;
a second writer waits or is told who holds the index; a running server takes `dossier index`
runs over and answers throughout."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from eval import kill_test
from index import Index, IndexBusyError
from index.lock import WriterLock, read_holder

from .conftest import CORPUS, ROOT, user_env
from .serving import clean_env, dossier_command, serving

pytestmark = pytest.mark.integration


def dossier(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*dossier_command(), *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=clean_env("http://127.0.0.1:9"),
        timeout=timeout,
    )


def test_sigkill_at_random_moments_then_a_rerun_equals_a_clean_build(tmp_path):
    """The issue's crash test: at least 20 SIGKILLs over five rounds (four of changes, one of
    `--rebuild`)."""
    report = kill_test.run(kills=20, rounds=5, seed=7, work=tmp_path)
    print(
        f"\n{report.runs} runs, {report.kills} kills, moments {report.kill_moments_s}, "
        f"rounds {json.dumps(report.rounds)}"
    )
    assert report.kills >= 20
    assert report.kills_after_first_write >= 5, "most kills should land among the writes"
    assert report.open_failures == [], "a reader crashed on a killed index"
    assert report.inconsistent == [], "keyword index and store disagreed after a kill"
    assert report.mismatches == [], "the finished index differs from a clean build"
    assert len(report.rounds) == 5 and all(r["identical"] for r in report.rounds)


def _settled_files(index_dir: Path) -> int:
    """Files the manifest records as done (read as another process would, without Chroma)."""
    try:
        db = sqlite3.connect(f"file:{index_dir / 'manifest.sqlite3'}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM files WHERE size >= 0").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    corpus = tmp_path / "corpus"
    kill_test.write_corpus(corpus, seed=3)
    index_dir = tmp_path / "idx"
    clean = dossier("index", str(corpus), "--json", "--index-dir", str(tmp_path / "clean"))
    total = json.loads(clean.stdout)["embedded"]

    process = subprocess.Popen(
        [*dossier_command(), "index", str(corpus), "--index-dir", str(index_dir)],
        cwd=ROOT,
        env=clean_env("http://127.0.0.1:9"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while _settled_files(index_dir) == 0 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before its first write: corpus too small"
    process.send_signal(signal.SIGKILL)
    process.wait()
    settled = _settled_files(index_dir)

    again = dossier("index", str(corpus), "--json", "--index-dir", str(index_dir))
    report = json.loads(again.stdout)
    assert again.returncode == 0, again.stderr
    assert settled > 0 and report["embedded"] < total, (
        f"the rerun embedded {report['embedded']} of {total} chunks: it started over"
    )
    assert report["unchanged"] >= settled, "files recorded before the kill are not redone"
    assert report["chunks"] == json.loads(clean.stdout)["chunks"]


# -- one writer ---------------------------------------------------------------------------------
HOLDER = """
import sys, time
from index.lock import WriterLock
lock = WriterLock(sys.argv[1], "`dossier index`")
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_in_another_process(index_dir: Path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(index_dir), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_writer_is_told_who_holds_the_index_or_waits(tmp_path):
    index_dir = tmp_path / "idx"
    holder = _hold_in_another_process(index_dir, 600)
    try:
        busy = dossier("index", str(CORPUS), "--index-dir", str(index_dir))
        assert busy.returncode == 2
        message = busy.stderr
        assert f"pid {holder.pid}" in message and "`dossier index`" in message
        assert "--wait" in message and "Traceback" not in message
        assert read_holder(index_dir)["pid"] == holder.pid

        idx = Index(index_dir, create=True)  # an app's writer gets the same error
        with pytest.raises(IndexBusyError, match=f"pid {holder.pid}"):
            idx.add([CORPUS])
        idx.close()

        waiting = subprocess.Popen(
            [
                *dossier_command(),
                "index",
                str(CORPUS),
                "--json",
                "--wait",
                "300",
                "--index-dir",
                str(index_dir),
            ],
            cwd=ROOT,
            env=clean_env("http://127.0.0.1:9"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = waiting.stderr.readline()  # printed once it finds the index taken
        assert "waiting up to 300 s" in line and f"pid {holder.pid}" in line, line
        time.sleep(1.0)
        assert waiting.poll() is None, "it waits while the holder runs"
        holder.kill()  # the holder's run ends
        out, err = waiting.communicate(timeout=300)
        assert waiting.returncode == 0, err
        assert json.loads(out)["documents"] == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_writer_leaves_no_stale_lock(tmp_path):
    index_dir = tmp_path / "idx"
    holder = _hold_in_another_process(index_dir, 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert read_holder(index_dir) is None
    lock = WriterLock(index_dir, "test")
    lock.acquire()  # at once: the kernel dropped the dead process's lock
    lock.release()
    assert os.stat(index_dir / "writer.lock").st_mode & 0o077 == 0, "the secret file is private"


def _search(url: str, query: str) -> dict:
    request = urllib.request.Request(
        url + "/api/search",
        data=json.dumps({"query": query, "k": 3}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_serve_takes_over_an_index_run_and_answers_throughout(tmp_path):
    """`dossier index` beside a running `dossier serve` on the same index directory: the server
    (the one process with the Chroma directory open) does the run, keeps answering, and finds
    the new articles as soon as it is over."""
    work = tmp_path
    env = clean_env("http://127.0.0.1:9")
    news = tmp_path / "news"
    kill_test.write_corpus(news, seed=5, generated=20)
    with serving(work, env, index_dir="idx") as url:
        before = _search(url, "why was the agent arrested?")["passages"]
        assert before, "the server indexed the bundled article"

        answers: list[int] = []
        errors: list[str] = []
        stop = threading.Event()

        def keep_asking():
            while not stop.is_set():
                try:
                    found = _search(url, "why was the agent arrested?")["passages"]
                    answers.append(len(found))
                except Exception as exc:
                    errors.append(repr(exc))
                time.sleep(0.1)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            run = dossier("index", str(news), "--json", "--index-dir", "idx", cwd=work)
        finally:
            stop.set()
            asker.join()
        assert run.returncode == 0, run.stderr
        assert "it indexes the files" not in run.stderr, "--json stays quiet"
        report = json.loads(run.stdout)
        assert report["indexed"] == len(list(news.iterdir())) and report["failed"] == []
        assert errors == [] and len(answers) >= 5 and min(answers) > 0, "answered throughout"

        found = _search(url, "Generated article 3")["passages"]
        assert any("gen-003" in p["path"] for p in found), "the new articles are searchable"
        reader = dossier("search", "Generated article 3", "--json", "--index-dir", "idx", cwd=work)
        assert reader.returncode == 0, reader.stderr  # a reader process beside the server
        assert any("gen-003" in p["path"] for p in json.loads(reader.stdout)["passages"])
        health = json.loads(urllib.request.urlopen(url + "/api/health", timeout=30).read())
        assert health["documents"] == report["documents"] > 1

        second = dossier("serve", "--index-dir", "idx", "--port", "0", cwd=work, timeout=120)
        assert second.returncode == 2 and "already served" in second.stderr
        rebuild = dossier("index", str(news), "--rebuild", "--index-dir", "idx", cwd=work)
        assert rebuild.returncode == 2
        assert "stop it before --rebuild" in " ".join(rebuild.stderr.split())
        other = dossier(
            "index", str(news), "--embed-backend", "torch", "--index-dir", "idx", cwd=work
        )
        assert other.returncode == 2
        assert "its own settings: drop --embed-backend" in " ".join(other.stderr.split())

        forged = urllib.request.Request(
            url + "/api/index",
            data=json.dumps({"paths": ["/etc"]}).encode(),
            headers={"Content-Type": "application/json", "X-Dossier-Writer": "guess"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=30)
        assert refused.value.code == 403, "only the holder of the lock file's secret hands runs"


def test_readers_open_a_killed_index_directory(tmp_path, embedder):
    """A reader in this process (an app) opens an index whose writer was killed mid-run."""
    corpus = tmp_path / "corpus"
    kill_test.write_corpus(corpus, seed=11)
    index_dir = tmp_path / "idx"
    process = subprocess.Popen(
        [*dossier_command(), "index", str(corpus), "--index-dir", str(index_dir)],
        cwd=ROOT,
        env=user_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while _settled_files(index_dir) == 0 and process.poll() is None:  # after its first write
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it was killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Index(index_dir, embedder=embedder, create=False) as idx:
        stored = sorted(c.chunk_id for c in idx.store.iter_all())
        assert stored and sorted(idx.keyword.ids) == stored, "the keyword side follows the store"
        assert idx.search("why was the agent arrested?"), "what was written is searchable"
