"""dossier's front doors: answering (`Assistant`), the chat page, the command line.

`from app import Assistant` works without importing the answering code at `dossier --help`
time: the names are loaded on first use.
"""

from __future__ import annotations

__all__ = ["Answer", "Assistant", "Citation", "Event", "LLMError"]


def __getattr__(name: str):
    if name in ("Answer", "Assistant", "Citation", "Event"):
        from . import assistant

        return getattr(assistant, name)
    if name == "LLMError":
        from .llm import LLMError

        return LLMError
    raise AttributeError(f"module 'app' has no attribute {name!r}")
