"""Many users at once: concurrent searches and extractive answers through the JSON API and
through the chat page's Gradio queue, each checked against the same question asked alone.

    python -m eval.load [--url URL] [--searches 50] [--answers 20] [--paths api,gradio]
                        [--cold] [--json] [--out FILE.json]

Without `--url` it indexes tests/data/news and the sample article into a temporary folder and
starts its own `dossier serve --llm extractive` on a free loopback port (stopped at the end).
With `--url` it loads a running server (`--token` or DOSSIER_API_TOKEN for /api/, `--password`
or DOSSIER_PASSWORD for the page); answers are asked for in extractive mode either way.

Each request carries a distinct question of tests/data/news_questions.jsonl, whose article is
known. Per path, every question is first asked alone, one after another (the reference, and
the latency of a quiet server; before the first path, once more untimed, to warm the caches;
with `--cold` the first path's burst comes first instead, caches empty);
then all the searches and all the answers are released together, each from its own thread (its
own HTTP connection, or its own Gradio session). A response counts as mixed up when it says it
answers another question, or differs from the reference for its own question (the passages'
chunk ids and scores; the answer's text, citations and flags; on the page, the chat and the
sources panel). Reported per path and kind: errors, mix-ups, how many rest on the question's
own article, p50 / p95 / max latency alone and at once, wall time; for the Gradio queue the
positions users were given, their wait, and how many were processed at once.
Exit code 1 when any request failed or was mixed up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .ask_latency import percentile

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"
CORPORA = [ROOT / "tests" / "data" / "news", ROOT / "corpus"]
PATHS = ("api", "gradio")
EXTRACTIVE = "extractive (no LLM)"  # the page's model choice that forces extractive answers
SCORE_TOLERANCE = 1e-4  # the same question's scores, alone and under load (float noise only)


# -- the questions --------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """One simulated user's request: a search or an answer for one question of the set."""

    kind: str  # "search" or "answer"
    id: str
    question: str
    sources: tuple[str, ...]  # file names of the article(s) that hold the answer


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def pick(rows: list[dict], searches: int, answers: int) -> list[Probe]:
    """`searches` distinct questions to search for (in the set's order) and `answers` distinct
    answerable ones to answer, taken article by article so neighbours ask about different
    articles. Raises ValueError naming the option when the set holds too few."""
    distinct = list({row["question"]: row for row in rows}.values())
    answerable = [r for r in distinct if r.get("answerable", True) and r.get("sources")]
    for option, wanted, have, what in (
        ("--searches", searches, len(distinct), "distinct questions"),
        ("--answers", answers, len(answerable), "answerable questions with a known article"),
    ):
        if not 0 <= wanted <= have:
            raise ValueError(
                f"{option} {wanted}: the question set holds {have} {what}; ask for 0 to {have}"
            )
    by_article: dict[str, list[dict]] = {}
    for row in answerable:
        by_article.setdefault(row["sources"][0], []).append(row)
    spread = [
        rows_[i]
        for i in range(max(map(len, by_article.values()), default=0))
        for rows_ in by_article.values()
        if i < len(rows_)
    ]

    def probe(kind: str, row: dict) -> Probe:
        return Probe(kind, row["id"], row["question"], tuple(row.get("sources") or ()))

    return [probe("search", r) for r in distinct[:searches]] + [
        probe("answer", r) for r in spread[:answers]
    ]


# -- what a response says, for comparison ------------------------------------------------------
def _plain(markdown: str) -> str:
    """The page's escaped Markdown as the text a reader sees."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


@dataclass(frozen=True)
class Outcome:
    """What one response said, reduced to what must not change under load."""

    echoed: str  # the question or query the response says it answers
    key: tuple  # everything compared with the reference except the scores
    scores: tuple[float, ...] = ()
    paths: tuple[str, ...] = ()  # articles of the passages returned (search) or cited (answer)


def search_outcome(body: dict) -> Outcome:
    """A search response (`{query, passages}`, from /api/search or the page's `search`)."""
    passages = body["passages"]
    return Outcome(
        echoed=body["query"],
        key=tuple(p["chunk_id"] for p in passages),
        scores=tuple(float(p["score"]) for p in passages),
        paths=tuple(p["path"] for p in passages),
    )


def answer_outcome(body: dict) -> Outcome:
    """An answer object (/api/ask, the CLI's `ask --json`)."""
    citations = body["citations"]
    return Outcome(
        echoed=body["question"],
        key=(
            body["answer"],
            body["answerable"],
            body["mode"],
            body.get("standalone_question"),
            tuple((c["n"], c["chunk_id"], c["supported"]) for c in citations),
        ),
        paths=tuple(c["path"] for c in citations),
    )


_CITED_PATH = re.compile(r'<div class="src" id="source-\d+">.*?<code>(.*?)</code>', re.S)


def page_answer_outcome(chat: list[dict], sources: str) -> Outcome:
    """The page's answer: the chat (the user's message and the answer shown) and the sources
    panel (its passages, highlights and flags)."""
    texts = [_message_text(m) for m in chat]
    return Outcome(
        echoed=_plain(texts[-2]) if len(texts) >= 2 else "",
        key=(tuple(texts), sources),
        paths=tuple(_CITED_PATH.findall(sources)),
    )


def mixed_up(probe: Probe, got: Outcome, alone: Outcome | None) -> str | None:
    """Why `got` is not the response to `probe`'s question (None when it is)."""
    if got.echoed != probe.question:
        return f"answers another question: {got.echoed!r}"
    if alone is None:
        return None
    if got.key != alone.key:
        return "differs from the response to the same question asked alone"
    if len(got.scores) != len(alone.scores) or any(
        abs(a - b) > SCORE_TOLERANCE for a, b in zip(got.scores, alone.scores, strict=True)
    ):
        return "scores differ from the same search done alone"
    return None


def expected_found(probe: Probe, got: Outcome) -> bool:
    """Does the response rest on the question's own article (a passage of it returned, or
    cited)?"""
    return any(Path(path).name in probe.sources for path in got.paths)


# -- clients ----------------------------------------------------------------------------------
@dataclass
class Result:
    probe: Probe
    seconds: float = 0.0
    started: float = 0.0  # time.perf_counter() when the request was sent
    outcome: Outcome | None = None
    error: str | None = None
    queue: list[dict] = field(default_factory=list)  # Gradio queue messages: msg, rank, at (s)


class ApiPath:
    """The JSON API over httpx: one connection per user (a pool as large as the crowd)."""

    name = "api"

    def __init__(self, url: str, token: str | None, users: int, timeout: float) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(
            base_url=url,
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=users + 4, max_keepalive_connections=users + 4),
        )

    def prepare(self, probes: list[Probe]) -> list[Callable[[], Result]]:
        return [self._call(p) for p in probes]

    def _call(self, probe: Probe) -> Callable[[], Result]:
        if probe.kind == "search":
            route, body, outcome = "/api/search", {"query": probe.question, "k": 5}, search_outcome
        else:
            route, body = "/api/ask", {"question": probe.question, "llm": "extractive"}
            outcome = answer_outcome

        def call() -> Result:
            result = Result(probe, started=time.perf_counter())
            try:
                response = self.client.post(route, json=body)
                result.seconds = time.perf_counter() - result.started
                if response.status_code != 200:
                    result.error = f"HTTP {response.status_code}: {response.text[:300]}"
                else:
                    result.outcome = outcome(response.json())
            except Exception as exc:  # reported, the other users go on
                result.seconds = time.perf_counter() - result.started
                result.error = f"{exc.__class__.__name__}: {exc}"
            return result

        return call

    def close(self) -> None:
        self.client.close()


class GradioPath:
    """The page's own queue, spoken as the browser speaks it (Gradio's `sse_v3` protocol over
    httpx): each user is a Gradio session that joins the queue (`POST /gradio_api/queue/join`)
    and reads its events' messages (`GET /gradio_api/queue/data`) — queue position, start,
    streamed pieces, completion. Searches go to the page's `search` endpoint; answers to `ask`,
    the event the Ask button fires, with the extractive model choice. (gradio_client does the
    same, but with threads and 50 ms polling per client that, 70 clients on 2 cores, added
    seconds of its own to every figure.)"""

    name = "gradio"

    def __init__(self, url: str, password: str | None, users: int, timeout: float) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=users + 4, max_keepalive_connections=users + 4),
        )
        if password:  # the page's login form; its cookie then rides on every request
            login = self.client.post("/login", data={"username": "load", "password": password})
            if login.status_code != 200:
                raise RuntimeError(f"{url}/login refused the password (HTTP {login.status_code})")
        config = self.client.get("/config")
        config.raise_for_status()
        config = config.json()
        if config.get("protocol") != "sse_v3":
            raise RuntimeError(
                f"{url} speaks Gradio's {config.get('protocol')!r} queue protocol; this load "
                "test speaks sse_v3 (Gradio 5 and 6)"
            )
        self.prefix = config.get("api_prefix", "/gradio_api")
        kinds = {c["id"]: c for c in config["components"]}
        self.endpoints = {}
        for dep in config["dependencies"]:
            if dep.get("api_name") in ("ask", "search"):
                states = [kinds[i]["type"] == "state" for i in dep["inputs"]]
                elems = [kinds[i].get("props", {}).get("elem_id") for i in dep["outputs"]]
                self.endpoints[dep["api_name"]] = (dep["id"], states, elems)
        if "ask" not in self.endpoints or "search" not in self.endpoints:
            raise RuntimeError(f"{url} has no `ask` and `search` events: is it dossier serve?")

    def prepare(self, probes: list[Probe]) -> list[Callable[[], Result]]:
        return [self._call(p) for p in probes]

    def _call(self, probe: Probe) -> Callable[[], Result]:
        fn, states, elems = self.endpoints["search" if probe.kind == "search" else "ask"]
        if probe.kind == "search":
            values = [probe.question, 5]
        else:  # the question box, the chat so far, k, the model choice, after, before
            values = [probe.question, [], 5, EXTRACTIVE, "", ""]
        given = iter(values)
        data = [None if state else next(given) for state in states]  # states: server-side

        def outcome(output: list) -> Outcome:
            if probe.kind == "search":
                return search_outcome(output[0])
            return page_answer_outcome(output[elems.index("chat")], output[elems.index("sources")])

        def call() -> Result:
            result = Result(probe, started=time.perf_counter())
            try:
                self._join_and_read(fn, data, result, outcome)
            except Exception as exc:  # reported, the other users go on
                result.error = f"{exc.__class__.__name__}: {exc}"
            result.seconds = time.perf_counter() - result.started
            return result

        return call

    def _join_and_read(self, fn: int, data: list, result: Result, outcome) -> None:
        session = uuid.uuid4().hex
        joined = self.client.post(
            f"{self.prefix}/queue/join",
            json={"data": data, "fn_index": fn, "session_hash": session, "event_data": None,
                  "trigger_id": None},
        )  # fmt: skip
        if joined.status_code != 200:
            raise RuntimeError(f"queue/join: HTTP {joined.status_code}: {joined.text[:300]}")
        event_id = joined.json()["event_id"]
        with self.client.stream(
            "GET", f"{self.prefix}/queue/data", params={"session_hash": session}
        ) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                at = time.perf_counter() - result.started
                if message.get("event_id") not in (event_id, None):
                    raise RuntimeError(f"a message for another user's event: {message}")
                kind = message["msg"]
                if kind in ("estimation", "process_starts", "process_completed"):
                    result.queue.append({"msg": kind, "rank": message.get("rank"), "at": at})
                if kind == "process_completed":
                    output = message.get("output") or {}
                    if not message.get("success", False):
                        raise RuntimeError(f"the event failed: {output.get('error') or output}")
                    result.outcome = outcome(output["data"])
                    return
                if kind in ("unexpected_error", "queue_full"):
                    raise RuntimeError(f"{kind}: {message.get('message', '')}")
        raise RuntimeError("the queue's stream ended before the answer was complete")

    def close(self) -> None:
        self.client.close()


# -- running ----------------------------------------------------------------------------------
def alone(calls: list[Callable[[], Result]]) -> list[Result]:
    """Each call in turn, nothing else running: the reference responses."""
    return [call() for call in calls]


def at_once(calls: list[Callable[[], Result]]) -> tuple[list[Result], float]:
    """Every call from its own thread, released together; (results, wall seconds)."""
    if not calls:
        return [], 0.0
    gate = threading.Barrier(len(calls) + 1)

    def run(call: Callable[[], Result]) -> Result:
        gate.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        gate.wait()
        started = time.perf_counter()
        results = [f.result() for f in futures]
    return results, time.perf_counter() - started


def latency(seconds: list[float]) -> dict:
    """p50 / p95 / max in milliseconds (nearest rank)."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 0.5), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
    }


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals (start, end) open at the same moment."""
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def queue_figures(results: list[Result]) -> dict:
    """How the Gradio queue treated a kind's requests, from the messages each user received:
    the queue position first given (0 = next to run), the wait from sending to the event's
    start, and how many of them were being processed at the same moment (as the clients saw
    it: a completion reaches its client just after the slot is freed, so this can read one
    above the event's concurrency limit)."""
    ranks, waits, intervals = [], [], []
    for r in results:
        seen = [u["rank"] for u in r.queue if u["msg"] == "estimation" and u["rank"] is not None]
        if seen:
            ranks.append(seen[0])
        starts = [u["at"] for u in r.queue if u["msg"] == "process_starts"]
        ends = [u["at"] for u in r.queue if u["msg"] == "process_completed"]
        if starts and ends:
            waits.append(starts[0])
            intervals.append((r.started + starts[0], r.started + ends[-1]))
    return {
        "first_position_max": max(ranks, default=None),
        "first_position_p50": percentile(ranks, 0.5) if ranks else None,
        "queued": sum(1 for rank in ranks if rank > 0),
        "wait": latency(waits),
        "processing_at_once_max": most_at_once(intervals) if intervals else None,
    }


def summarise(path: str, kind: str, quiet: list[Result], busy: list[Result], wall: float) -> dict:
    reference = {r.probe.id: r.outcome for r in quiet}
    errors, mixups = [], []
    for r in busy:
        if r.error:
            errors.append({"id": r.probe.id, "question": r.probe.question, "error": r.error})
            continue
        assert r.outcome is not None
        why = mixed_up(r.probe, r.outcome, reference.get(r.probe.id))
        if why:
            mixups.append({"id": r.probe.id, "question": r.probe.question, "why": why})
    for r in quiet:
        if r.error:
            errors.append({"id": r.probe.id, "question": r.probe.question, "alone": True,
                           "error": r.error})  # fmt: skip
    ok = [r for r in busy if r.outcome is not None]
    row = {
        "path": path,
        "kind": kind,
        "requests": len(busy),
        "errors": errors,
        "mixed_up": mixups,
        "own_article": sum(expected_found(r.probe, r.outcome) for r in ok),
        "alone": latency([r.seconds for r in quiet if not r.error]),
        "at_once": latency([r.seconds for r in busy]),
        "wall_s": round(wall, 2),
    }
    if path == "gradio":
        row["queue"] = queue_figures(busy)
    return row


def run(
    url: str,
    probes: list[Probe],
    *,
    paths: tuple[str, ...] = PATHS,
    token: str | None = None,
    password: str | None = None,
    timeout: float = 600.0,
    cold: bool = False,
) -> dict:
    """Load the server at `url` with `probes` on each path; the report as a dict.

    `cold`: the first path's burst comes first, on a server that has not seen these questions
    (its caches fill from many threads at once), and the reference after it; the figures of
    that path then include the cold start."""
    rows = []
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    for name in paths:
        client = (
            ApiPath(url, token, len(probes), timeout)
            if name == "api"
            else GradioPath(url, password, len(probes), timeout)
        )
        try:
            calls = client.prepare(probes)
            if cold and not rows:
                busy, wall = at_once(calls)
                quiet = alone(calls)
            else:
                if not rows:  # warm-up, untimed: the model, and the sentence vectors the
                    alone(calls)  # assistant caches, so every timed pass finds the same caches
                quiet = alone(calls)
                busy, wall = at_once(calls)
        finally:
            client.close()
        for kind in ("search", "answer"):
            chosen = [i for i, p in enumerate(probes) if p.kind == kind]
            if chosen:
                rows.append(
                    summarise(
                        name,
                        kind,
                        [quiet[i] for i in chosen],
                        [busy[i] for i in chosen],
                        max(busy[i].started + busy[i].seconds for i in chosen)
                        - min(busy[i].started for i in chosen),
                    )
                )
        rows.append({"path": name, "kind": "all", "wall_s": round(wall, 2)})
    return {
        "url": url,
        "searches": sum(p.kind == "search" for p in probes),
        "answers": sum(p.kind == "answer" for p in probes),
        "cores": os.cpu_count(),
        "cold": cold,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after
        "rows": rows,
        "errors": sum(len(r.get("errors", ())) for r in rows),
        "mixed_up": sum(len(r.get("mixed_up", ())) for r in rows),
    }


# -- a server of its own ----------------------------------------------------------------------
def dossier_command() -> list[str]:
    script = Path(sys.executable).parent / "dossier"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def own_server(work: Path, corpora: list[Path] = CORPORA) -> Iterator[str]:
    """`dossier serve --llm extractive` on `corpora`, indexed into `work/idx`; yields its URL."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    indexed = subprocess.run(
        [*dossier_command(), "index", *map(str, corpora), "--index-dir", str(work / "idx")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if indexed.returncode != 0:
        raise RuntimeError(f"dossier index failed:\n{indexed.stdout}\n{indexed.stderr}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*dossier_command(), "serve", "--llm", "extractive", "--host", "127.0.0.1",
             "--port", str(port), "--index-dir", str(work / "idx")],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"dossier serve exited early:\n{log.read_text()}")
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(url + "/", timeout=2) as response,
                ):
                    if response.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dossier serve did not answer in 180 s:\n{log.read_text()}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- output -----------------------------------------------------------------------------------
def _ms(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"{report['searches']} searches + {report['answers']} extractive answers at once, "
        f"per path ({report['cores']} cores, load average {report['load_average'][0]} before "
        f"and {report['load_average'][1]} after); ms"
    )
    for column in ("path", "kind", "n", "errors", "mixed up", "own article",
                   "alone p50 / p95", "at once p50 / p95 / max", "wall s"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("path", "kind") else "right")
    for row in report["rows"]:
        if row["kind"] == "all":
            continue
        alone, busy = row["alone"], row["at_once"]
        table.add_row(
            row["path"], row["kind"], str(row["requests"]), str(len(row["errors"])),
            str(len(row["mixed_up"])), f"{row['own_article']}/{row['requests']}",
            f"{_ms(alone['p50_ms'])} / {_ms(alone['p95_ms'])}",
            f"{_ms(busy['p50_ms'])} / {_ms(busy['p95_ms'])} / {_ms(busy['max_ms'])}",
            f"{row['wall_s']:.1f}",
        )  # fmt: skip
    console.print(table)
    for row in report["rows"]:
        q = row.get("queue")
        if q:
            console.print(
                f"Gradio queue, {row['kind']}: {q['queued']} of {row['requests']} queued "
                f"(first position p50 {q['first_position_p50']}, max {q['first_position_max']}); "
                f"wait p50 / p95 {_ms(q['wait']['p50_ms'])} / {_ms(q['wait']['p95_ms'])} ms; "
                f"at most {q['processing_at_once_max']} seen processing at once."
            )
    for row in report["rows"]:
        for e in row.get("errors", ()):
            console.print(f"[red]error[/] {row['path']} {row['kind']} {e['id']}: {e['error']}")
        for m in row.get("mixed_up", ()):
            console.print(f"[red]mixed up[/] {row['path']} {row['kind']} {m['id']}: {m['why']}")
    walls = ", ".join(
        f"{r['path']} {r['wall_s']:.1f} s" for r in report["rows"] if r["kind"] == "all"
    )
    console.print(f"Whole burst (searches and answers together): {walls}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running dossier serve (default: start one)")
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--paths", default=",".join(PATHS), help="api, gradio or both")
    parser.add_argument("--token", default=os.environ.get("DOSSIER_API_TOKEN"))
    parser.add_argument("--password", default=os.environ.get("DOSSIER_PASSWORD"))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    parser.add_argument(
        "--cold", action="store_true", help="the first burst before any warm-up or reference"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    paths = tuple(p.strip() for p in args.paths.split(",") if p.strip())
    if not paths or set(paths) - set(PATHS):
        parser.error(f"--paths {args.paths}: give api, gradio or api,gradio")
    try:
        probes = pick(load_questions(), args.searches, args.answers)
    except ValueError as exc:
        parser.error(str(exc))
    options = {"paths": paths, "token": args.token, "password": args.password,
               "timeout": args.timeout, "cold": args.cold}  # fmt: skip
    if args.url:
        report = run(args.url.rstrip("/"), probes, **options)
    else:
        with (
            tempfile.TemporaryDirectory(prefix="dossier-load-") as work,
            own_server(Path(work)) as url,
        ):
            report = run(url, probes, **options)
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report)
    return 1 if report["errors"] or report["mixed_up"] else 0


if __name__ == "__main__":
    sys.exit(main())
