"""Chroma server mode (`--chroma-url`): a real `chroma run` on 127.0.0.1, the same results as
the embedded store, a keyword side that follows what other processes write, and one clear
line for each wrong server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from index import ChromaServerError, ConfigError, Index, IndexNotFoundError, ModelMismatchError

from .conftest import CORPUS, ROOT, ChromaServer, free_port
from .test_index_search import FIRST_RANK

pytestmark = pytest.mark.integration

AGENT_QUESTION = "why was the agent arrested?"
DOSSIER = [sys.executable, "-m", "app.cli"]


def _store_ids(idx: Index) -> list[str]:
    return sorted(c.chunk_id for c in idx.store.iter_all())


def _ranking(idx: Index, query: str, **filters) -> list[tuple[str, float]]:
    return [(p.chunk_id, p.score) for p in idx.search(query, k=10, **filters)]


# -- the same results as the embedded store ------------------------------------------------
SEARCHES = [
    ("why was the agent arrested?", {}),
    ("grève des conducteurs de tram", {}),
    ("Pourquoi le musée a-t-il été cambriolé ?", {}),
    ("incendie dans les Landes", {}),
    ("sécheresse et restrictions d'eau", {}),
    ("hosepipe ban", {}),
    ("sodium battery", {}),
    ("strike", {"after": "2024-01-01", "before": "2024-12-31"}),
    ("grève des conducteurs", {"source": "LYON"}),
    ("élection municipale", {"after": "2025-01-01"}),
    ("flooding", {"before": "2024-06-30"}),
    ("What is the population of Tokyo?", {}),
]


def test_server_gives_the_embedded_rankings_and_scores(news_index, news_server_index, questions):
    queries = [(q["question"], {}) for q in questions.values()] + SEARCHES
    for query, filters in queries:
        assert _ranking(news_server_index, query, **filters) == _ranking(
            news_index, query, **filters
        ), (query, filters)
    assert news_server_index.count_chunks() == news_index.count_chunks()
    assert news_server_index.count_documents() == news_index.count_documents() == 15
    assert news_server_index.document_names() == news_index.document_names()
    assert news_server_index.documents_matching(source="lyon") == news_index.documents_matching(
        source="lyon"
    )


@pytest.mark.parametrize("qid", FIRST_RANK[:6])
def test_known_relevant_passage_ranks_first_on_the_server(news_server_index, questions, qid):
    question = questions[qid]
    top = news_server_index.search(question["question"], k=5)[0]
    assert top.path.endswith(question["sources"][0])


def test_server_passages_point_into_their_documents(news_server_index):
    for passage in news_server_index.search("grève des conducteurs", k=10):
        text = news_server_index.document_text(passage.doc_id)
        assert text[passage.start : passage.end] == passage.text


# -- indexing: tests/test_index_search.py runs its indexing tests in both stores (`store_mode`)
def test_index_dir_moved_to_a_server_indexes_everything_there(tmp_path, embedder, chroma_server):
    """The manifest's records describe the embedded store: the server's empty collection
    gets every file all the same (and a dropped collection would too)."""
    with Index(tmp_path / "idx", embedder=embedder) as embedded:
        embedded.add([CORPUS])
    idx = Index(
        tmp_path / "idx", embedder=embedder, chroma_url=chroma_server.url, collection="moved"
    )
    report = idx.add([CORPUS])
    assert report.indexed == 1 and report.chunks == idx.count_chunks() > 0
    assert idx.add([CORPUS]).indexed == 0, "then it is up to date"
    idx.store.drop()
    assert idx.add([CORPUS]).chunks == report.chunks
    idx.close()


# -- the server's data outlives it; other processes' writes are seen -------------------------
def test_restarted_server_still_has_the_index(tmp_path, embedder):
    server = ChromaServer(tmp_path / "chroma").start()
    try:
        idx = Index(tmp_path / "idx", embedder=embedder, chroma_url=server.url)
        idx.add([CORPUS])
        count, before = idx.count_chunks(), _ranking(idx, AGENT_QUESTION)
        server.restart()  # same path, same port
        assert idx.count_chunks() == count
        assert _ranking(idx, AGENT_QUESTION) == before
        other = Index(tmp_path / "elsewhere", embedder=embedder, chroma_url=server.url)
        assert other.count_documents() == 1 and _ranking(other, AGENT_QUESTION) == before
        idx.close(), other.close()
    finally:
        server.stop()


def test_a_rebuild_elsewhere_is_followed_not_a_crash(tmp_path, embedder, chroma_server):
    """Another process drops the collection and builds it again (`dossier index --rebuild`):
    an Index already open here keeps searching — empty while the collection is empty, the same
    passages once it is rebuilt — instead of failing on the old collection's id."""
    name = "rebuilt"
    here = Index(
        tmp_path / "here", embedder=embedder, chroma_url=chroma_server.url, collection=name
    )
    here.add([CORPUS])
    before = _ranking(here, AGENT_QUESTION)
    there = Index(
        tmp_path / "there", embedder=embedder, chroma_url=chroma_server.url, collection=name
    )
    there.store.drop()
    assert here.search(AGENT_QUESTION) == [] and here.count_chunks() == 0
    there.add([CORPUS])
    assert _ranking(here, AGENT_QUESTION) == before
    here.close(), there.close()


def test_keyword_cache_saves_from_several_processes_do_not_collide(tmp_path):
    """Processes sharing an index directory in server mode all save the keyword cache: the
    saves and loads are serialised by a lock, none fails, and the last one is what loads."""
    from index.keyword import KeywordIndex

    texts = [f"article {i} about harbour number {i}" for i in range(50)]
    built = KeywordIndex.build([f"c{i}" for i in range(50)], ["d"] * 50, texts, ["en"] * 50)
    errors: list[BaseException] = []

    def churn(worker: int) -> None:
        try:
            for round_ in range(15):
                built.save(tmp_path, f"w{worker}-{round_}")
                KeywordIndex.load(tmp_path, f"w{worker}-{round_}")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=churn, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    last = KeywordIndex.saved_generation(tmp_path)
    loaded = KeywordIndex.load(tmp_path, last)
    assert loaded is not None and loaded.ids == built.ids
    assert len(list(tmp_path.glob("keyword-*"))) == 1  # the older generations were removed


def test_another_process_adds_a_document_this_one_finds_by_keyword(
    tmp_path, embedder, chroma_server
):
    """`dossier index --chroma-url` in a subprocess (its own index directory) adds an article;
    an Index already open in this process finds it by a word only the keyword side knows."""
    idx = Index(tmp_path / "here", embedder=embedder, chroma_url=chroma_server.url)
    idx.add([CORPUS])
    assert all("Quimperlé" not in p.text for p in idx.search("Quimperlé kouign-amann", k=3))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "2025-10-10-quimperle.txt").write_text(
        "date 2025-10-10\nÀ Quimperlé, la fête du kouign-amann a attiré douze mille visiteurs "
        "samedi. Les boulangers de la ville ont vendu toute leur production avant midi.\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [*DOSSIER, "index", str(extra), "--json", "--chroma-url", chroma_server.url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DOSSIER_INDEX_DIR": str(tmp_path / "there"), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["documents"] == 2, "the server holds both processes' articles"
    top = idx.search("Quimperlé kouign-amann", k=3)[0]
    assert "Quimperlé" in top.text and top.date == "2025-10-10"
    assert idx.count_documents() == 2
    assert idx.documents_matching(after="2025-10-01") == {top.doc_id}
    assert idx.document_text(top.doc_id)[top.start : top.end] == top.text
    idx.close()


# -- a wrong server: one line naming the URL and the fix --------------------------------------
class _StandIn(BaseHTTPRequestHandler):
    """Answers like a Chroma 0.x server (`/api/v1/*` only), or like no Chroma at all."""

    chroma_0x = True

    def do_GET(self) -> None:
        replies = {
            "/api/v1/heartbeat": {"nanosecond heartbeat": 1},
            "/api/v1/version": "0.5.23",
        }
        if self.chroma_0x and self.path in replies:
            body, status = json.dumps(replies[self.path]).encode(), 200
        else:
            body, status = b'{"detail":"Not Found"}', 404
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(params=[True, False], ids=["chroma-0.x", "not-chroma"])
def stand_in(request):
    handler = type("Handler", (_StandIn,), {"chroma_0x": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield request.param, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refused_port_names_the_url_and_how_to_start_chroma(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChromaServerError) as err:
        Index(tmp_path / "idx", chroma_url=url)
    assert url in str(err.value) and "chroma run" in str(err.value)
    assert "connection refused" in str(err.value)


def test_old_or_foreign_server_is_refused_with_the_fix(tmp_path, stand_in):
    old, url = stand_in
    with pytest.raises(ChromaServerError) as err:
        Index(tmp_path / "idx", chroma_url=url)
    message = str(err.value)
    assert url in message
    if old:
        assert "0.5.23" in message and "chromadb>=1.5,<2" in message
    else:
        assert "does not answer like a Chroma server" in message and "HTTP 404" in message


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host:8000", "http://host:8000/db"])
def test_malformed_url_says_what_to_give(tmp_path, url):
    with pytest.raises(ConfigError, match="http://HOST:PORT"):
        Index(tmp_path / "idx", chroma_url=url)


def test_cli_refused_server_is_one_line_and_exit_2(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [*DOSSIER, "search", "agent", "--chroma-url", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "chroma run" in lines[0]


def test_missing_collection_says_how_to_build_it(tmp_path, chroma_server):
    with pytest.raises(IndexNotFoundError) as err:
        Index(
            tmp_path / "idx", chroma_url=chroma_server.url, collection="never-built", create=False
        )
    assert chroma_server.url in str(err.value) and "dossier index --chroma-url" in str(err.value)


def test_collection_built_with_another_model_names_the_server(news_server_index, tmp_path):
    class OtherModel:
        name, dimensions = "other-model", 384

        def embed(self, texts):
            rng = np.random.default_rng(len(texts))
            vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    url = news_server_index.chroma_url
    other = Index(tmp_path / "idx", embedder=OtherModel(), chroma_url=url, collection="news")
    with pytest.raises(ModelMismatchError) as err:
        other.search(AGENT_QUESTION)
    message = str(err.value)
    assert url in message and "all-MiniLM-L6-v2" in message and "other-model" in message
    other.close()


def test_index_dir_holds_no_vectors_in_server_mode(news_server_index):
    folder = Path(news_server_index.dir)
    assert (folder / "manifest.sqlite3").exists() and not (folder / "chroma").exists()
