"""Read article files into `Article`s: .txt, .md, .html/.htm, .json and .jsonl.

A loader returns every article it could read with the problems it met; a file that yields
nothing raises `LoadError` naming the file and the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .dates import DATE_MARKER, DateError, parse_date, split_date_marker
from .encoding import BinaryContentError, decode
from .errors import LoadError
from .types import Article

TEXT_FIELDS = ("text", "content", "body", "article", "maintext")
TITLE_FIELDS = ("title", "headline")
DATE_FIELDS = ("date", "published", "published_at", "publishedAt", "pubDate", "datePublished")
SOURCE_FIELDS = ("source", "publisher", "site_name")
URL_FIELDS = ("url", "link")
ID_FIELDS = ("id", "guid")

_MAX_TITLE = 200
# A run of non-space characters longer than this is data (base64, a hex dump, minified
# code), not language: it is taken out of the article's text, with a note. 2,048 is the
# longest URL the sitemaps protocol allows (sitemaps.org), so genuine long URLs stay.
MAX_RUN = 2048
_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")
# Files larger than this are refused before being read (by the indexer, on stat()): a news
# article is 2-50 KB, so 10 MB is hundreds of articles in one file and about 13,000 passages
# to embed (some 10 minutes on a 2-core CPU); a 50 MB dump would take about an hour without
# a word. `max_file_mb` (--max-file-mb, DOSSIER_MAX_FILE_MB) raises it.
DEFAULT_MAX_FILE_MB = 10.0
_SHOWN_ERRORS = 3  # a file's error list is cut to this many, then "... and N more"


@dataclass
class FileLoad:
    """What a loader got out of one file."""

    articles: list[Article] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # parts not indexed (bad lines, articles)
    warnings: list[str] = field(default_factory=list)  # indexed anyway (e.g. a bad date dropped)


def _clean_text(raw: str, warnings: list[str] | None = None) -> tuple[str | None, str]:
    """Take a leading date marker off the text and trim surrounding whitespace; a marker
    whose date is not a real date stays in the text, with a warning."""
    date, rest = split_date_marker(raw)
    marker = DATE_MARKER.match(raw)
    if warnings is not None and marker and date is None:
        try:
            parse_date(marker.group("date"))
        except DateError as exc:
            warnings.append(f"the date marker is not used: {exc}")
    if warnings is not None:
        _future(date, "the date marker", warnings)
    return date, rest.strip()


def _future(date: str | None, what: str, warnings: list[str]) -> None:
    """Warn about a date after tomorrow (time zones): kept as written, since dropping it would
    lose a date that may be right, but said, since it is more often a typo."""
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    if date and date > tomorrow.isoformat():
        warnings.append(f"{what} {date} is in the future; kept as written: check it")


def summarise(errors: list[str]) -> str:
    """A file's errors in one line: the first few, then how many more."""
    shown = "; ".join(errors[:_SHOWN_ERRORS])
    more = len(errors) - _SHOWN_ERRORS
    return shown + (f"; … and {more:,} more" if more > 0 else "")


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
    if not text.strip():  # an empty file never gets here (load_bytes): something was taken off
        raise LoadError(path, "no text besides its date marker or front matter")
    return text


_HTML_START = re.compile(r"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)


def load_text(path: str, raw: str) -> FileLoad:
    if _HTML_START.match(raw[:4096]):
        result = load_html(path, raw)
        result.warnings.append("holds an HTML page: read as HTML; rename it to .html")
        return result
    result = FileLoad()
    date, text = _clean_text(raw, result.warnings)
    _require_text(path, text)
    result.articles.append(Article(text=text, title=_title_line(text), date=date))
    return result


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
            result.warnings.append(
                f"front matter is not valid YAML ({exc.__class__.__name__}): its title, date "
                "and source are ignored; fix its quotes and brackets"
            )
        except (ValueError, TypeError, OverflowError) as exc:  # "date: 2025-13-45"
            loaded = None
            result.warnings.append(
                f"front matter ignored: a value YAML cannot read ({exc}); write dates as YYYY-MM-DD"
            )
        meta = loaded if isinstance(loaded, dict) else {}
        raw = raw.lstrip("\ufeff")[match.end() :]
    if not match and raw.lstrip("\ufeff").startswith("---\n"):
        result.warnings.append(
            "front matter opened with --- but never closed: read as text; close it with a "
            "line holding only ---"
        )
    marker_date, text = _clean_text(raw, result.warnings)
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
    result = FileLoad()
    marker_date, text = _clean_text(page.text, result.warnings)
    if not text:
        raise LoadError(path, "no main text in the HTML (only scripts, styles or navigation)")
    date = None
    if page.date:
        try:
            date = parse_date(page.date)
        except DateError as exc:
            result.warnings.append(f"date ignored: {exc}")
        _future(date, "the page's date", result.warnings)
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
        _future(out["date"], f"{where}: field '{name}'", warnings)
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
    marker_date, text = _clean_text(text, warnings)
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
    """The articles in a file's bytes; LoadError naming `shown` when there are none."""
    if not data.strip():
        raise LoadError(shown, "no text (the file is empty or holds only whitespace)")
    try:
        decoded = decode(data)
    except BinaryContentError as exc:
        raise LoadError(shown, str(exc)) from None
    if not decoded.text.strip():
        raise LoadError(shown, "no text (the file holds only invisible or control characters)")
    try:
        result = loader(shown, decoded.text)
    except RecursionError:
        raise LoadError(shown, "JSON nested too deeply to be an article") from None
    result.warnings[:0] = decoded.notes
    if decoded.encoding == "cp1252":
        result.warnings.append(
            "not valid UTF-8: read as Windows-1252; if accents look wrong, save it as UTF-8"
        )
    _drop_data_runs(result)
    if not result.articles:
        raise LoadError(shown, summarise(result.errors) or "no articles found")
    return result


def _drop_data_runs(result: FileLoad) -> None:
    """Take runs of more than MAX_RUN non-space characters out of each article's text; an
    article with nothing else becomes an error."""
    kept = []
    for art in result.articles:
        runs = [len(m.group()) for m in _RUN.finditer(art.text)]
        if not runs:
            kept.append(art)
            continue
        what = (
            f"{len(runs)} run(s) of more than {MAX_RUN:,} characters without a space "
            f"(the longest {max(runs):,}: base64 or other data, not text)"
        )
        where = f"article {art.key}: " if art.key else ""
        text = re.sub(r"\n{3,}", "\n\n", _RUN.sub("", art.text)).strip()
        if not text:
            result.errors.append(f"{where}no text: it holds only {what}")
            continue
        result.warnings.append(f"{where}removed {what}")
        kept.append(Article(**{**art.__dict__, "text": text}))
    result.articles = kept


def discover(paths: list[Path], exclude: Iterable[Path] = ()) -> Iterator[tuple[Path, bool]]:
    """Yield (file, supported) for every file under `paths`, in a stable order.

    Hidden files and folders (".dossier", ".git") and the folders in `exclude` (the index
    itself) are left out; symlinked folders are not followed, so a link loop cannot trap
    the walk: they are yielded as they are, for the caller to report.
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
                # Links to folders are listed too: the indexer says they are not followed.
                files.extend(Path(folder, d) for d in dirs if os.path.islink(Path(folder, d)))
            files.sort()
        else:
            files = [root]
        for file in files:
            key = os.path.abspath(file)
            if key in seen:
                continue
            seen.add(key)
            yield file, is_supported(file)
