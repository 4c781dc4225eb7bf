"""`dossier index`: bring the index in line with files on disk, re-embedding only what changed.

Per file: unchanged (same size and mtime, or same SHA-256) is skipped without loading the
model; otherwise its articles are chunked, and the chunk ids (content hashes) are compared with
those already stored for the file: new chunks are embedded and added, kept chunks get their
metadata refreshed, chunks no longer present are deleted, and only then is the manifest
updated. A run that stops anywhere is completed by the next one without duplicates.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat as stat_mode
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .chunking import chunk_spans
from .dates import date_to_int
from .embeddings import embed_passages
from .errors import LoadError
from .keyword import KeywordIndex
from .loaders import DEFAULT_MAX_FILE_MB, LOADERS, discover, load_bytes, summarise
from .manifest import DocumentRecord, FileRecord
from .text import guess_language
from .types import Article

if TYPE_CHECKING:
    from .core import Index

# Bumped whenever loaders or chunking change what a file yields: every file is then re-planned.
CHUNKING_VERSION = "chunks-3"  # 3: invisible characters, NULs and data runs cleaned
EMBED_SLICE = 256  # texts per encode call: sorted by length inside, progress shown between
# Chunks per store write: bounds memory, and what a crash or Ctrl-C can lose (4-8 s of embedding
# on 2 cores); large enough that Chroma's per-call cost is amortised.
FLUSH_CHUNKS = 128
_OPENING = 80


@dataclass
class IndexReport:
    """What one run did; `to_dict` gives the CLI's JSON contract (and a few more keys)."""

    indexed: int = 0  # files (re)indexed in this run
    skipped: int = 0  # files left as they were: unchanged, or of a type dossier does not read
    removed: int = 0  # documents taken out of the index
    failed: list[dict] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    embedded: int = 0  # chunks embedded in this run
    notes: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # indexed files gone from disk (no --prune)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Row:
    chunk_id: str
    text: str
    metadata: dict


@dataclass
class _Plan:
    """A changed file waiting for its new chunks to be embedded."""

    record: FileRecord
    documents: list[DocumentRecord]
    rows: list[_Row]
    partial: bool  # some articles failed: keep what the file had before for those


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def display_path(path: Path) -> str:
    """The path as users should see it: relative to the working directory when inside it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    inside = os.path.commonpath([absolute, cwd]) == cwd
    return os.path.relpath(absolute, cwd) if inside else absolute


def _document(
    article: Article, file: str, shown: str, size: int, overlap: int
) -> tuple[DocumentRecord, list[_Row]]:
    doc_id = _hash(file, article.key)[:16]
    lang = guess_language(article.text)
    title = article.title or _opening(article.text)
    meta = {"doc_id": doc_id, "file": file, "path": shown, "lang": lang, "title": title}
    if article.date:
        meta["date"] = article.date
        meta["date_int"] = date_to_int(article.date)
    if article.source:
        meta["source"] = article.source
    rows, seen = [], {}
    for span in chunk_spans(article.text, size, overlap):
        text = article.text[span.start : span.end]
        n = seen[text] = seen.get(text, -1) + 1
        rows.append(
            _Row(
                _hash(doc_id, str(n), text)[:32],
                text,
                {**meta, "start": span.start, "end": span.end, "text_sha": _hash(text)[:24]},
            )
        )
    record = DocumentRecord(
        doc_id,
        file,
        shown,
        article.title,
        article.date,
        article.source,
        lang,
        article.text,
        len(rows),
    )
    return record, rows


def _opening(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _OPENING else line[: _OPENING - 1].rsplit(" ", 1)[0] + "…"


def run_index(
    idx: Index,
    paths: list[Path],
    *,
    prune: bool = False,
    progress: bool = False,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
) -> IndexReport:
    """Bring the index in line with the files under `paths` (see the module docstring)."""
    run = _Run(idx, progress, max_file_mb)
    for root in paths:
        if not root.exists() and not root.is_symlink():
            run.report.failed.append({"path": str(root), "error": "no such file or folder"})
    files = list(discover([p for p in paths if p.exists() or p.is_symlink()], exclude=[idx.dir]))
    run.bar.total = len(files)
    for path, supported in files:
        run.bar.update()
        run.add_file(path, supported)
    run.flush()
    run.bar.close()
    run.vanished(prune)
    manifest = idx.manifest
    current = idx.generation()
    if run.generation is not None or KeywordIndex.saved_generation(idx.dir) != current:
        # On a server the token read now covers this run's writes (each write changed it).
        idx.rebuild_keyword(current if idx.remote else run.generation or current, save=True)
    manifest.set_meta("pipeline", run.pipeline)
    manifest.set_meta("store", idx.store.identity)
    run.report.documents = idx.count_documents()
    run.report.chunks = idx.count_chunks()
    return run.report


class _Run:
    """One indexing run: plans changed files, embeds and writes them in flushes."""

    def __init__(
        self, idx: Index, progress: bool, max_file_mb: float = DEFAULT_MAX_FILE_MB
    ) -> None:
        from tqdm import tqdm

        self.idx = idx
        self.report = IndexReport()
        self.generation: int | None = None  # set on the run's first change to the store
        self.pending: list[_Plan] = []
        self.queued = 0
        self.max_bytes = int(max_file_mb * 1_000_000)  # larger files are refused unread
        self.texts: dict[str, str] = {}  # article text hash -> the file first seen with it
        self.bar = tqdm(total=0, unit="file", disable=not progress, desc="indexing", leave=False)
        # Chunking that differs from the one that built the index re-plans every file.
        self.pipeline = f"{CHUNKING_VERSION}:{idx.chunk_size}:{idx.chunk_overlap}"
        built_with = idx.manifest.meta("pipeline")
        self.force = built_with is not None and built_with != self.pipeline
        # The manifest's file records describe one collection: pointed at another (an index
        # directory moved to a server, another server, a collection dropped and made again),
        # every file is re-planned; the diff with the chunks already there avoids duplicates.
        recorded = idx.manifest.meta("store")
        if recorded != idx.store.identity and (recorded is not None or idx.remote):
            self.force = True

    def mutate(self) -> None:
        """Called before each change to the store: readers then know the keyword index is
        stale until this run saves a new one."""
        if self.generation is None:
            self.generation = self.idx.manifest.bump_generation()

    def add_file(self, path: Path, supported: bool) -> None:
        shown = display_path(path)
        if path.is_symlink() and path.is_dir():
            self.report.skipped += 1
            self.report.notes.append(
                {
                    "path": shown,
                    "note": "skipped: a link to a folder is not followed (a link loop could "
                    "trap the walk); to index that folder, name it on the command line",
                }
            )
            return
        if not supported:
            self.report.skipped += 1
            self.report.notes.append(
                {
                    "path": shown,
                    "note": f"skipped: dossier does not read {path.suffix or 'extensionless'} "
                    f"files (it reads {', '.join(sorted(LOADERS))})",
                }
            )
            return
        plan = _plan_file(self.idx, path, shown, self.report, self.force, self.max_bytes)
        if plan is not None:
            self.same_text(plan, shown)
            self.pending.append(plan)
            self.queued += len(plan.rows)
            if self.queued >= self.idx.flush_chunks:
                self.flush()

    def flush(self) -> None:
        """Embed and store the pending files' new chunks, then settle each file."""
        if not self.pending:
            return
        idx = self.idx
        idx.manifest.mark_pending([(p.record.file, p.record.path) for p in self.pending])
        existing = idx.store.chunks_of_files([p.record.file for p in self.pending])
        new_rows = [r for p in self.pending for r in p.rows if r.chunk_id not in existing]
        if new_rows:
            vectors = _vectors(idx, new_rows, self.report, self.tick)
            self.mutate()
            idx.store.upsert(
                [r.chunk_id for r in new_rows],
                vectors,
                [r.text for r in new_rows],
                [r.metadata for r in new_rows],
            )
        for plan in self.pending:
            self.settle(plan, existing)
        self.pending.clear()
        self.queued = 0

    def same_text(self, plan: _Plan, shown: str) -> None:
        """Note an article whose text another file of this run holds too: both are indexed
        (vectors are shared by text), and search shows each passage once."""
        for doc in plan.documents:
            first = self.texts.setdefault(_hash(doc.text), shown)
            if first != shown:
                self.report.notes.append(
                    {
                        "path": shown,
                        "note": f"same text as {first}: indexed under both names; search "
                        "shows each of its passages once",
                    }
                )

    def tick(self) -> None:
        self.bar.set_postfix_str(f"{self.report.embedded} chunks embedded", refresh=True)

    def settle(self, plan: _Plan, existing: dict[str, dict]) -> None:
        """After a file's new chunks are stored: refresh kept chunks' metadata, delete chunks
        no longer there, and record the file in the manifest."""
        idx, file = self.idx, plan.record.file
        mine = {cid: meta for cid, meta in existing.items() if meta.get("file") == file}
        new_ids = {r.chunk_id for r in plan.rows}
        new_docs = {d.doc_id for d in plan.documents}
        changed = [r for r in plan.rows if r.chunk_id in mine and mine[r.chunk_id] != r.metadata]
        stale = [
            cid
            for cid, meta in mine.items()
            if cid not in new_ids and (not plan.partial or meta.get("doc_id") in new_docs)
        ]
        if changed:
            self.mutate()
            # Chroma merges metadata on update: a key the article lost is set to None to go.
            idx.store.update_metadata(
                [r.chunk_id for r in changed],
                [
                    dict.fromkeys(mine[r.chunk_id].keys() - r.metadata.keys()) | r.metadata
                    for r in changed
                ],
            )
        if stale:
            self.mutate()
            idx.store.delete(stale)
        if not plan.partial:
            self.report.removed += len({m.get("doc_id") for m in mine.values()} - new_docs)
            idx.manifest.replace_file(plan.record, file, plan.documents)
        else:
            # A partly failed file keeps its old documents and stays pending: the next run
            # tries it again and reports its bad parts again until they are fixed.
            idx.manifest.replace_file(None, file, plan.documents, keep_others=True)
            idx.manifest.mark_pending([(file, plan.record.path)])

    def vanished(self, prune: bool) -> None:
        """Documents whose files are gone: removed with `prune`, else listed as missing."""
        idx = self.idx
        files = {r.file: r.path for r in idx.manifest.files()}
        for file in idx.manifest.document_files():
            files.setdefault(file, file)
        gone = sorted(f for f in files if not os.path.lexists(f))
        if not prune:
            self.report.missing = [files[f] for f in gone]
            return
        for file in gone:
            stored = idx.store.chunks_of_files([file])
            if stored:
                self.mutate()
                idx.store.delete(list(stored))
            self.report.removed += len({m.get("doc_id") for m in stored.values()})
            idx.manifest.replace_file(None, file, [])


def _vectors(idx: Index, rows: list[_Row], report: IndexReport, tick) -> np.ndarray:
    """Vectors for `rows`: reused from any stored chunk with the same text (a moved or
    copied file), the rest embedded, each distinct text once."""
    known = idx.store.vectors_by_text(sorted({r.metadata["text_sha"] for r in rows}))
    todo = {r.metadata["text_sha"]: r.text for r in rows if r.metadata["text_sha"] not in known}
    # Longest first, so each encode call pads within texts of similar length (as one
    # sentence-transformers call over everything would) while progress shows between calls.
    shas = sorted(todo, key=lambda sha: -len(todo[sha]))
    texts = [todo[sha] for sha in shas]
    for i in range(0, len(texts), EMBED_SLICE):
        vectors = embed_passages(idx.embedder, texts[i : i + EMBED_SLICE])
        known.update(zip(shas[i : i + EMBED_SLICE], vectors, strict=True))
        report.embedded += len(vectors)
        tick()
    return np.stack([known[r.metadata["text_sha"]] for r in rows])


def _unreadable(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop (the link leads back to itself); fix or remove the link"
    if exc.errno == errno.ENOENT:
        return "the file is gone (deleted during the run, or a link to a missing file)"
    return f"cannot read the file ({exc.strerror or exc}); check it exists and is readable"


def _not_regular(mode: int) -> str | None:
    """Why a path is not a file to read (reading a named pipe would wait forever)."""
    if stat_mode.S_ISREG(mode):
        return None
    kind = (
        "a named pipe (FIFO)"
        if stat_mode.S_ISFIFO(mode)
        else "a socket"
        if stat_mode.S_ISSOCK(mode)
        else "a device"
        if stat_mode.S_ISCHR(mode) or stat_mode.S_ISBLK(mode)
        else "not a regular file"
    )
    return f"{kind}, not a file: dossier reads regular files only, and read nothing from it"


def _too_large(size: int, limit: int, chunk_size: int, overlap: int) -> str:
    passages = size // max(1, chunk_size - overlap)
    return (
        f"not read: {size / 1e6:,.1f} MB is over the {limit / 1e6:g} MB limit for one file "
        f"(max_file_mb), about {passages:,} passages to embed. To index it, raise the limit "
        f"with --max-file-mb {size // 1_000_000 + 1} (or DOSSIER_MAX_FILE_MB), or split the file"
    )


def _plan_file(
    idx: Index,
    path: Path,
    shown: str,
    report: IndexReport,
    force: bool,
    max_bytes: int = int(DEFAULT_MAX_FILE_MB * 1_000_000),
) -> _Plan | None:
    file = os.path.abspath(path)
    try:
        stat = path.stat()
        old = idx.manifest.file(file)
        if old and not force and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            report.unchanged += 1
            report.skipped += 1
            return None
        # Checked on stat(), before reading: no wait on a pipe, no 50 MB read to refuse it.
        refused = _not_regular(stat.st_mode)
        if refused is None and stat.st_size > max_bytes:
            refused = _too_large(stat.st_size, max_bytes, idx.chunk_size, idx.chunk_overlap)
        if refused:
            report.failed.append({"path": shown, "error": refused})
            return None
        data = path.read_bytes()
    except OSError as exc:
        report.failed.append({"path": shown, "error": _unreadable(exc)})
        return None
    record = FileRecord(
        file, shown, stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest()
    )
    if old and not force and old.sha256 == record.sha256:
        idx.manifest.touch_file(record)
        report.unchanged += 1
        report.skipped += 1
        return None
    try:
        load = load_bytes(data, LOADERS[path.suffix.lower()], shown)
    except LoadError as exc:
        report.failed.append({"path": shown, "error": exc.reason})
        return None
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:  # a loader's own bug:
        # one file, not the whole run (tests/test_loaders_fuzz.py hunts for these).
        report.failed.append(
            {
                "path": shown,
                "error": f"could not be read ({exc.__class__.__name__}: {exc}); this is a "
                "dossier bug, please report it with the file",
            }
        )
        return None
    if load.errors:
        report.failed.append({"path": shown, "error": summarise(load.errors)})
    for warning in load.warnings:
        report.notes.append({"path": shown, "note": warning})
    documents, rows = [], []
    for article in load.articles:
        doc, doc_rows = _document(article, file, shown, idx.chunk_size, idx.chunk_overlap)
        documents.append(doc)
        rows.extend(doc_rows)
    report.indexed += 1
    return _Plan(record, documents, rows, partial=bool(load.errors))
