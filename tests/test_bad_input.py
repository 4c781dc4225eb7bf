"""A folder of bad and odd files beside good articles, through the real `dossier index --json`
(eval/bad_input.py builds it and says what should become of each file): each is indexed with
the right text, title and date, or refused with a message naming it; the good articles are
all indexed; a second run changes nothing and reports the bad files again."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval.bad_input import (
    CORPUS,
    build,
    check,
    outcome,
    run_index,
    without_dac_override,
)

from .conftest import user_env

pytestmark = pytest.mark.integration

# The kinds issue 7 names; the corpus has more.
REQUIRED = {
    "empty file",
    "whitespace only",
    "binary (random bytes)",
    "NUL bytes inside text",
    "50 MB text file",
    "one 5 MB line, no spaces (base64)",
    "UTF-16 with BOM",
    "UTF-16 without BOM",
    "UTF-8 BOM",
    "Windows-1252 (cp1252)",
    "mixed encodings (UTF-8 then cp1252)",
    "malformed JSON",
    "malformed JSONL (1 good line, 2 bad)",
    "JSON with wrong field types",
    "HTML with only scripts and styles",
    "invalid date (2025-02-30)",
    "date in the future",
    "ambiguous date (01/02/2025)",
    "duplicate article under another name",
    "near-duplicate wire copy (other headline, one word changed)",
    "symlink loop (file)",
    "unreadable file (chmod 000)",
    "file name with spaces",
    "file name with accents",
    "file name with a newline",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder):
    """The corpus, indexed twice by `dossier index corpus/ --json`, then opened."""
    from index import Index

    workdir = tmp_path_factory.mktemp("bad-input")
    kinds = build(workdir / CORPUS)
    first, first_s, first_code = run_index(workdir)
    second, second_s, second_code = run_index(workdir)
    idx = Index(workdir / ".dossier", embedder=embedder, create=False)
    yield SimpleNamespace(
        workdir=workdir,
        kinds=kinds,
        first=first,
        second=second,
        codes=(first_code, second_code),
        seconds=(first_s, second_s),
        idx=idx,
    )
    idx.close()
    (workdir / CORPUS / "unreadable.txt").chmod(0o644)  # so the temporary folder can go


def test_the_corpus_has_every_kind_the_issue_names_and_more(corpus):
    names = [k.name for k in corpus.kinds]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED, REQUIRED - set(names)
    assert len([k for k in corpus.kinds if "good article" not in k.name]) >= 40


def test_each_kind_is_indexed_right_or_refused_with_a_reason_naming_the_file(corpus):
    """One assertion over every kind, so a failure lists all the kinds that went wrong."""
    if without_dac_override() is None:  # root without setpriv: chmod 000 cannot stop it
        kinds = [k for k in corpus.kinds if k.needs != "permissions"]
    else:
        kinds = corpus.kinds
    wrong = {
        k.name: (check(corpus.first, corpus.idx, k), outcome(corpus.first, corpus.idx, k))
        for k in kinds
    }
    wrong = {name: found for name, found in wrong.items() if found[0]}
    assert not wrong, json.dumps(wrong, ensure_ascii=False, indent=1)


def test_the_good_articles_are_all_indexed_and_the_run_says_it_failed(corpus):
    good = [k for k in corpus.kinds if k.indexed]
    assert all(corpus.idx.documents_matching(source=k.shown) for k in good)
    # Every document in the index comes from a file expected to be indexed: no stray ones.
    files = {k.shown for k in good}
    paths = {corpus.idx.manifest.document(d).path for d in _all_documents(corpus.idx)}
    assert paths == files
    assert corpus.codes == (1, 1), "files failed: the run exits with 1 (the contract)"
    failed = {f["path"] for f in corpus.first["failed"]}
    assert failed == {k.shown for k in corpus.kinds if k.failure}
    assert all(f["path"].startswith(f"{CORPUS}/") and f["error"] for f in corpus.first["failed"])


def test_a_second_run_changes_nothing_and_reports_the_bad_files_again(corpus):
    first, second = corpus.first, corpus.second
    assert (second["documents"], second["chunks"]) == (first["documents"], first["chunks"])
    assert second["embedded"] == 0 and second["removed"] == 0
    assert sorted(map(json.dumps, second["failed"])) == sorted(map(json.dumps, first["failed"]))
    # Only the partly failed files are read again (they stay pending until fixed).
    partial = [k for k in corpus.kinds if k.indexed and k.failure]
    assert second["indexed"] == len(partial)
    assert corpus.idx.count_chunks() == first["chunks"]
    ids = [c.chunk_id for c in corpus.idx.store.iter_all()]
    assert len(ids) == len(set(ids)) == first["chunks"]


def test_the_big_file_costs_no_time(corpus):
    """Refused on its size: the whole first run (model load and ~40 chunks) stays short."""
    assert corpus.seconds[0] < 120, corpus.seconds


def _all_documents(idx) -> set[str]:
    return set(idx.manifest.filter_documents(None, None, None))


# -- the size limit, on its own -----------------------------------------------------------------
def _dossier(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    from .test_cli import DOSSIER

    return subprocess.run(
        [DOSSIER, *args],
        cwd=cwd,
        env={**user_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_size_limit_is_checked_before_reading_and_named_with_its_fix(tmp_path):
    corpus = tmp_path / CORPUS
    corpus.mkdir()
    # Sparse: read, it would be 60 MB of NUL bytes, refused as binary; the refusal must be
    # about its size, so the file was never read.
    with (corpus / "huge.txt").open("wb") as out:
        out.truncate(60_000_000)
    start = time.perf_counter()
    done = _dossier("index", f"{CORPUS}/", "--json", cwd=tmp_path)
    elapsed = time.perf_counter() - start
    report = json.loads(done.stdout)
    assert done.returncode == 1
    (failure,) = report["failed"]
    assert failure["path"] == f"{CORPUS}/huge.txt"
    assert "60.0 MB is over the 10 MB limit for one file (max_file_mb)" in failure["error"]
    assert "--max-file-mb 61" in failure["error"] and "DOSSIER_MAX_FILE_MB" in failure["error"]
    assert elapsed < 60, "no model is loaded and nothing is read"

    small = corpus / "small.txt"
    small.write_text("Le port de Brest a rouvert. " * 50_000, encoding="utf-8")  # 1.4 MB
    os.remove(corpus / "huge.txt")
    by_flag = json.loads(
        _dossier("index", f"{CORPUS}/", "--json", "--max-file-mb", "1", cwd=tmp_path).stdout
    )
    assert "over the 1 MB limit" in by_flag["failed"][0]["error"]
    by_env = _dossier(
        "index", f"{CORPUS}/", "--json", cwd=tmp_path, env={"DOSSIER_MAX_FILE_MB": "0.5"}
    )
    assert "over the 0.5 MB limit" in json.loads(by_env.stdout)["failed"][0]["error"]
    bad = _dossier("index", f"{CORPUS}/", "--max-file-mb", "-3", cwd=tmp_path)
    assert bad.returncode == 2 and "--max-file-mb" in bad.stderr


# -- what search shows of repeated articles -----------------------------------------------------
def test_search_shows_a_duplicated_article_once_but_both_files_are_searchable(corpus):
    idx = corpus.idx
    everywhere = idx.search("Perpignan syndicat des eaux budget", k=10)
    texts = [" ".join(p.text.split()) for p in everywhere]
    assert texts and len(texts) == len(set(texts))
    assert {p.path for p in everywhere} & {f"{CORPUS}/dup-a.txt", f"{CORPUS}/dup-b copy.txt"}
    for name in ("dup-a.txt", "dup-b copy.txt"):
        found = idx.search("Perpignan", k=5, source=name)
        assert found and all(p.path == f"{CORPUS}/{name}" for p in found)


def test_search_shows_a_wire_story_once_across_papers(corpus):
    idx = corpus.idx
    found = idx.search("incendie entrepôts Estaque pompiers", k=10)
    papers = {p.path for p in found if "Les pompiers ont lutté toute la nuit" in p.text}
    assert len(papers) == 1, papers
    # Each paper's copy is still there for a search limited to it.
    for name in ("wire-provence.txt", "wire-figaro.txt"):
        assert idx.search("Estaque pompiers", k=3, source=name)


def test_articles_from_one_template_about_other_places_are_all_shown(corpus):
    """Near-identical passages that name other places are different news: none is left out."""
    found = corpus.idx.search("le maire a promis une réunion publique avant l’été", k=8)
    assert len(found) == 8
    assert len({p.path for p in found}) == 8
    towns = {p.text.split("Le maire de ")[1].split()[0] for p in found if "Le maire de " in p.text}
    assert len(towns) >= 7, towns
