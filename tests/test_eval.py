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
    assert summary["n"] == 50 and summary["mode"] == "extractive"
    assert set(summary["retrieval"]) == {"hit@1", "hit@5", "recall@5", "mrr@10", "ndcg@10"}
    assert summary["retrieval"]["hit@5"] == 1.0, "one article: the evidence is always found"
    assert summary["answer"]["contains"] >= 0.6
    # measured: 19 of the 22 unanswerable declined, none of the 28 answerable
    assert summary["declining"]["recall"] >= 0.75 and summary["declining"]["precision"] == 1.0
    assert summary["declining"]["wrongly_declined"] <= 0.05
    # every claim extractive mode shows as supported is a quote: the word-level check agrees
    assert summary["citations"]["confirmed"] == 1.0
    assert summary["fallback"]["share"] == 0.0
    assert summary["declining_by_mode"]["extractive"] == summary["declining"]
    for name in ("summary.json", "results.jsonl", "report.md", "metrics.png", "latency.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0, name
    results = [json.loads(x) for x in (tmp_path / "a" / "results.jsonl").read_text().splitlines()]
    assert len(results) == 50 and {"retrieved", "answer", "citations", "metrics"} <= set(results[0])
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


def test_sweep_settings_are_parsed_and_checked():
    from eval.sweep import grid, parse_set
    from index.errors import ConfigError

    assert parse_set("k=3,5,8") == ("k", [3, 5, 8])
    assert grid(["k=3,5", "dense_weight=0.5,0.7"]) == [
        {"k": 3, "dense_weight": 0.5},
        {"k": 3, "dense_weight": 0.7},
        {"k": 5, "dense_weight": 0.5},
        {"k": 5, "dense_weight": 0.7},
    ]
    for bad, message in (
        ("k", "NAME=VALUE"),
        ("chunk_size=400,800", "cannot be swept"),
        ("k=0,3", "at least 1"),
        ("dense_weight=2", "from 0 to 1"),
        ("llm=gpt", "auto, ollama, openai, llamacpp, extractive"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_set(bad)
    with pytest.raises(ConfigError, match="given twice"):
        grid(["k=3", "k=5"])


@pytest.mark.integration
@pytest.mark.slow
def test_sweep_then_compare_two_runs(tmp_path):
    import shutil

    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    assert run("index", "corpus", cwd=tmp_path).returncode == 0
    lines = SAMPLE_SET.read_text("utf-8").splitlines()
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines[:6] + lines[24:26] + lines[32:34]) + "\n", "utf-8")

    swept = run(
        "eval", str(small), "--llm", "extractive", "--set", "k=1,5", "--out", "sw", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    runs = json.loads(swept.stdout)
    assert [r["setting"] for r in runs] == [{"k": 1}, {"k": 5}]
    assert [r["summary"]["settings"]["k"] for r in runs] == [1, 5]
    for name in ("sweep.md", "sweep.json", "sweep.png", "k=1/summary.json", "k=5/report.md"):
        assert (tmp_path / "sw" / name).exists(), name
    assert "| k |" in (tmp_path / "sw" / "sweep.md").read_text("utf-8")

    shown = run("compare", "sw/k=1", "sw/k=5", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "mrr@10" in shown.stdout and "sw/k=1" in shown.stdout
    diff = json.loads(run("compare", "sw/k=1", "sw/k=5", "--json", cwd=tmp_path).stdout)
    assert {"figures", "better", "worse", "different", "only_in_one"} <= set(diff)
    by_name = {(f["group"], f["metric"]): f for f in diff["figures"]}
    first, second = runs[0]["summary"], runs[1]["summary"]
    assert by_name[("answer", "contains")]["a"] == first["answer"]["contains"]
    assert by_name[("answer", "contains")]["b"] == second["answer"]["contains"]
    for change in diff["better"] + diff["worse"]:
        assert change["id"] in small.read_text("utf-8")

    missing = run("compare", "sw/k=1", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2 and "not an evaluation run" in missing.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_eval_with_the_llm_judge_and_exports(tmp_path):
    import shutil

    from tests.ollama_standin import StandInOllama

    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    assert run("index", "corpus", cwd=tmp_path).returncode == 0
    lines = SAMPLE_SET.read_text("utf-8").splitlines()
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines[:3] + lines[24:25]) + "\n", "utf-8")  # 3 answerable, 1 not
    with StandInOllama(models=["llama3.2:3b"]) as server:
        server.reply = '{"faithfulness": 1, "correctness": "50%", "explanation": "fine"}'
        args = ("eval", str(small), "--llm", "extractive", "--judge", "ollama", "--json")
        judged = run_env(*args, "--out", "j", cwd=tmp_path, OLLAMA_HOST=server.url)
        assert judged.returncode == 0, judged.stderr
        summary = json.loads(judged.stdout)["judge"]
        assert summary["judge_model"] == "llama3.2:3b" and summary["parse_failures"] == 0
        assert summary["faithfulness"] == 1.0 and len(server.chats) == 3, "declines not sent"
        assert "<passage n=" in server.chats[0]["messages"][-1]["content"]

        server.reply = "It looks good to me."
        unparsable = run_env(*args, cwd=tmp_path, OLLAMA_HOST=server.url)
        assert json.loads(unparsable.stdout)["judge"]["parse_failures"] == 3

    for name in ("qrels.passages.txt", "run.passages.txt", "queries.jsonl", "ragas.jsonl"):
        assert (tmp_path / "j" / name).stat().st_size > 0, name
    ragas = [json.loads(x) for x in (tmp_path / "j" / "ragas.jsonl").read_text().splitlines()]
    assert {"user_input", "retrieved_contexts", "response", "reference"} <= set(ragas[0])
    results = (tmp_path / "j" / "results.jsonl").read_text("utf-8")
    assert '"judge"' in results


def test_compare_ranks_outcomes():
    from eval.compare import _change, outcome

    def result(expected=True, answered=True, contains=1.0):
        answer = None if contains is None else {"contains": contains}
        return {
            "expected_answerable": expected,
            "answerable": answered,
            "metrics": {"answer": answer},
        }

    assert outcome(result()) == "right"
    assert outcome(result(contains=0.0)) == "wrong"
    assert outcome(result(answered=False)) == "declined"
    assert outcome(result(contains=None)) == "unscored"
    assert outcome(result(expected=False)) == "answered"
    assert outcome(result(expected=False, answered=False)) == "declined-ok"
    assert _change("wrong", "declined") == "better", "declining beats a wrong answer"
    assert _change("right", "declined") == "worse"
    assert _change("answered", "declined-ok") == "better"
    assert _change("unscored", "declined") == "different"


@pytest.mark.integration
def test_eval_refuses_before_asking_anything(tmp_path):
    import shutil

    from tests.test_assistant import closed_port_url

    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    assert run("index", "corpus", cwd=tmp_path).returncode == 0
    one = write(tmp_path, '{"id": "x", "question": "Who?", "sources": ["nowhere.txt"]}')
    empty = run("eval", str(one), "--llm", "extractive", "--skip-invalid", cwd=tmp_path)
    assert empty.returncode == 2 and "no valid question left" in empty.stderr
    (tmp_path / "afile").write_text("x")
    ok = write(tmp_path, '{"id": "y", "question": "Why was the agent arrested?"}')
    to_file = run("eval", str(ok), "--llm", "extractive", "--out", "afile", cwd=tmp_path)
    assert to_file.returncode == 2 and "--out afile: a file is there" in to_file.stderr
    down = run_env(
        "eval", str(ok), "--llm", "extractive", "--judge", "ollama", cwd=tmp_path,
        OLLAMA_HOST=closed_port_url(),
    )  # fmt: skip
    assert down.returncode == 2 and "--judge ollama: Ollama is not reachable" in down.stderr
    assert "evaluating" not in down.stderr
