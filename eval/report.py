"""What an evaluation run leaves behind: `summary.json`, `results.jsonl`, `report.md` and PNG
plots in its folder, and the console table."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

GROUPS = ("retrieval", "documents", "answer", "citations", "declining", "fallback")


def version() -> str:
    try:
        return metadata.version("dossier")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def rows(summary: dict) -> list[tuple[str, str, float | None]]:
    """(group, metric, value) for every figure of a summary, latency last."""
    out = [
        (group, name, value)
        for group in GROUPS
        for name, value in (summary.get(group) or {}).items()
    ]
    by_mode = summary.get("declining_by_mode") or {}
    if len(by_mode) > 1:  # an auto run (or a fallback) answered in more than one mode
        out += [
            (f"declining ({mode})", name, value)
            for mode, figures in by_mode.items()
            for name, value in figures.items()
        ]
    out += [("latency_ms", name, v) for name, v in (summary.get("latency_ms") or {}).items()]
    judge = summary.get("judge")
    if judge:
        out += [("judge", k, judge.get(k)) for k in ("faithfulness", "correctness")]
        out += [
            ("judge", "parse_failures", judge.get("parse_failures")),
            ("judge", "errors", (judge.get("errors") or {}).get("count")),
        ]
    return out


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def console_table(summary: dict, title: str | None = None):
    from rich.table import Table

    table = Table(title=title or f"{summary['set']}: {summary['n']} questions, {summary['mode']}")
    table.add_column("group")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for group, name, value in rows(summary):
        table.add_row(group, name, fmt(value))
    return table


def write_run(out: Path, summary: dict, results: list[dict]) -> list[Path]:
    """Write the run's files into `out` (created); returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    meta = {
        "dossier": version(),
        "python": platform.python_version(),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = out / "summary.json"
    path.write_text(
        json.dumps({**summary, "run": meta}, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    written.append(path)
    path = out / "results.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for result in results:
            f.write(json.dumps(result, ensure_ascii=False) + "\n")
    written.append(path)
    path = out / "report.md"
    path.write_text(markdown(summary, results, meta), "utf-8")
    written.append(path)
    written += plots(out, summary, results)
    return written


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown(summary: dict, results: list[dict], meta: dict) -> str:
    s = summary.get("settings", {})
    lines = [
        f"# dossier evaluation: {summary['set']}",
        "",
        f"- dossier {meta['dossier']} (Python {meta['python']}), written {meta['written']}",
        f"- mode: {summary['mode']}; model: {summary.get('model') or 'none (extractive)'}",
        f"- passages per answer (k): {s.get('k')}; embedding model: {s.get('embed_model')}",
        f"- corpus: the index in `{s.get('index_dir')}`, {s.get('documents')} documents, "
        f"{s.get('chunks')} passages",
        f"- questions: {summary['n']}"
        + (f"; LLM judge: {summary['judge']['judge_model']}" if summary.get("judge") else ""),
        "",
        "| group | metric | value |",
        "|---|---|---|",
    ]
    lines += [f"| {g} | {m} | {fmt(v)} |" for g, m, v in rows(summary)]
    lines += [
        "",
        "## Per question",
        "",
        "| id | expected | answered | MRR@10 | F1 | contains | citation recall | answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["metrics"]
        lines.append(
            f"| {_cell(r['id'])} | {'answer' if r['expected_answerable'] else 'decline'} | "
            f"{'answered' if r['answerable'] else 'declined'} | "
            f"{fmt((m['retrieval'] or {}).get('mrr@10'))} | {fmt((m['answer'] or {}).get('f1'))} | "
            f"{fmt((m['answer'] or {}).get('contains'))} | "
            f"{fmt((m['citations'] or {}).get('recall'))} | {_cell(r['answer'])[:160]} |"
        )
    lines += ["", "Plots: `metrics.png` (every figure), `latency.png` (answer times)."]
    return "\n".join(lines) + "\n"


def plots(out: Path, summary: dict, results: list[dict]) -> list[Path]:
    """metrics.png (a bar per figure) and latency.png (distribution of answer times)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [
        (f"{g}\n{m}", v)
        for g, m, v in rows(summary)
        if g not in ("latency_ms", "judge") and v is not None
    ]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(figures)), 4))
    ax.bar(range(len(figures)), [v for _, v in figures], color="#4c72b0")
    ax.set_xticks(range(len(figures)), [name for name, _ in figures], fontsize=7, rotation=60)
    ax.set_ylim(0, 1)
    ax.set_title(f"{summary['set']} — {summary['mode']}")
    fig.tight_layout()
    metrics_png = out / "metrics.png"
    fig.savefig(metrics_png, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("retrieve", "generate", "total"):
        values = [r["timings_ms"].get(key, 0) for r in results]
        ax.hist(values, bins=20, alpha=0.5, label=key)
    ax.set_xlabel("milliseconds")
    ax.set_ylabel("questions")
    ax.legend()
    ax.set_title("answer latency")
    fig.tight_layout()
    latency_png = out / "latency.png"
    fig.savefig(latency_png, dpi=100)
    plt.close(fig)
    return [metrics_png, latency_png]
