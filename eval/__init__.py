"""Evaluation and measurement of dossier: studies and benchmarks run from outside."""

__all__: list[str] = []
