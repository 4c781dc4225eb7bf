"""dossier's retriever inside a llama-index query engine, answered by the stand-in Ollama
server through llama-index's own Ollama integration: the engine gets dossier's passages."""

from __future__ import annotations

import pytest

from tests.ollama_standin import StandInOllama

pytestmark = pytest.mark.integration
QUESTION = "Why was the agent arrested?"


def test_nodes_carry_the_passage_contract(sample_index):
    from index.llamaindex import DossierRetriever

    nodes = DossierRetriever(sample_index, k=2).retrieve(QUESTION)
    passages = sample_index.search(QUESTION, 2)
    assert [n.node.node_id for n in nodes] == [p.chunk_id for p in passages]
    assert [n.score for n in nodes] == [p.score for p in passages]
    first = nodes[0].node
    assert first.get_content() == passages[0].text
    assert first.metadata["path"].endswith("2025-09-19-france-mali.txt")
    assert first.metadata["date"] == "2025-09-19"
    assert "chunk_id" not in first.get_metadata_str(mode="llm")
    assert DossierRetriever(sample_index, after="2026-01-01").retrieve(QUESTION) == []


def test_a_llamaindex_query_engine_answers_from_dossiers_passages(sample_index):
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.llms.ollama import Ollama

    from index.llamaindex import DossierRetriever

    with StandInOllama(models=["llama3.2:3b"]) as server:
        server.reply = "He was arrested on espionage accusations."
        llm = Ollama(
            model="llama3.2:3b", base_url=server.url, context_window=4096, request_timeout=10
        )
        engine = RetrieverQueryEngine.from_args(DossierRetriever(sample_index, k=2), llm=llm)
        response = engine.query(QUESTION)
        assert str(response) == "He was arrested on espionage accusations."
        assert [n.node.node_id for n in response.source_nodes] == [
            p.chunk_id for p in sample_index.search(QUESTION, 2)
        ]
        sent = str(server.chats[-1]["messages"])
        assert QUESTION in sent and "accusations d’espionnage" in sent
