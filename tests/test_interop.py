"""`eval.interop`: a run written as TREC qrels/runs, BEIR queries and ragas samples, checked
line by line on a small hand-made run (no model)."""

from __future__ import annotations

import json

import pytest

from eval import metrics
from eval.interop import write_ragas, write_trec
from eval.qaset import QAItem


def passage(rank, score, path, chunk, relevant, doc_id=None):
    return {
        "rank": rank,
        "score": score,
        "path": path,
        "doc_id": doc_id or "doc-" + path.rsplit("/", 1)[-1],
        "chunk_id": chunk,
        "start": 0,
        "end": 10,
        "text": f"text of {chunk}",
        "relevant": relevant,
    }


ITEMS = [
    QAItem(
        id="q1",
        question="Who?",
        line=1,
        answers=("Alice", "Alice B."),
        evidence=("Alice said",),
        sources=("a.txt",),
    ),
    QAItem(
        id="q 2",  # whitespace in an id
        question="When?",
        line=2,
        answers=("Monday",),
        evidence=("on Monday",),
        sources=("corpus/b.txt",),  # a path: its file name is the document
    ),
    QAItem(id="q3", question="Why on Mars?", line=3, answerable=False),
    QAItem(
        id="q4",
        question="Where?",
        line=4,
        answers=("Paris",),
        evidence=("in Paris",),
        sources=("doc-a.txt",),  # a document id: a.txt's
    ),
]

RESULTS = [
    {
        "id": "q1",
        "question": "Who?",
        "standalone_question": "Who?",
        "answer": "Alice did. [1]",
        "retrieved": [
            passage(1, 0.9, "corpus/a.txt", "c1", True),
            passage(2, 0.5, "corpus/b.txt", "c2", False),
            passage(3, 0.5, "corpus/a.txt", "c3", True),  # tied with rank 2
        ],
    },
    {
        "id": "q 2",
        "question": "When?",
        "standalone_question": "When? (the meeting)",
        "answer": "On Monday. [2]",
        "retrieved": [
            passage(1, 0.7, "corpus/a.txt", "c1", False),
            passage(2, 0.6, "corpus/b.txt", "c4", True),
        ],
    },
    {
        "id": "q3",
        "question": "Why on Mars?",
        "standalone_question": "Why on Mars?",
        "answer": "The articles don't say.",
        "retrieved": [passage(1, 0.3, "corpus/a.txt", "c1", False)],
    },
    {
        "id": "q4",
        "question": "Where?",
        "standalone_question": "Where?",
        "answer": "The articles don't say.",
        "retrieved": [passage(1, 0.4, "corpus/b.txt", "c2", False)],
    },
]


def read(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_trec_files_line_by_line(tmp_path):
    paths = write_trec(tmp_path, ITEMS, RESULTS)
    assert [p.name for p in paths] == [
        "qrels.passages.txt",
        "run.passages.txt",
        "qrels.documents.txt",
        "run.documents.txt",
        "queries.jsonl",
    ]
    qrels_p, run_p, qrels_d, run_d, queries = (read(p) for p in paths)
    assert qrels_p == [
        "q1 0 c1 1",
        "q1 0 c2 0",
        "q1 0 c3 1",
        "q_2 0 c1 0",
        "q_2 0 c4 1",
        "q4 0 c2 0",
    ]
    assert run_p == [
        "q1 Q0 c1 1 0.900000 dossier",
        "q1 Q0 c2 2 0.500000 dossier",
        "q1 Q0 c3 3 0.499999 dossier",  # the tie lowered: the tools keep dossier's order
        "q_2 Q0 c1 1 0.700000 dossier",
        "q_2 Q0 c4 2 0.600000 dossier",
        "q3 Q0 c1 1 0.300000 dossier",
        "q4 Q0 c2 1 0.400000 dossier",
    ]
    assert qrels_d == [
        "q1 0 a.txt 1",
        "q1 0 b.txt 0",
        "q_2 0 b.txt 1",
        "q_2 0 a.txt 0",
        "q4 0 a.txt 1",
        "q4 0 b.txt 0",
    ]
    assert run_d == [
        "q1 Q0 a.txt 1 0.900000 dossier",
        "q1 Q0 b.txt 2 0.500000 dossier",
        "q_2 Q0 a.txt 1 0.700000 dossier",
        "q_2 Q0 b.txt 2 0.600000 dossier",
        "q3 Q0 a.txt 1 0.300000 dossier",
        "q4 Q0 b.txt 1 0.400000 dossier",
    ]
    assert [json.loads(line) for line in queries] == [
        {"_id": "q1", "text": "Who?"},
        {"_id": "q_2", "text": "When? (the meeting)"},
        {"_id": "q3", "text": "Why on Mars?"},
        {"_id": "q4", "text": "Where?"},
    ]
    # The unanswerable question is judged nowhere.
    assert not any(line.startswith("q3 ") for line in qrels_p + qrels_d)


def trec_qrels(path):
    qrels: dict[str, dict[str, int]] = {}
    for line in read(path):
        qid, _, docid, rel = line.split()
        qrels.setdefault(qid, {})[docid] = int(rel)
    return qrels


def trec_run(path):
    run: dict[str, dict[str, float]] = {}
    for line in read(path):
        qid, q0, docid, rank, score, tag = line.split()
        assert q0 == "Q0" and tag == "dossier" and int(rank) >= 1
        run.setdefault(qid, {})[docid] = float(score)
    return run


def mean_hit_at_1(qrels, run):
    """As trec_eval's success.1: the run ranked by score, averaged over the questions in both."""
    hits = []
    for qid in sorted(set(qrels) & set(run)):
        top = max(run[qid], key=run[qid].get)
        hits.append(float(qrels[qid].get(top, 0) > 0))
    return sum(hits) / len(hits)


def test_a_reader_of_the_trec_files_finds_dossiers_hit_at_1(tmp_path):
    write_trec(tmp_path, ITEMS, RESULTS)
    # dossier's own hit@1 over the answerable questions with evidence (sources): q1, q 2, q4.
    scored = [(i, r) for i, r in zip(ITEMS, RESULTS, strict=True) if i.answerable]
    passages = [metrics.hit_at([p["relevant"] for p in r["retrieved"]], 1) for _, r in scored]
    documents = [
        metrics.hit_at(
            metrics.document_relevance(
                [(p["path"], p["doc_id"]) for p in r["retrieved"]], list(i.sources)
            ),
            1,
        )
        for i, r in scored
    ]
    assert passages == [1.0, 0.0, 0.0] and documents == [1.0, 0.0, 0.0]
    for level, expected in (("passages", passages), ("documents", documents)):
        qrels = trec_qrels(tmp_path / f"qrels.{level}.txt")
        run = trec_run(tmp_path / f"run.{level}.txt")
        assert mean_hit_at_1(qrels, run) == pytest.approx(sum(expected) / 3), level


def test_ragas_samples(tmp_path):
    path = write_ragas(tmp_path, ITEMS, RESULTS)
    assert path == tmp_path / "ragas.jsonl"
    samples = [json.loads(line) for line in read(path)]
    keys = ["id", "user_input", "retrieved_contexts", "response", "reference"]
    assert all(list(s) == [*keys, "reference_contexts"] for s in samples)
    assert samples[0] == {
        "id": "q1",
        "user_input": "Who?",
        "retrieved_contexts": ["text of c1", "text of c2", "text of c3"],
        "response": "Alice did. [1]",
        "reference": "Alice",
        "reference_contexts": ["Alice said"],
    }
    assert samples[1]["user_input"] == "When? (the meeting)"  # as it was answered
    assert samples[2] == {
        "id": "q3",
        "user_input": "Why on Mars?",
        "retrieved_contexts": ["text of c1"],
        "response": "The articles don't say.",
        "reference": "",
        "reference_contexts": [],
    }
    cut = [json.loads(line) for line in read(write_ragas(tmp_path, ITEMS, RESULTS, k=2))]
    assert [s["retrieved_contexts"] for s in cut] == [
        ["text of c1", "text of c2"],
        ["text of c1", "text of c4"],
        ["text of c1"],
        ["text of c2"],
    ]


def test_a_result_of_another_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="q9"):
        write_trec(tmp_path, ITEMS, [{**RESULTS[0], "id": "q9"}])
    with pytest.raises(ValueError, match="q9"):
        write_ragas(tmp_path, ITEMS, [{**RESULTS[0], "id": "q9"}])
