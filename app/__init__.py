"""dossier's front doors: the command line (and, later, answering, the chat page, the API)."""

__all__: list[str] = []
