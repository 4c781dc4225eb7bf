"""Shared fixtures: the real embedding model (loaded once per session) and real Chroma
directories built from the bundled corpus and the test corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
NEWS = ROOT / "tests" / "data" / "news"
QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"
SAMPLE = "2025-09-19-france-mali.txt"


@pytest.fixture(scope="session")
def embedder():
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
