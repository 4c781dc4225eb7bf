"""The errors dossier's corpus side raises.

    DossierError              base of everything below
    ├── ConfigError           bad setting or usage; the CLI exits with 2
    │   ├── ModelMismatchError   index built with another embedding model
    │   └── ChromaServerError    --chroma-url unreachable, not Chroma, or not Chroma 1.x
    ├── IndexNotFoundError    no index at the directory given
    ├── IndexBusyError        another process is writing the index directory
    └── LoadError             one file (or one article in it) cannot be read

Messages say the value, the limit and the fix, in one line.
"""

from __future__ import annotations


class DossierError(Exception):
    """Base class of dossier's errors."""


class ConfigError(DossierError):
    """A setting or an argument is wrong; the message says how to fix it."""


class ModelMismatchError(ConfigError):
    """The index was built with another embedding model than the one configured."""


class ChromaServerError(ConfigError):
    """The Chroma server given by --chroma-url cannot be used; the message names the URL."""


class IndexNotFoundError(DossierError):
    """There is no index in the directory given."""


class IndexBusyError(DossierError):
    """Another process holds the index directory's writer lock; `holder` says who (pid,
    command, since; a server's url), or is empty if it could not be read."""

    def __init__(self, message: str, holder: dict) -> None:
        super().__init__(message)
        self.holder = holder


class LoadError(DossierError):
    """A file cannot be loaded as articles.

    `path` is the file as the user named it; `reason` says what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
