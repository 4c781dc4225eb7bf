"""What the index holds, file by file and document by document (SQLite in the index dir).

The vector store is written first and the manifest last, so a file whose manifest row is
missing or out of date is simply indexed again, and the diff against the store's own chunk
ids makes that idempotent.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file TEXT PRIMARY KEY,      -- absolute path: the file's identity
    path TEXT NOT NULL,         -- the path as shown to users
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    path TEXT NOT NULL,
    title TEXT,
    date TEXT,
    source TEXT,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    chunks INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file);
"""


@dataclass(frozen=True)
class FileRecord:
    file: str
    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    file: str
    path: str
    title: str | None
    date: str | None
    source: str | None
    lang: str
    text: str
    chunks: int


def _serialized(cls):
    """Every public method holds the instance's lock: one connection, shared by the threads of
    a server (the chat page answers in worker threads while an upload is indexed)."""
    for name, method in list(vars(cls).items()):
        if callable(method) and not name.startswith("_"):

            @functools.wraps(method)
            def locked(self, *args, __method=method, **kwargs):
                with self._lock:
                    return __method(self, *args, **kwargs)

            setattr(cls, name, locked)
    return cls


@_serialized
class Manifest:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # Without an fsync per commit: a power cut may lose the last commits, which only makes
        # the next run redo those files (the store is diffed, never trusted from here).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        # SQLite's lower() folds ASCII only: "Les Échos" must match "échos".
        self.db.create_function(
            "casefold", 1, lambda s: s.casefold() if s else "", deterministic=True
        )

    def close(self) -> None:
        self.db.close()

    # -- generation: bumped before every change to the vector store --------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    def bump_generation(self) -> int:
        """Add one to the generation in a single statement (safe against a concurrent bump)."""
        self.db.execute(
            "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        return self.generation()

    # -- files ------------------------------------------------------------------------------
    def file(self, file: str) -> FileRecord | None:
        row = self.db.execute("SELECT * FROM files WHERE file=?", (file,)).fetchone()
        return FileRecord(*row) if row else None

    def files(self) -> list[FileRecord]:
        return [FileRecord(*r) for r in self.db.execute("SELECT * FROM files ORDER BY path")]

    def mark_pending(self, files: list[tuple[str, str]]) -> None:
        """Record that the store is about to change for these (file, path) pairs: until
        `replace_file` settles one, the next run re-plans it (and --prune sees it even if it
        was new)."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,-1,-1,'')", files)

    def touch_file(self, record: FileRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)",
            (record.file, record.path, record.size, record.mtime_ns, record.sha256),
        )

    def replace_file(
        self,
        record: FileRecord | None,
        file: str,
        documents: list[DocumentRecord],
        keep_others: bool = False,
    ) -> None:
        """Record a file's documents in one transaction. `record` None: forget the file
        (its documents too unless `keep_others`)."""
        with self.db:
            self.db.execute("BEGIN")
            if not keep_others:
                self.db.execute("DELETE FROM documents WHERE file=?", (file,))
            self.db.executemany(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (d.doc_id, d.file, d.path, d.title, d.date, d.source, d.lang, d.text, d.chunks)
                    for d in documents
                ],
            )
            if record is None:
                self.db.execute("DELETE FROM files WHERE file=?", (file,))
            else:
                self.db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)",
                    (record.file, record.path, record.size, record.mtime_ns, record.sha256),
                )

    # -- documents --------------------------------------------------------------------------
    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self.db.execute("SELECT * FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return DocumentRecord(*row) if row else None

    def document_texts(self, doc_ids: set[str]) -> dict[str, str]:
        """doc id -> text, for those of `doc_ids` the manifest holds."""
        if not doc_ids:
            return {}
        wanted = sorted(doc_ids)
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(
            f"SELECT doc_id, text FROM documents WHERE doc_id IN ({marks})", wanted
        )
        return dict(rows.fetchall())

    def document_files(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT file FROM documents")]

    def document_names(self) -> set[str]:
        """Every document's id and its file's name: what a Q&A set's `sources` may name."""
        names: set[str] = set()
        for doc_id, path in self.db.execute("SELECT doc_id, path FROM documents"):
            names.update((doc_id, Path(path).name))
        return names

    def count_documents(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def filter_documents(
        self, after: str | None, before: str | None, source: str | None
    ) -> list[str]:
        """Ids of documents dated within [after, before] whose source or path contains
        `source` (case-insensitive). Undated documents fail any date bound."""
        sql, args = "SELECT doc_id FROM documents WHERE 1=1", []
        if after:
            sql += " AND date IS NOT NULL AND date >= ?"
            args.append(after)
        if before:
            sql += " AND date IS NOT NULL AND date <= ?"
            args.append(before)
        if source:
            sql += " AND (instr(casefold(source), ?) > 0 OR instr(casefold(path), ?) > 0)"
            args += [source.casefold(), source.casefold()]
        return [r[0] for r in self.db.execute(sql, args)]
