"""Article files uploaded through the chat page: checked, renamed safely, and copied into the
index directory's `uploads/` folder, never anywhere else.

The name an upload arrives with is chosen by whoever sends it (a browser, a script, a crafted
request), so it is treated as text, not as a path: only its last component is kept (after `/`
or `\\`), characters no file system accepts and control characters (NUL, newlines) are
dropped (pathvalidate), leading dots go (a hidden file would never be indexed), and the stem is
cut to `MAX_NAME_BYTES`. A name already taken by a different file gets `-2`, `-3`… instead of
replacing it. The type is checked by extension and by content: a file must decode as text (an
executable renamed `.txt` does not), and be at most `MAX_UPLOAD_BYTES`.
"""

from __future__ import annotations

import filecmp
import os
import re
from pathlib import Path

from pathvalidate import sanitize_filename

from index.encoding import BinaryContentError, decode_bytes

UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
# Per file. Articles are tens of KB; a JSONL export of a few thousand articles fits. Gradio
# refuses larger uploads itself (413) before they reach dossier: see app.ui.launch.
MAX_UPLOAD_BYTES = 20_000_000
# Of the stem, in UTF-8 bytes: with "-NNNN" and the extension it stays under the 255 bytes
# most file systems allow.
MAX_NAME_BYTES = 200
MAX_SUFFIX_CHARS = 16
FALLBACK_STEM = "upload"


class UploadRejected(ValueError):
    """An uploaded file that is not stored; the message names it and says why."""


def safe_name(name: str) -> str:
    """`name` as one harmless file name: no directories, no hidden file, no control
    characters, no name reserved by Windows, a stem of at most MAX_NAME_BYTES bytes."""
    last = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = last.rpartition(".")
    if not dot:
        stem, suffix = last, ""
    stem = _clean(stem).strip(". ").encode()[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    stem = stem.rstrip(". ") or FALLBACK_STEM
    suffix = _clean(suffix).strip(". ")[:MAX_SUFFIX_CHARS]
    # Once more as a whole: "con" + ".txt" is a name Windows reserves ("con_.txt").
    return _clean(f"{stem}.{suffix}" if suffix else stem)


def _clean(text: str) -> str:
    """`text` without what no file system accepts in a name: separators, control characters
    (NUL, line breaks), `<>:"|?*`, trailing dots and spaces, names reserved by Windows."""
    return sanitize_filename(text, platform="universal", replacement_text="", max_len=1000)


def _shown(name: str) -> str:
    """The name as the sender gave it, printable, for messages."""
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:200]


def check(source: Path, name: str, limit: int = MAX_UPLOAD_BYTES) -> str:
    """The safe name under which `source` (uploaded as `name`) may be stored, or
    UploadRejected saying why not (over `limit` bytes among the reasons)."""
    safe = safe_name(name)
    suffix = Path(safe).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise UploadRejected(
            f"{_shown(name)}: {suffix or 'no extension'} is not an article type; upload "
            f"{', '.join(UPLOAD_TYPES)} files."
        )
    size = source.stat().st_size
    if size > limit:
        raise UploadRejected(
            f"{_shown(name)}: {size:,} bytes is over the {limit / 1e6:g} MB limit "
            "for an upload; split it, or index it from the command line (`dossier index`)."
        )
    try:
        decode_bytes(source.read_bytes())
    except BinaryContentError as exc:
        raise UploadRejected(
            f"{_shown(name)}: not text ({exc}); upload articles as text, Markdown, HTML or JSON."
        ) from None
    return safe


def store(source: Path, name: str, folder: Path, limit: int = MAX_UPLOAD_BYTES) -> Path:
    """Copy `source`, uploaded as `name`, into `folder` under a safe name, and return where.

    The same content uploaded again returns the existing copy; a different file never
    replaces one: it gets the next free name (`name-2.txt`, …). Raises UploadRejected.
    """
    safe = check(source, name, limit)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    stem, suffix = os.path.splitext(safe)
    data = source.read_bytes()
    for n in range(1, 10_000):
        candidate = root / (safe if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # cannot happen with a safe name; never write elsewhere
            raise UploadRejected(f"{_shown(name)}: not a plain file name")
        try:
            # O_EXCL: never replace a file; O_NOFOLLOW: never write through a planted link.
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            same = candidate.is_file() and not candidate.is_symlink()
            if same and filecmp.cmp(source, candidate, shallow=False):
                return candidate
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return candidate
    raise UploadRejected(f"{_shown(name)}: too many uploads named {safe}; rename it.")
