"""Models trained with a prefix on each side (E5: "query: " and "passage: "): dossier gives
each text its side's prefix, from the model's own configuration or from what is known of
its family, and nothing to models without one."""

from __future__ import annotations

import json

import pytest

from index.embeddings import embed_passages, embed_queries, model_prompts


def test_prompts_come_from_the_models_config_then_from_its_family(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "search_query: ", "document": "search_document: "}})
    )
    assert model_prompts("my-model", folder) == ("search_query: ", "search_document: ")
    assert model_prompts("multilingual-e5-small") == ("query: ", "passage: ")
    assert model_prompts("intfloat/e5-base-v2") == ("query: ", "passage: ")
    assert model_prompts("/models/multilingual-e5-small", tmp_path / "x") == (
        "query: ",
        "passage: ",
    )
    assert model_prompts("all-MiniLM-L6-v2") == ("", "")
    assert model_prompts("some/e5ish-model") == ("", ""), "only the e5 family by name"
    (folder / "config_sentence_transformers.json").write_text("{not json")
    assert model_prompts("my-model", folder) == ("", "")


class Recording:
    """The real model, with prefixes, recording what it was asked to embed."""

    def __init__(self, inner, query_prefix: str, passage_prefix: str) -> None:
        self.inner, self.seen = inner, []
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, texts):
        self.seen.extend(texts)
        return self.inner.embed(texts)


@pytest.mark.integration
def test_chunks_get_the_passage_prefix_questions_the_query_prefix(embedder, make_index, tmp_path):
    from app.assistant import Assistant

    recording = Recording(embedder, "query: ", "passage: ")
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "a.txt").write_text(
        "Le Mali a expulsé deux diplomates français. Paris a dénoncé une décision injustifiée.",
        encoding="utf-8",
    )
    idx = make_index(embedder=recording)
    idx.add([tmp_path / "news"])
    stored = [t for t in recording.seen if "expulsé" in t]
    assert stored and all(t.startswith("passage: ") for t in stored)
    recording.seen.clear()
    assert idx.search("Qui a expulsé les diplomates ?", 3)
    assert recording.seen == ["query: Qui a expulsé les diplomates ?"]
    # the answer's sentence scoring and support check compare like with like: both sides
    # are "queries" (E5's advice for symmetric similarity)
    recording.seen.clear()
    Assistant(idx, llm="extractive").ask("Qui a expulsé les diplomates ?")
    assert recording.seen and all(t.startswith("query: ") for t in recording.seen)


def test_without_prefixes_texts_go_through_unchanged():
    class Plain:
        def embed(self, texts):
            return texts

    assert embed_queries(Plain(), ["a"]) == ["a"] and embed_passages(Plain(), ["b"]) == ["b"]
