"""`dossier eval`: the Q&A set checked line by line, a deterministic run on the sample set, and
the files a run leaves behind."""

from __future__ import annotations

import json

import pytest

from eval.matching import contains
from eval.qaset import QASetError, load_qaset
from tests.conftest import ROOT
from tests.test_cli import run, run_env

SAMPLE_SET = ROOT / "eval" / "sets" / "sample.jsonl"


def write(tmp_path, *lines: str):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_sample_set_is_valid_and_as_the_issue_asks():
    items, problems = load_qaset(SAMPLE_SET)
    assert problems == [] and len(items) >= 30
    assert sum(not i.answerable for i in items) >= 6
    assert sum(bool(i.history) for i in items) >= 4
    assert {i.extra.get("lang") for i in items} == {"en", "fr"}
    article = (ROOT / "corpus" / "2025-09-19-france-mali.txt").read_text("utf-8")
    for item in items:
        assert all(contains(article, e) for e in item.evidence), item.id


def test_each_bad_line_is_named_with_its_field(tmp_path):
    path = write(
        tmp_path,
        '{"id": "a", "question": "Why was the agent arrested?", "answers": ["espionage"]}',
        '{"id": "b", "question": "Who?", "answers": "espionage"}',
        '{"id": "c"}',
        '{"id": "d", "question": "When?", "answerable": "no"}',
        "{not json",
        '["a", "list"]',
        '{"id": "a", "question": "Again?"}',
        '{"id": "e", "question": "And then?", "history": [{"role": "bot", "content": "x"}]}',
    )
    with pytest.raises(QASetError) as raised:
        load_qaset(path)
    message = str(raised.value)
    for expected in (
        ':2: field "answers": expected a list of strings, got a string',
        ':3: field "question": required, a non-empty string; got nothing',
        ':4: field "answerable": expected true or false, got a string',
        ":5: invalid JSON",
        ":6: expected a JSON object, got a list",
        ':7: id "a" already used on line 1',
        ':8: field "history", turn 1',
        "--skip-invalid",
    ):
        assert expected in message, expected
    items, problems = load_qaset(path, skip_invalid=True)
    assert [i.id for i in items] == ["a"] and len(problems) == 7


def test_an_empty_or_missing_set_is_refused(tmp_path):
    with pytest.raises(QASetError, match="no question"):
        load_qaset(write(tmp_path, "", "  "))
    with pytest.raises(QASetError, match="no such file"):
        load_qaset(tmp_path / "nope.jsonl")


@pytest.mark.integration
@pytest.mark.slow
def test_eval_on_the_sample_set_is_deterministic_and_writes_its_report(tmp_path):
    import shutil

    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    assert run("index", "corpus", cwd=tmp_path).returncode == 0
    first = run(
        "eval", str(SAMPLE_SET), "--llm", "extractive", "--json", "--out", "a", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert {
        "set",
        "n",
        "mode",
        "retrieval",
        "documents",
        "answer",
        "citations",
        "declining",
        "latency_ms",
    } <= set(summary)
    assert summary["n"] == 36 and summary["mode"] == "extractive"
    assert set(summary["retrieval"]) == {"hit@1", "hit@5", "recall@5", "mrr@10", "ndcg@10"}
    assert summary["retrieval"]["hit@5"] == 1.0, "one article: the evidence is always found"
    assert summary["answer"]["contains"] >= 0.6
    assert summary["declining"]["recall"] >= 3 / 8 and summary["declining"]["precision"] == 1.0
    for name in ("summary.json", "results.jsonl", "report.md", "metrics.png", "latency.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0, name
    results = [json.loads(x) for x in (tmp_path / "a" / "results.jsonl").read_text().splitlines()]
    assert len(results) == 36 and {"retrieved", "answer", "citations", "metrics"} <= set(results[0])
    report = (tmp_path / "a" / "report.md").read_text("utf-8")
    assert "dossier 0." in report and "all-MiniLM-L6-v2" in report and "mode: extractive" in report

    second = run_env("eval", str(SAMPLE_SET), "--json", cwd=tmp_path, DOSSIER_LLM="extractive")
    again = json.loads(second.stdout)
    for key in ("retrieval", "documents", "answer", "citations", "declining"):
        assert again[key] == summary[key], key

    table = run("eval", str(SAMPLE_SET), "--llm", "extractive", cwd=tmp_path)
    assert table.returncode == 0 and "mrr@10" in table.stdout and "wrongly_declined" in table.stdout


@pytest.mark.integration
def test_eval_names_sources_missing_from_the_index(tmp_path):
    import shutil

    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    assert run("index", "corpus", cwd=tmp_path).returncode == 0
    path = write(
        tmp_path,
        '{"id": "ok", "question": "Why was the agent arrested?", "answers": ["espionnage"]}',
        '{"id": "x", "question": "Who won?", "sources": ["2022-world-cup.txt"]}',
    )
    refused = run("eval", str(path), "--llm", "extractive", cwd=tmp_path)
    assert refused.returncode == 2
    assert "line 2 (x): source '2022-world-cup.txt' is not in the index" in refused.stderr
    skipped = run(
        "eval", str(path), "--llm", "extractive", "--json", "--skip-invalid", cwd=tmp_path
    )
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["n"] == 1 and "skipped" in skipped.stderr
