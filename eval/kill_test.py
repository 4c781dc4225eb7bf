"""Crash test for `dossier index`: SIGKILL at random moments, then compare with a clean build.

    python -m eval.kill_test [--kills 20] [--seed 1] [--json]

A corpus of a few hundred chunks (the test articles, the bundled article and generated ones, as
.txt files and one JSONL of several articles) goes through rounds: a first build, then edits,
additions, deletions and renames, then `--rebuild`. In every round `dossier index CORPUS
--prune` is started in a new process and killed with SIGKILL at a random moment of its run,
again and again, then run to the end (without `--rebuild`). After every kill a new process
opens the index and searches it (it must not crash, and its keyword index must match the
store); after every round the index must equal a clean build of the same files in a new
directory: same documents, same chunk ids, texts and metadata, no duplicates, the keyword index
consistent with the vector store, nothing pending, and the same vectors (cosine ≥ 0.99999).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "tests" / "data" / "news"
SAMPLE = ROOT / "corpus" / "2025-09-19-france-mali.txt"
MIN_COSINE = 0.99999  # the same text gets the same vector, however its run was batched


def _sentences() -> list[str]:
    from eval.bench import _sentences as corpus_sentences

    return corpus_sentences()


def _article(rng: random.Random, sentences: list[str], n: int, length: int = 2200) -> str:
    body, size = [], 0
    while size < length:
        sentence = f"{rng.choice(sentences)} ({n}.{len(body)})"
        body.append(sentence)
        size += len(sentence) + 1
    return f"Generated article {n}\n\n" + " ".join(body) + "\n"


def write_corpus(folder: Path, seed: int = 1, generated: int = 36) -> None:
    """The test articles, the bundled one, `generated` .txt articles and a JSONL of eight."""
    rng = random.Random(seed)
    sentences = _sentences()
    folder.mkdir(parents=True, exist_ok=True)
    for path in [SAMPLE, *sorted(NEWS.glob("*.txt"))]:
        shutil.copy(path, folder / path.name)
    for n in range(generated):
        (folder / f"gen-{n:03d}.txt").write_text(_article(rng, sentences, n), encoding="utf-8")
    with open(folder / "wire.jsonl", "w", encoding="utf-8") as out:
        for n in range(100, 108):
            text = _article(rng, sentences, n, 1200)
            out.write(json.dumps({"id": f"w{n}", "title": f"Wire {n}", "text": text}) + "\n")


def _edit(folder: Path, rng: random.Random, round_no: int) -> str:
    """Change the corpus between rounds: what a user's folder goes through."""
    sentences = _sentences()
    files = sorted(p for p in folder.glob("gen-*.txt"))
    if round_no == 1:
        for path in files[:6]:
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"\nAn added paragraph, round {round_no}. {rng.choice(sentences)}\n")
        for path in files[-4:]:
            path.unlink()
        for n in range(200, 206):
            (folder / f"new-{n}.txt").write_text(_article(rng, sentences, n), encoding="utf-8")
        return "6 edited, 4 deleted, 6 added"
    if round_no == 2:
        for path in files[6:12]:
            path.rename(path.with_name("moved-" + path.name))
        lines = (folder / "wire.jsonl").read_text(encoding="utf-8").splitlines()
        record = json.loads(lines[0])
        record["text"] += " " + rng.choice(sentences)
        (folder / "wire.jsonl").write_text(
            "\n".join([json.dumps(record), *lines[2:]]) + "\n", encoding="utf-8"
        )
        for path in files[12:14]:
            path.write_text(_article(rng, sentences, 300 + files.index(path)), encoding="utf-8")
        return "6 renamed, JSONL: 1 edited and 1 removed, 2 rewritten"
    if round_no == 3:
        for path in sorted(folder.glob("new-*.txt"))[:3]:
            path.unlink()
        for n in range(400, 410):
            (folder / f"late-{n}.txt").write_text(_article(rng, sentences, n), encoding="utf-8")
        return "3 deleted, 10 added"
    return "no change; the killed runs are `--rebuild`, the last one is not"


# -- what an index holds, read by a new process -------------------------------------------
def snapshot(index_dir: Path) -> dict:
    """Open the index as a user would, search it, and describe everything it holds."""
    import numpy as np

    from index import Index

    with Index(index_dir, create=False) as idx:
        found = idx.search("why was the agent arrested?", k=3)
        chunks = {c.chunk_id: c for c in idx.store.iter_all()}
        vectors = idx.store.vectors(sorted(chunks))
        keyword = idx.keyword
        rows = idx.manifest.db.execute(
            "SELECT doc_id, file, path, title, date, source, lang, chunks, length(text) "
            "FROM documents ORDER BY doc_id"
        ).fetchall()
        files = idx.manifest.db.execute("SELECT file, size FROM files ORDER BY file").fetchall()
        spans = [
            (c.metadata["doc_id"], c.metadata["start"], c.metadata["end"]) for c in chunks.values()
        ]
        return {
            "searched": len(found),
            "chunks": {cid: c.metadata | {"text": c.text} for cid, c in chunks.items()},
            "vectors": {
                cid: np.asarray(v, dtype=float).round(6).tolist() for cid, v in vectors.items()
            },
            "documents": {r[0]: list(r[1:]) for r in rows},
            "files": sorted(f for f, _ in files),
            "pending": sorted(f for f, size in files if size == -1),
            "keyword_ids": list(keyword.ids),
            "keyword_documents": sorted(keyword.documents),
            "duplicate_spans": len(spans) - len(set(spans)),
        }


def _snapshot_in_child(index_dir: Path) -> tuple[dict | None, str]:
    done = subprocess.run(
        [sys.executable, "-m", "eval.kill_test", "_snapshot", str(index_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    if done.returncode != 0:
        return None, done.stderr.strip()[-2000:] or f"exit {done.returncode}"
    return json.loads(done.stdout), ""


def consistency(snap: dict) -> list[str]:
    """What must hold of any index, even one whose run was killed."""
    problems = []
    ids = set(snap["chunks"])
    if sorted(snap["keyword_ids"]) != sorted(ids):
        problems.append("keyword index ≠ vector store ids")
    if len(snap["keyword_ids"]) != len(set(snap["keyword_ids"])):
        problems.append("duplicate ids in the keyword index")
    if snap["duplicate_spans"]:
        problems.append(f"{snap['duplicate_spans']} duplicate chunks (same document and span)")
    if set(snap["vectors"]) != ids:
        problems.append("chunks without vectors")
    return problems


def differences(got: dict, clean: dict) -> list[str]:
    """How a finished index differs from a clean build of the same files."""
    import numpy as np

    problems = consistency(got)
    if got["documents"] != clean["documents"]:
        extra = sorted(set(got["documents"]) - set(clean["documents"]))
        lost = sorted(set(clean["documents"]) - set(got["documents"]))
        problems.append(f"documents differ (extra {extra[:3]}, missing {lost[:3]})")
    if set(got["chunks"]) != set(clean["chunks"]):
        extra = len(set(got["chunks"]) - set(clean["chunks"]))
        lost = len(set(clean["chunks"]) - set(got["chunks"]))
        problems.append(f"chunk ids differ ({extra} extra, {lost} missing)")
    else:
        changed = [cid for cid in clean["chunks"] if got["chunks"][cid] != clean["chunks"][cid]]
        if changed:
            problems.append(f"{len(changed)} chunks' text or metadata differ")
        worst = min(
            (float(np.dot(got["vectors"][cid], clean["vectors"][cid])) for cid in clean["vectors"]),
            default=1.0,
        )
        if worst < MIN_COSINE:
            problems.append(f"a vector differs from the clean build's (cosine {worst:.4f})")
    if got["files"] != clean["files"]:
        problems.append("file records differ")
    if got["pending"]:
        problems.append(f"{len(got['pending'])} files still pending")
    if sorted(got["keyword_documents"]) != sorted(got["documents"]):
        problems.append("keyword index documents ≠ manifest documents")
    return problems


# -- the runs ---------------------------------------------------------------------------------
@dataclass
class Report:
    kills: int = 0  # SIGKILLs that landed while `dossier index` was running
    kills_after_first_write: int = 0  # ... at a moment after the run's first write (estimated)
    finished_before_kill: int = 0  # runs that ended before their random moment came
    runs: int = 0
    rounds: list[dict] = field(default_factory=list)
    open_failures: list[str] = field(default_factory=list)  # a reader crashed after a kill
    inconsistent: list[str] = field(default_factory=list)  # after a kill
    mismatches: list[str] = field(default_factory=list)  # after a round, against clean
    kill_moments_s: list[float] = field(default_factory=list)
    resumed_embedded: list[int] = field(default_factory=list)  # chunks the final runs embedded
    clean_embedded: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.open_failures or self.inconsistent or self.mismatches)


def _index_cmd(corpus: Path, index_dir: Path, rebuild: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "app.cli",
        "index",
        str(corpus),
        "--prune",
        "--json",
        "--index-dir",
        str(index_dir),
        *(["--rebuild"] if rebuild else []),
    ]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    if "DOSSIER_CACHE_DIR" in os.environ:
        env["DOSSIER_CACHE_DIR"] = os.environ["DOSSIER_CACHE_DIR"]
    return env


def _first_write(index_dir: Path) -> bool:
    """Has the run recorded a file yet (its first flush written)? Read as another process."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{index_dir / 'manifest.sqlite3'}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT 1 FROM files WHERE size >= 0 LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _run(cmd: list[str], index_dir: Path) -> tuple[float, float, dict]:
    """Run `dossier index` to the end: (seconds, seconds to its first write, its report).
    The first write is seen on a fresh index only (elsewhere files are already recorded)."""
    started = time.monotonic()
    fresh = not (index_dir / "manifest.sqlite3").exists()
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first = None
    while fresh and first is None and process.poll() is None:
        if _first_write(index_dir):
            first = time.monotonic() - started
        time.sleep(0.05)
    out, err = process.communicate()
    total = time.monotonic() - started
    if process.returncode not in (0, 1) or not out.strip():
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed: {err.strip()[-2000:]}")
    return total, first if first is not None else total / 2, json.loads(out)


def run(
    kills: int = 20,
    seed: int = 1,
    rounds: int = 5,
    work: Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> Report:
    """At least `kills` SIGKILLs spread over `rounds` rounds (see the module docstring)."""
    rng = random.Random(seed)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="dossier-kill-", dir=work) as tmp:
        base = Path(tmp)
        corpus, index_dir = base / "corpus", base / "index"
        write_corpus(corpus, seed)
        per_round = -(-kills // rounds)
        for round_no in range(rounds):
            change = "first build" if round_no == 0 else _edit(corpus, rng, round_no)
            rebuild = round_no >= 4
            clean_dir = base / f"clean-{round_no}"
            clean_s, first_write, clean = _run(_index_cmd(corpus, clean_dir), clean_dir)
            report.clean_embedded.append(clean["embedded"])
            # The index as the round found it: restored when a run ends before its kill, so
            # that the next run has the round's work to be killed in.
            backup = base / "backup"
            if index_dir.exists():
                shutil.copytree(index_dir, backup)
                trial = base / "trial"
                shutil.copytree(backup, trial)
                span, _, _ = _run(_index_cmd(corpus, trial, rebuild), trial)
                # An incremental run writes once its changed files are embedded: from the start
                # of its work on (startup is about the first third of a short run).
                first_write = span / 3
                shutil.rmtree(trial)
            else:
                span = clean_s
            landed = attempts = 0
            while landed < per_round and attempts < per_round * 4:
                attempts += 1
                # Kills spread from half the time to the first write (imports, model loading,
                # planning) to the end of the run, so most land among the writes.
                moment = rng.uniform(first_write / 2, max(span, first_write + 0.5))
                process = subprocess.Popen(
                    _index_cmd(corpus, index_dir, rebuild),
                    cwd=ROOT,
                    env=_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                report.runs += 1
                try:
                    process.wait(timeout=moment)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                else:
                    report.finished_before_kill += 1
                    shutil.rmtree(index_dir)
                    if backup.exists():
                        shutil.copytree(backup, index_dir)
                    continue
                landed += 1
                report.kills += 1
                report.kills_after_first_write += moment >= first_write
                report.kill_moments_s.append(round(moment, 2))
                snap, error = _snapshot_in_child(index_dir)
                if snap is None:
                    report.open_failures.append(
                        f"round {round_no}, kill at {moment:.1f} s: {error}"
                    )
                    continue
                for problem in consistency(snap):
                    report.inconsistent.append(
                        f"round {round_no}, kill at {moment:.1f} s: {problem}"
                    )
                say(
                    f"round {round_no}: kill {landed} at {moment:.1f} s of ~{span:.1f} s: "
                    f"{len(snap['chunks'])} chunks, {len(snap['documents'])} documents"
                )
            if backup.exists():
                shutil.rmtree(backup)
            _, _, final = _run(_index_cmd(corpus, index_dir), index_dir)
            report.resumed_embedded.append(final["embedded"])
            got, error = _snapshot_in_child(index_dir)
            want, error_clean = _snapshot_in_child(clean_dir)
            if got is None or want is None:
                report.open_failures.append(f"round {round_no}, final: {error or error_clean}")
                continue
            problems = differences(got, want)
            report.mismatches += [f"round {round_no}: {p}" for p in problems]
            report.rounds.append(
                {
                    "change": change,
                    "kills": landed,
                    "chunks": len(want["chunks"]),
                    "documents": len(want["documents"]),
                    "clean_run_s": round(clean_s, 1),
                    "final_run_embedded": final["embedded"],
                    "clean_embedded": clean["embedded"],
                    "identical": not problems,
                }
            )
            say(f"round {round_no} ({change}): {problems or 'identical'}")
            shutil.rmtree(clean_dir)
    return report


def main(argv: list[str]) -> int:
    if argv[:1] == ["_snapshot"]:
        print(json.dumps(snapshot(Path(argv[1]))))
        return 0
    import argparse

    parser = argparse.ArgumentParser(prog="python -m eval.kill_test", description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = run(args.kills, args.seed, args.rounds, say=lambda m: print(m, file=sys.stderr))
    result = asdict(report) | {"ok": report.ok, "seconds": round(time.monotonic() - started)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{report.runs} runs, {report.kills} SIGKILLs while indexing "
            f"({report.kills_after_first_write} after the run's first write) "
            f"({report.finished_before_kill} runs ended before their kill), "
            f"{len(report.open_failures)} failed opens, {len(report.inconsistent)} inconsistent "
            f"states, {len(report.mismatches)} mismatches with a clean build "
            f"({result['seconds']} s)"
        )
        for line in report.open_failures + report.inconsistent + report.mismatches:
            print(f"  {line}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
