"""Every loader fed arbitrary bytes either returns articles with text or raises LoadError:
never another exception, never a hang (each example has a deadline); and what it returns
chunks into passages whose offsets give the text back."""

from __future__ import annotations

import codecs
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, chunk_spans
from index.errors import LoadError
from index.loaders import LOADERS, load_bytes

from .test_chunking import check_chunks

# Pieces that steer random input towards the branches the loaders have: BOMs, NULs, date
# markers, front matter, HTML tags, JSON punctuation, cp1252 bytes, long runs.
_PIECES = [
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF32_LE,
    b"\x00",
    b"\r\n",
    b"\n\n",
    b"date 2025-09-19 ",
    b"date 2025-13-45\n",
    b"---\n",
    b"title: ",
    b"date: ",
    b"2025-02-30",
    b"01/02/2025",
    b"<html>",
    b"<!DOCTYPE html>",
    b"<script>",
    b"<article>",
    b"<p>",
    b'<meta property="article:published_time" content="',
    b"{",
    b"}",
    b"[",
    b"]",
    b'"text": ',
    b'"title": ',
    b'"date": ',
    b",",
    b'"',
    b"\xe9t\xe9 \x92",
    "déjà vu à Besançon ".encode(),
    b"\x1f\x8b",
    b"%PDF-",
    b"\xe2\x80\x8b",
    b"A" * 3000,
    b"Le maire a parl\xc3\xa9. ",
]

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["2025-09-19", "01/02/2025", "2025-02-30", "Fri, 19 Sep 2025 08:00:00"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["text", "title", "date", "published", "source", "id", "url", "body"])
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)

# Front matter: YAML keys the loader reads, with values YAML turns into dates, numbers,
# lists, or fails on.
_YAML_VALUES = st.sampled_from(
    [
        "2025-09-19",
        "2025-13-45",
        "2025-02-30 08:00:00",
        "01/02/2025",
        "[a, b",
        "{x: 1}",
        "12",
        "~",
        "!!binary aGVsbG8=",
        "&a [*a]",
        "'unclosed",
        "|\n  block",
        "2025-09-19T25:00:00Z",
    ]
) | st.text(max_size=20)
FRONT_MATTER = st.tuples(
    st.lists(
        st.tuples(st.sampled_from(["title", "date", "source", "published", "x"]), _YAML_VALUES),
        max_size=4,
    ),
    st.text(max_size=200),
).map(lambda t: ("---\n" + "".join(f"{k}: {v}\n" for k, v in t[0]) + "---\n" + t[1]).encode())

BYTES = st.one_of(
    FRONT_MATTER,
    st.binary(max_size=3000),
    st.lists(st.sampled_from(_PIECES) | st.binary(max_size=20), max_size=40).map(b"".join),
    st.tuples(
        st.text(max_size=500), st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "cp1252"])
    ).map(lambda t: t[0].encode(t[1], errors="ignore")),
    _JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    st.lists(_JSON_VALUES.map(json.dumps), max_size=5).map(lambda ls: "\n".join(ls).encode()),
)


@pytest.mark.parametrize("extension", sorted(LOADERS))
@settings(
    max_examples=150,
    deadline=dt.timedelta(seconds=10),  # generous: the machine is shared; a hang is minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=BYTES)
def test_any_bytes_give_articles_with_text_or_a_load_error(extension, data):
    shown = f"corpus/fuzz{extension}"
    try:
        result = load_bytes(data, LOADERS[extension], shown)
    except LoadError as exc:
        assert exc.path == shown and exc.reason.strip()
        return
    assert result.articles
    for article in result.articles:
        assert article.text.strip() and article.text == article.text.strip()
        assert "\x00" not in article.text and "\r" not in article.text
        assert article.title is None or isinstance(article.title, str)
        assert article.date is None or dt.date.fromisoformat(article.date)
    assert all(isinstance(w, str) and w for w in result.warnings + result.errors)
    # What gets indexed of it: chunks whose offsets give the text back, nothing lost.
    for article in result.articles:
        check_chunks(article.text, chunk_spans(article.text), DEFAULT_SIZE, DEFAULT_OVERLAP)
