"""Thumbs up or down on an answer in the chat page, kept as a Q&A set line.

Each vote appends one line to `INDEX_DIR/feedback.jsonl` in the Q&A set format, so that
`dossier eval INDEX_DIR/feedback.jsonl` runs the questions users asked again. A thumbs-up
turns the sentences the answer cited into the line's `evidence` and their files into its
`sources`; a thumbs-down keeps what was answered and is marked `"review": true` for a person
to write the right answer (the set loader accepts it as it is).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from .assistant import Answer

_LOCK = threading.Lock()


def record(answer: Answer, history: list[dict]) -> dict:
    """What the page keeps of an answer until it is voted on (JSON-ready)."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "answerable": answer.answerable,
        "mode": answer.mode,
        "model": answer.model,
        "history": [dict(t) for t in history],
        "cited": [
            {
                "path": c.passage.path,
                "sentences": [" ".join(c.passage.text[a:b].split()) for a, b in c.spans],
            }
            for c in answer.citations
            if c.supported
        ],
    }


def vote(path: Path, kept: dict, liked: bool) -> dict:
    """Append the Q&A set line for a vote on `kept` (see `record`) to `path`; returns it."""
    evidence = [s for c in kept["cited"] for s in c["sentences"]] if liked else []
    line = {
        "id": f"fb-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 1_000_000:06d}",
        "question": kept["question"],
        "answers": [],
        "evidence": list(dict.fromkeys(evidence)),
        "sources": list(dict.fromkeys(Path(c["path"]).name for c in kept["cited"]))
        if liked
        else [],
        "answerable": kept["answerable"] if liked else True,
        "feedback": "up" if liked else "down",
        "review": not liked,
        "answer_given": kept["answer"],
        "mode": kept["mode"],
        "model": kept["model"],
    }
    if kept["history"]:
        line["history"] = kept["history"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return line
