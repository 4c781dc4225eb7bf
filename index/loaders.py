"""Read article files into `Article`s: .txt, .md, .html/.htm, .json and .jsonl.

A loader returns every article it could read with the problems it met; a file that yields
nothing raises `LoadError` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .dates import DateError, parse_date, split_date_marker
from .encoding import BinaryContentError, decode_bytes
from .errors import LoadError
from .types import Article

TEXT_FIELDS = ("text", "content", "body", "article", "maintext")
TITLE_FIELDS = ("title", "headline")
DATE_FIELDS = ("date", "published", "published_at", "publishedAt", "pubDate", "datePublished")
SOURCE_FIELDS = ("source", "publisher", "site_name")
URL_FIELDS = ("url", "link")
ID_FIELDS = ("id", "guid")

_MAX_TITLE = 200


@dataclass
class FileLoad:
    """What a loader got out of one file."""

    articles: list[Article] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # parts not indexed (bad lines, articles)
    warnings: list[str] = field(default_factory=list)  # indexed anyway (e.g. a bad date dropped)


def _clean_text(raw: str) -> tuple[str | None, str]:
    """Take a leading date marker off the text and trim surrounding whitespace."""
    date, rest = split_date_marker(raw)
    return date, rest.strip()


def _title_line(text: str) -> str | None:
    """A first line that reads like a headline: short, no final full stop, then a blank line."""
    first, sep, rest = text.partition("\n")
    first = first.strip().lstrip("#").strip()
    if not sep or not rest.startswith("\n") or not first or len(first) > _MAX_TITLE:
        return None
    if first[-1] in ".;:," or not rest.strip():
        return None
    return first


def _require_text(path: str, text: str) -> str:
    if not text.strip():
        raise LoadError(path, "no text (the file is empty or holds only whitespace)")
    return text


def load_text(path: str, raw: str) -> FileLoad:
    date, text = _clean_text(raw)
    _require_text(path, text)
    return FileLoad([Article(text=text, title=_title_line(text), date=date)])


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def load_markdown(path: str, raw: str) -> FileLoad:
    import yaml

    meta: dict = {}
    result = FileLoad()
    match = _FRONT_MATTER.match(raw.lstrip("\ufeff"))
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            loaded = None
            result.warnings.append(f"front matter is not valid YAML ({exc.__class__.__name__})")
        meta = loaded if isinstance(loaded, dict) else {}
        raw = raw.lstrip("\ufeff")[match.end() :]
    marker_date, text = _clean_text(raw)
    _require_text(path, text)
    fields = _article_fields(meta, result.warnings, where="front matter")
    first_line = text.split("\n", 1)[0]
    heading = first_line[2:].strip() if first_line.startswith("# ") else None
    result.articles.append(
        Article(
            text=text,
            title=fields["title"] or heading or _title_line(text),
            date=fields["date"] or marker_date,
            source=fields["source"],
        )
    )
    return result


def load_html(path: str, raw: str) -> FileLoad:
    from .html import extract_html

    page = extract_html(raw)
    marker_date, text = _clean_text(page.text)
    if not text:
        raise LoadError(path, "no main text in the HTML (only scripts, styles or navigation)")
    result = FileLoad()
    date = None
    if page.date:
        try:
            date = parse_date(page.date)
        except DateError as exc:
            result.warnings.append(f"date ignored: {exc}")
    result.articles.append(
        Article(text=text, title=page.title, date=date or marker_date, source=page.source)
    )
    return result


def _first(obj: dict, names: tuple[str, ...]) -> tuple[str | None, object]:
    for name in names:
        if name in obj and obj[name] not in (None, ""):
            return name, obj[name]
    return None, None


def _article_fields(obj: dict, warnings: list[str], where: str) -> dict:
    """Title, date and source of a JSON object or front matter; bad values become warnings."""
    out: dict = {"title": None, "date": None, "source": None}
    name, title = _first(obj, TITLE_FIELDS)
    if name and isinstance(title, str):
        out["title"] = title.strip() or None
    elif name:
        warnings.append(f"{where}: field '{name}' should be a string, got {type(title).__name__}")
    name, date = _first(obj, DATE_FIELDS)
    if name:
        try:
            out["date"] = parse_date(date)
        except DateError as exc:
            warnings.append(f"{where}: field '{name}' ignored: {exc}")
    name, source = _first(obj, SOURCE_FIELDS)
    if isinstance(source, dict):
        source = source.get("name") or source.get("url")
    if not isinstance(source, str) or not source.strip():
        _, source = _first(obj, URL_FIELDS)
    out["source"] = source.strip() if isinstance(source, str) and source.strip() else None
    return out


def _json_article(obj: object, where: str, warnings: list[str]) -> Article:
    """One JSON object to an Article; raises ValueError with the reason when it is not one."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected an article object, got {type(obj).__name__}")
    name, text = _first(obj, TEXT_FIELDS)
    if name is None:
        raise ValueError(f"no text field (expected one of: {', '.join(TEXT_FIELDS)})")
    if not isinstance(text, str):
        raise ValueError(f"field '{name}' should be a string, got {type(text).__name__}")
    marker_date, text = _clean_text(text)
    if not text:
        raise ValueError(f"field '{name}' holds only whitespace")
    fields = _article_fields(obj, warnings, where)
    _, ident = _first(obj, ID_FIELDS)
    _, url = _first(obj, URL_FIELDS)
    if isinstance(ident, str | int):
        key = f"id:{ident}"
    elif isinstance(url, str):
        key = f"url:{url}"
    else:
        key = "sha:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return Article(
        text=text,
        title=fields["title"],
        date=fields["date"] or marker_date,
        source=fields["source"],
        key=key,
    )


def _unique_keys(articles: list[Article]) -> list[Article]:
    seen: dict[str, int] = {}
    out = []
    for art in articles:
        n = seen.get(art.key, 0)
        seen[art.key] = n + 1
        out.append(art if n == 0 else Article(**{**art.__dict__, "key": f"{art.key}#{n}"}))
    return out


def load_json(path: str, raw: str) -> FileLoad:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LoadError(path, f"line {exc.lineno}: invalid JSON ({exc.msg})") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise LoadError(path, "the JSON list holds no articles")
    result = FileLoad()
    for i, obj in enumerate(items, 1):
        where = f"article {i}" if isinstance(data, list) else "article"
        try:
            result.articles.append(_json_article(obj, where, result.warnings))
        except ValueError as exc:
            result.errors.append(f"{where}: {exc}")
    if not isinstance(data, list) and result.articles:
        result.articles = [Article(**{**result.articles[0].__dict__, "key": ""})]
    result.articles = _unique_keys(result.articles)
    return result


def load_jsonl(path: str, raw: str) -> FileLoad:
    result = FileLoad()
    for lineno, line in enumerate(raw.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.errors.append(f"line {lineno}: invalid JSON ({exc.msg})")
            continue
        try:
            result.articles.append(_json_article(obj, f"line {lineno}", result.warnings))
        except ValueError as exc:
            result.errors.append(f"line {lineno}: {exc}")
    if not result.articles and not result.errors:
        raise LoadError(path, "no text (the file is empty or holds only whitespace)")
    result.articles = _unique_keys(result.articles)
    return result


LOADERS: dict[str, Callable[[str, str], FileLoad]] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".json": load_json,
    ".jsonl": load_jsonl,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load_file(path: Path, display: str | None = None) -> FileLoad:
    """Load the articles of one file. Raises LoadError when the file yields none."""
    shown = display or str(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(shown, f"unsupported file type {path.suffix!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(shown, f"cannot read the file ({exc.strerror or exc})") from None
    return load_bytes(data, loader, shown)


def load_bytes(data: bytes, loader: Callable[[str, str], FileLoad], shown: str) -> FileLoad:
    if not data.strip():
        raise LoadError(shown, "no text (the file is empty or holds only whitespace)")
    try:
        raw, encoding = decode_bytes(data)
    except BinaryContentError as exc:
        raise LoadError(shown, str(exc)) from None
    try:
        result = loader(shown, raw)
    except RecursionError:
        raise LoadError(shown, "JSON nested too deeply to be an article") from None
    if encoding == "cp1252":
        result.warnings.append(
            "not valid UTF-8: read as Windows-1252; if accents look wrong, save it as UTF-8"
        )
    if not result.articles:
        raise LoadError(shown, "; ".join(result.errors) or "no articles found")
    return result


def discover(paths: list[Path], exclude: Iterable[Path] = ()) -> Iterator[tuple[Path, bool]]:
    """Yield (file, supported) for every file under `paths`, in a stable order.

    Hidden files and folders (".dossier", ".git") and the folders in `exclude` (the index
    itself) are left out; symlinked folders are not followed, so a link loop cannot trap
    the walk.
    """
    excluded = {os.path.abspath(p) for p in exclude}
    seen: set[str] = set()
    for root in paths:
        if root.is_dir():
            files = []
            for folder, dirs, names in os.walk(root, followlinks=False):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if not d.startswith(".") and os.path.abspath(Path(folder, d)) not in excluded
                )
                files.extend(Path(folder, n) for n in names if not n.startswith("."))
            files.sort()
        else:
            files = [root]
        for file in files:
            key = os.path.abspath(file)
            if key in seen:
                continue
            seen.add(key)
            yield file, is_supported(file)
