"""Chroma server mode: check the URL given by --chroma-url, then build the HTTP client.

The check is one or two small GETs with a short timeout, made before chromadb's client is
built (whose own failures are slow and say little): an unreachable server, something that is
not Chroma, and a Chroma 0.x server (which serves `/api/v1/*` only) each get one line naming
the URL and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ChromaServerError

TIMEOUT = 3.0  # seconds: a Chroma server answers its heartbeat in milliseconds
UPGRADE = "pip install 'chromadb>=1.5,<2'"


@dataclass(frozen=True)
class ServerAddress:
    url: str  # as the user gave it, without a trailing slash
    host: str
    port: int
    ssl: bool

    @property
    def base(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def parse_url(url: str) -> ServerAddress:
    """`http://host:8000` or `https://host` (port 80/443 by default); anything else is refused."""
    shown = url.strip().rstrip("/")
    parts = urlsplit(shown)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChromaServerError(
            f"--chroma-url {url!r} is not a Chroma server URL: give http://HOST:PORT "
            "(e.g. http://127.0.0.1:8000), or unset DOSSIER_CHROMA_URL for the embedded store."
        )
    if parts.path or parts.query or parts.fragment:
        raise ChromaServerError(
            f"--chroma-url {url!r}: give only http://HOST:PORT, without a path or query."
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ChromaServerError(
            f"--chroma-url {url!r} has an invalid port: give http://HOST:PORT."
        ) from None
    return ServerAddress(shown, parts.hostname, port, parts.scheme == "https")


def check_server(address: ServerAddress, timeout: float = TIMEOUT) -> str:
    """Make sure a Chroma 1.x server answers at `address`; return its version."""
    import httpx

    url = address.url
    try:
        with httpx.Client(base_url=address.base, timeout=timeout) as http:
            beat = http.get("/api/v2/heartbeat")
            if beat.status_code == 200 and _is_heartbeat(beat):
                version = http.get("/api/v2/version")
                found = _json(version) if version.status_code == 200 else None
                found = found if isinstance(found, str) else "1.x"
                if not found.startswith("1.") and found != "1.x":
                    raise ChromaServerError(
                        f"Chroma server at {url} is version {found}; dossier needs Chroma 1.x: "
                        f"run a 1.x server ({UPGRADE}) or point --chroma-url at one."
                    )
                return found
            old = http.get("/api/v1/heartbeat")
            if old.status_code == 200 and _is_heartbeat(old):
                version = http.get("/api/v1/version")
                found = _json(version) if version.status_code == 200 else None
                found = found if isinstance(found, str) else "0.x"
                raise ChromaServerError(
                    f"Chroma server at {url} is version {found} (0.x); dossier needs Chroma "
                    f"1.x: upgrade the server ({UPGRADE}) and re-index with "
                    "`dossier index --chroma-url ... PATH...`."
                )
    except httpx.TimeoutException:
        raise ChromaServerError(
            f"Chroma server at {url} did not answer within {timeout:g} s: check that it is "
            "running (`chroma run --path DIR --port N`) and that --chroma-url / "
            "DOSSIER_CHROMA_URL names it."
        ) from None
    except httpx.TransportError as exc:
        raise ChromaServerError(
            f"Cannot reach a Chroma server at {url} ({_reason(exc)}): start one with "
            "`chroma run --path DIR --port N`, or fix --chroma-url / DOSSIER_CHROMA_URL."
        ) from None
    raise ChromaServerError(
        f"{url} does not answer like a Chroma server (GET /api/v2/heartbeat gave HTTP "
        f"{beat.status_code}): check the host and port in --chroma-url / DOSSIER_CHROMA_URL."
    )


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _is_heartbeat(response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and "nanosecond heartbeat" in body


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return "connection refused" if "refused" in text.lower() else text


def http_client(address: ServerAddress):
    """chromadb's HTTP client for a checked address (telemetry off)."""
    import chromadb
    from chromadb.config import Settings

    return chromadb.HttpClient(
        host=address.host,
        port=address.port,
        ssl=address.ssl,
        settings=Settings(anonymized_telemetry=False),
    )
