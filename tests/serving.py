"""Running `dossier serve` (and other `dossier` commands) as a user would: a real process on a
free loopback port, its output in log files, stopped at the end."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, free_port, user_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(p):
    """Headless Debian Chromium through Playwright `p` (Playwright cannot download browsers
    here)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Install it with "
            "`apt-get install chromium` (`playwright install` cannot download browsers here)."
        )
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def dossier_command() -> list[str]:
    """The `dossier` console script of this environment (or the package run from the checkout)."""
    script = Path(sys.executable).parent / "dossier"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


@contextlib.contextmanager
def serving(
    work: Path,
    env: dict,
    index_dir: str = "idx",
    logs: Path | None = None,
    host: str | None = "127.0.0.1",
):
    """`dossier serve` in `work` on a free loopback port; yields its URL, stops it after.
    Its output goes to files in `logs` (default: `work`). `host=None`: no --host (the
    default address)."""
    command = dossier_command()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = logs or work
    err_path = logs / f"serve-{port}.err"
    with (logs / f"serve-{port}.out").open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [
                *command,
                "serve",
                *(["--host", host] if host else []),
                "--port",
                str(port),
                "--index-dir",
                index_dir,
            ],
            cwd=work,
            env=env,
            stdout=out,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    pytest.fail(
                        f"dossier serve exited with code {proc.returncode} before answering:\n"
                        + err_path.read_text(encoding="utf-8", errors="replace")
                    )
                try:
                    with urllib.request.urlopen(url + "/", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"dossier serve did not answer at {url}/ within 120 s:\n"
                        + err_path.read_text(encoding="utf-8", errors="replace")
                    )
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def clean_env(ollama_host: str) -> dict:
    env = user_env()
    env.update(OLLAMA_HOST=ollama_host, GRADIO_ANALYTICS_ENABLED="False")
    if (
        dossier_command()[0] == sys.executable
    ):  # no console script: import the package from the checkout
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def sse_events(response) -> list[tuple[str, dict]]:
    """The server-sent events of an httpx streaming response, as (event, data)."""
    events, name, data = [], None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))
        elif not line and name:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events
