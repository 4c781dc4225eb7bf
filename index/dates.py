"""Article dates: ISO dates and datetimes, RFC 2822 (RSS `pubDate`), and the inline
`date YYYY-MM-DD` marker some article dumps open with."""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

# "date 2025-09-19", "Date: 2025-09-19" at the very start of a text, on its own line or inline.
DATE_MARKER = re.compile(
    r"\A\s*date\s*[:=]?\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?[ \t]*\n?[ \t]*",
    re.IGNORECASE,
)
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
_AMBIGUOUS = re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$")


class DateError(ValueError):
    """A date field holds something that is not a date we can read unambiguously."""


def parse_date(value: object) -> str | None:
    """Return the ISO date (YYYY-MM-DD) of `value`, None for empty values.

    Accepts `datetime.date`/`datetime`, ISO 8601 strings ("2025-09-19", "2025-09-19T08:00:00Z")
    and RFC 2822 strings ("Fri, 19 Sep 2025 08:00:00 GMT"). Raises DateError for anything else,
    including day/month orders that cannot be told apart ("01/02/2025").
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise DateError(f"expected a date string like 2025-09-19, got {type(value).__name__}")
    text = value.strip()
    match = _ISO.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        try:
            return dt.date(year, month, day).isoformat()
        except ValueError as exc:
            raise DateError(
                f"{text!r} is not a valid date ({exc}); write it as YYYY-MM-DD"
            ) from None
    if _AMBIGUOUS.match(text):
        raise DateError(f"{text!r} is ambiguous (day/month order unknown); write it as YYYY-MM-DD")
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        raise DateError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def split_date_marker(text: str) -> tuple[str | None, str]:
    """Split a leading `date YYYY-MM-DD` marker off `text`: (iso date or None, rest of text)."""
    match = DATE_MARKER.match(text)
    if not match:
        return None, text
    try:
        date = parse_date(match.group("date"))
    except DateError:
        return None, text
    return date, text[match.end() :]


def date_to_int(date: str | None) -> int | None:
    """2025-09-19 -> 20250919, for numeric range filters in the vector store."""
    return int(date.replace("-", "")) if date else None


def parse_bound(value: str | None, name: str) -> str | None:
    """A search's --after/--before bound as an ISO date; ConfigError naming the option."""
    from .errors import ConfigError

    if value is None:
        return None
    try:
        return parse_date(value)
    except DateError as exc:
        raise ConfigError(f"--{name}: {exc}") from None
