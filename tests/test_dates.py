"""Article dates: parse_date and the leading `date YYYY-MM-DD` marker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from index.dates import DateError, date_to_int, parse_date, split_date_marker

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "2025-09-19-france-mali.txt"


# --- parse_date ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-09-19", "2025-09-19"),
        ("  2025-09-19  ", "2025-09-19"),
        ("2025-09-19T08:00:00Z", "2025-09-19"),
        ("2025-09-19T08:00:00+02:00", "2025-09-19"),
        ("2025-09-19 08:00", "2025-09-19"),
        ("Fri, 19 Sep 2025 08:00:00 GMT", "2025-09-19"),
        ("Fri, 19 Sep 2025 08:00:00 +0200", "2025-09-19"),
        ("19 Sep 2025 08:00:00 -0000", "2025-09-19"),
    ],
)
def test_parse_date_reads_iso_and_rfc2822(value, expected):
    assert parse_date(value) == expected


def test_parse_date_accepts_date_objects():
    assert parse_date(dt.date(2024, 1, 9)) == "2024-01-09"
    assert parse_date(dt.datetime(2024, 1, 9, 23, 59)) == "2024-01-09"


@pytest.mark.parametrize("value", [None, ""])
def test_parse_date_empty_is_none(value):
    assert parse_date(value) is None


def test_leap_day_is_a_valid_date():
    assert parse_date("2024-02-29") == "2024-02-29"


@pytest.mark.parametrize("value", ["2025-02-30", "2025-13-01", "2023-02-29", "2025-04-31"])
def test_impossible_calendar_date_is_refused(value):
    with pytest.raises(DateError) as info:
        parse_date(value)
    assert value in str(info.value)


def test_impossible_date_message_says_how_to_write_it():
    with pytest.raises(DateError) as info:
        parse_date("2025-02-30")
    assert "YYYY-MM-DD" in str(info.value)


@pytest.mark.parametrize("value", ["01/02/2025", "1.2.25", "12/11/2024"])
def test_ambiguous_day_month_is_refused_with_the_format_to_use(value):
    with pytest.raises(DateError) as info:
        parse_date(value)
    message = str(info.value)
    assert value in message
    assert "ambiguous" in message
    assert "YYYY-MM-DD" in message


@pytest.mark.parametrize("value", ["garbage", "yesterday", "2025", "19 septembre 2025"])
def test_garbage_is_refused_with_the_format_to_use(value):
    with pytest.raises(DateError) as info:
        parse_date(value)
    assert "YYYY-MM-DD" in str(info.value)
    assert value in str(info.value)


def test_non_string_is_refused_naming_the_type():
    with pytest.raises(DateError, match="int"):
        parse_date(20250919)


def test_date_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_date("garbage")


def test_date_to_int():
    assert date_to_int("2025-09-19") == 20250919
    assert date_to_int(None) is None


# --- split_date_marker --------------------------------------------------------------------


def test_marker_of_the_shipped_corpus_file():
    raw = CORPUS_FILE.read_text(encoding="utf-8")
    assert raw.startswith(" date 2025-09-19 La France a annoncé")
    date, rest = split_date_marker(raw)
    assert date == "2025-09-19"
    assert rest.startswith("La France a annoncé")
    assert "2025-09-19" not in rest[:40]
    # Nothing else of the text was taken off.
    assert raw.endswith(rest)


def test_marker_inline_exact_opening():
    date, rest = split_date_marker(" date 2025-09-19 La France a annoncé ce vendredi...")
    assert date == "2025-09-19"
    assert rest == "La France a annoncé ce vendredi..."


def test_marker_on_its_own_line_keeps_title_and_body():
    date, rest = split_date_marker("date 2025-03-14\nTitle\n\nBody")
    assert date == "2025-03-14"
    assert rest == "Title\n\nBody"


def test_marker_with_capital_and_colon():
    date, rest = split_date_marker("Date: 2024-01-09\nHundreds evacuated\n\nAround 340 homes")
    assert date == "2024-01-09"
    assert rest == "Hundreds evacuated\n\nAround 340 homes"


def test_marker_with_a_time_drops_the_time():
    date, rest = split_date_marker("date 2025-09-19T08:00:00Z\nTitle\n\nBody")
    assert date == "2025-09-19"
    assert rest == "Title\n\nBody"


@pytest.mark.parametrize(
    "text",
    [
        "La France a annoncé ce vendredi la suspension.",
        "Title\n\ndate 2025-09-19 is mentioned later",
        "Dated letters from 2025-09-19",
        "",
    ],
)
def test_text_without_marker_is_unchanged(text):
    assert split_date_marker(text) == (None, text)


def test_marker_with_impossible_date_leaves_text_unchanged():
    text = "date 2025-02-30 Il pleuvait."
    assert split_date_marker(text) == (None, text)


def test_inline_marker_keeps_a_first_word_starting_with_z():
    date, rest = split_date_marker("date 2025-09-19 Zelensky a rencontré Macron.")
    assert date == "2025-09-19"
    assert rest == "Zelensky a rencontré Macron."


def test_inline_marker_keeps_a_text_starting_with_a_number():
    date, rest = split_date_marker("date 2025-09-19 2 000 manifestants à Paris.")
    assert date == "2025-09-19"
    assert rest == "2 000 manifestants à Paris."


def test_marker_on_own_line_keeps_a_text_starting_with_a_number():
    date, rest = split_date_marker("date 2025-09-19\n12 morts dans un incendie")
    assert date == "2025-09-19"
    assert rest == "12 morts dans un incendie"
