"""Shared fixtures: the real embedding model (loaded once per session), real Chroma
directories built from the bundled corpus and the test corpus, and a real Chroma server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
NEWS = ROOT / "tests" / "data" / "news"
QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"
SAMPLE = "2025-09-19-france-mali.txt"
# The onnx-int8 export lands here (dossier processes the tests start inherit it), not in the
# user's ~/.cache: a fresh clone's first run exports it once, like a user's first index.
os.environ.setdefault("DOSSIER_CACHE_DIR", str(ROOT / ".pytest_cache" / "dossier"))


def user_env() -> dict[str, str]:
    """The environment for a `dossier` process started as a user would: without the
    developer's own DOSSIER_ settings, but with the tests' model cache (DOSSIER_CACHE_DIR)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DOSSIER_") or k == "DOSSIER_CACHE_DIR"
    }


@pytest.fixture(scope="session")
def embedder():
    """The default backend for a new index (onnx-int8), prepared once before any test."""
    from index import DEFAULT_MODEL, make_embedder

    return make_embedder(DEFAULT_MODEL, "onnx-int8")


@pytest.fixture(scope="session")
def torch_embedder():
    from index import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def make_index(tmp_path, embedder):
    """Open a fresh index directory with the session's model; closed afterwards."""
    from index import Index

    opened = []

    def make(name: str = "idx", **kwargs):
        idx = Index(tmp_path / name, **{"embedder": embedder, **kwargs})
        opened.append(idx)
        return idx

    yield make
    for idx in opened:
        idx.close()


@pytest.fixture(scope="session")
def news_index(tmp_path_factory, embedder):
    """The test corpus (14 French and English articles) and the sample article, indexed."""
    from index import Index

    idx = Index(tmp_path_factory.mktemp("news") / "idx", embedder=embedder)
    report = idx.add([NEWS, CORPUS])
    assert not report.failed
    yield idx
    idx.close()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder):
    """The bundled sample article alone, indexed once; tests only read it."""
    from index import Index

    idx = Index(tmp_path_factory.mktemp("sample") / "idx", embedder=embedder)
    assert not idx.add([CORPUS]).failed
    yield idx
    idx.close()


@pytest.fixture(scope="session")
def questions() -> dict[str, dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    return {q["id"]: q for q in rows}


# -- a real Chroma server ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """`chroma run` (the chromadb package's server, next to this Python) on 127.0.0.1."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.port = path, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> ChromaServer:
        import httpx

        chroma = Path(sys.executable).parent / "chroma"
        log = open(self.path.parent / f"{self.path.name}-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [chroma, "run", "--path", self.path, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One Chroma server for the session; each test uses its own collection in it."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def store_mode(request) -> str:
    return request.param


@pytest.fixture
def make_mode_index(tmp_path, embedder, store_mode, request):
    """Like `make_index`, in the embedded store or in a fresh collection on the server."""
    from index import Index

    opened = []
    server = request.getfixturevalue("chroma_server") if store_mode == "server" else None

    def make(name: str = "idx", **kwargs):
        if server is not None:
            kwargs = {"chroma_url": server.url, "collection": f"t-{uuid.uuid4().hex}", **kwargs}
        idx = Index(tmp_path / name, **{"embedder": embedder, **kwargs})
        opened.append(idx)
        return idx

    yield make
    for idx in opened:
        idx.close()


def reopen(idx, **kwargs):
    """Open `idx` again (its directory, and its server collection if it has one)."""
    from index import Index

    if idx.remote:
        kwargs = {"chroma_url": idx.chroma_url, "collection": idx.store.name, **kwargs}
    return Index(idx.dir, **kwargs)


@pytest.fixture(scope="session")
def news_server_index(tmp_path_factory, embedder, chroma_server):
    """`news_index`'s corpus, with its chunks on the Chroma server."""
    from index import Index

    idx = Index(
        tmp_path_factory.mktemp("news-server") / "idx",
        embedder=embedder,
        chroma_url=chroma_server.url,
        collection="news",
    )
    report = idx.add([NEWS, CORPUS])
    assert not report.failed
    yield idx
    idx.close()
