"""Sweeps: the same Q&A set once per setting (`--set k=3,5,8`), or over a grid of two
settings (`--set k=3,5 --set dense_weight=0.5,0.7`), tabulated side by side.

Settings that need no re-indexing can be swept: `k` (passages per answer), `llm`, `model`,
`dense_weight` (the weighted fusion's share of the cosine) and `min_similarity` (the
relevance floor's cosine). Chunk size changes the index itself: index twice and compare the
two runs with `dossier compare`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

from index.errors import ConfigError

from .report import fmt, write_run
from .runner import EvalRun, evaluate


def _unit(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"expected a number from 0 to 1, got {value}")
    return number


def _k(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"expected at least 1, got {value}")
    return number


def _llm(value: str) -> str:
    modes = ("auto", "ollama", "openai", "llamacpp", "extractive")
    if value not in modes:
        raise ValueError(f"expected one of {', '.join(modes)}, got {value!r}")
    return value


SWEEPABLE = {
    "k": _k,
    "llm": _llm,
    "model": str,
    "dense_weight": _unit,
    "min_similarity": _unit,
}
COLUMNS = (
    ("retrieval", "mrr@10"),
    ("retrieval", "hit@5"),
    ("answer", "f1"),
    ("answer", "contains"),
    ("citations", "precision"),
    ("citations", "recall"),
    ("declining", "recall"),
    ("declining", "wrongly_declined"),
    ("latency_ms", "total_p50"),
)


def parse_set(spec: str) -> tuple[str, list]:
    """ "k=3,5,8" → ("k", [3, 5, 8]); ConfigError naming the setting and the values allowed."""
    name, sep, values = spec.partition("=")
    name = name.strip()
    if not sep or not values.strip():
        raise ConfigError(f"--set {spec!r}: write NAME=VALUE,VALUE,… (e.g. --set k=3,5,8).")
    if name not in SWEEPABLE:
        raise ConfigError(
            f"--set {spec!r}: {name!r} cannot be swept; choose from {', '.join(SWEEPABLE)} "
            "(for chunk size, index twice and use `dossier compare`)."
        )
    parsed = []
    for raw in values.split(","):
        try:
            parsed.append(SWEEPABLE[name](raw.strip()))
        except ValueError as exc:
            raise ConfigError(f"--set {spec!r}: {exc}.") from None
    return name, list(dict.fromkeys(parsed))


def grid(specs: list[str]) -> list[dict]:
    """Every combination of the values of up to two `--set` options."""
    if len(specs) > 2:
        raise ConfigError("--set: sweep one setting, or a grid of two, at a time.")
    parsed = [parse_set(s) for s in specs]
    names = [n for n, _ in parsed]
    if len(set(names)) != len(names):
        raise ConfigError(f"--set: {names[0]} is given twice; list its values once: k=3,5,8.")
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in parsed))
    ]


def label(setting: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in setting.items())


def run_sweep(items, assistant, settings: list[dict], *, qaset: str, on_result=None):
    """(setting, EvalRun) for each setting; the index's fusion is restored afterwards."""
    index = assistant.index
    fusion, model = index.fusion, assistant.model
    runs: list[tuple[dict, EvalRun]] = []
    try:
        for setting in settings:
            changes = {k: v for k, v in setting.items() if k in ("dense_weight", "min_similarity")}
            index.fusion = replace(fusion, **changes)
            assistant.model = setting.get("model", model)
            run = evaluate(
                items,
                assistant,
                qaset=qaset,
                k=setting.get("k"),
                llm=setting.get("llm"),
                on_result=on_result,
            )
            run.summary["settings"].update(setting)
            runs.append((setting, run))
    finally:
        index.fusion, assistant.model = fusion, model
    return runs


def table(runs: list[tuple[dict, EvalRun]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the swept settings, then the main figures of each run."""
    names = list(runs[0][0]) if runs else []
    header = names + [f"{g} {m}" for g, m in COLUMNS]
    body = []
    for setting, run in runs:
        figures = [fmt((run.summary.get(g) or {}).get(m)) for g, m in COLUMNS]
        body.append([str(setting[n]) for n in names] + figures)
    return header, body


def write_sweep(out: Path, runs: list[tuple[dict, EvalRun]]) -> list[Path]:
    """Each run in its own folder (`out/k=3/`…), plus sweep.json, sweep.md and sweep.png."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for setting, run in runs:
        written += write_run(out / label(setting), run.summary, run.results)
    path = out / "sweep.json"
    path.write_text(
        json.dumps(
            [{"setting": s, "summary": r.summary} for s, r in runs], ensure_ascii=False, indent=2
        )
        + "\n",
        "utf-8",
    )
    written.append(path)
    header, body = table(runs)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    path = out / "sweep.md"
    path.write_text("# Sweep\n\n" + "\n".join(lines) + "\n", "utf-8")
    written.append(path)
    written += _plot(out, runs)
    return written


def _plot(out: Path, runs) -> list[Path]:
    """Each figure against the swept setting (one numeric setting only)."""
    names = list(runs[0][0]) if runs else []
    if len(names) != 1 or not all(isinstance(s[names[0]], int | float) for s, _ in runs):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s[names[0]] for s, _ in runs]
    fig, ax = plt.subplots(figsize=(7, 4))
    for group, metric in COLUMNS:
        if group == "latency_ms":
            continue
        ys = [(r.summary.get(group) or {}).get(metric) for _, r in runs]
        if all(y is not None for y in ys):
            ax.plot(xs, ys, marker="o", label=f"{group} {metric}")
    ax.set_xlabel(names[0])
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    ax.set_title(f"metrics against {names[0]}")
    fig.tight_layout()
    path = out / "sweep.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]
