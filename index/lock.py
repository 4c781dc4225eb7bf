"""One writer per index directory: an advisory lock (`flock` on `writer.lock`) that the kernel
drops when its holder exits, however it exits (SIGKILL included), so a lock is never stale.

Writers (`dossier index`, a running `dossier serve`, an app calling `Index.add`) take it;
readers (search, ask, eval) do not. The lock file also says who holds it (pid, command, since
when) for the message a second writer gets; a `dossier serve` adds its address and a secret
with which a `dossier index` on the same machine hands it the run (the server keeps the index
open, as Chroma asks: one process per persistent directory). The file is readable by its owner
only, since the secret is a write capability.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from .errors import IndexBusyError

LOCK_FILE = "writer.lock"
POLL_S = 0.2


_held: dict[str, list] = {}  # resolved dir -> [fd, count]: the process's own holds
_registry = threading.Lock()


def describe(holder: dict) -> str:
    """'`dossier index` (pid 123, since 21:04:05)' for messages."""
    what = holder.get("command") or "another dossier process"
    since = holder.get("since", "")
    when = f", since {since[11:19]}" if len(since) >= 19 else ""
    where = f" at {holder['url']}" if holder.get("url") else ""
    return f"{what}{where} (pid {holder.get('pid', '?')}{when})"


def read_holder(index_dir: Path) -> dict | None:
    """Who holds the writer lock of `index_dir`, or None if no process does."""
    path = Path(index_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_info(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _holder_info(fd: int) -> dict:
    """The holder's JSON; {} if there is none. A holder writes it right after taking the
    lock, so an empty or partial read is retried for a moment."""
    for _ in range(10):
        try:
            raw = os.pread(fd, 65536, 0)
            info = json.loads(raw.decode("utf-8"))
            if isinstance(info, dict) and info:
                return info
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return {}


class WriterLock:
    """The writer lock of one index directory, re-entrant within a process (a server's
    uploads, or `dossier index --rebuild` wiping then indexing, take it again freely)."""

    def __init__(self, index_dir: str | Path, command: str, **extra: str) -> None:
        self.dir = Path(index_dir)
        self.key = str(self.dir.resolve())
        self.info = {"pid": os.getpid(), "command": command, **extra}
        self.held = False

    def acquire(self, wait: float = 0.0, on_wait: Callable[[dict], None] | None = None) -> None:
        """Take the lock, waiting up to `wait` seconds (calling `on_wait(holder)` once if it
        has to); IndexBusyError naming the holder if it is still taken."""
        if self.held:
            return
        with _registry:
            if self.key in _held:
                _held[self.key][1] += 1
                self.held = True
                return
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a copied lock file may be readable by others: not with a secret
            self._take(fd, wait, on_wait)
            info = self.info | {"since": datetime.now().astimezone().isoformat(timespec="seconds")}
            data = json.dumps(info).encode("utf-8")
            os.pwrite(fd, data, 0)  # written, then cut to length: never empty to a reader
            os.ftruncate(fd, len(data))
        except BaseException:
            os.close(fd)  # drops the lock if it was taken
            raise
        with _registry:
            _held[self.key] = [fd, 1]
        self.held = True

    def _take(self, fd: int, wait: float, on_wait: Callable[[dict], None] | None) -> None:
        started = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                holder = _holder_info(fd)
                now = time.monotonic()
                # Without a name, a reader's brief shared lock (read_holder), or a holder
                # between taking the lock and writing its name: given 2 s to go or to say.
                if now >= started + wait and (holder or now >= started + 2.0):
                    raise IndexBusyError(self.busy_message(holder, wait), holder) from None
                if holder and not told and on_wait is not None:
                    on_wait(holder)
                    told = True
                time.sleep(POLL_S)

    def busy_message(self, holder: dict, wait: float) -> str:
        if holder.get("url"):
            return (
                f"the index {self.dir}/ is open in {describe(holder)}, its one "
                "writer: add files through its page, or with `dossier index` (which hands them "
                "to it), or stop it first."
            )
        waited = f" (waited {wait:g} s)" if wait else ""
        return (
            f"the index {self.dir}/ is being written by {describe(holder)}{waited}: "
            "one writer at a time. Run this again when it has finished, or add --wait SECONDS "
            "to wait for it."
        )

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with _registry:
            entry = _held.get(self.key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[self.key]
        fd = entry[0]
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
