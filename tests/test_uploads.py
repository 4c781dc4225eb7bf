"""Uploaded files (app/uploads.py): whatever name or content arrives, a file is stored only in
the uploads folder, under a plain visible name, never over another file, or refused with the
reason. The same attacks through a running server: tests/test_security.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.uploads import MAX_UPLOAD_BYTES, UploadRejected, safe_name, store

ATTACKS = [
    ("../../x.txt", "x.txt"),
    ("/etc/x.txt", "x.txt"),
    ("..\\..\\x.txt", "x.txt"),
    ("C:\\Windows\\x.txt", "x.txt"),
    (".hidden.txt", "hidden.txt"),
    ("....x.txt", "x.txt"),
    ("a\x00b.txt", "ab.txt"),
    ("new\nline.txt", "newline.txt"),
    ("tab\tand\rreturn.md", "tabandreturn.md"),
    ('a<b>c:"d"|e?f*.txt', "abcdef.txt"),
    ("CON.txt", "CON_.txt"),
    ("..", "upload"),
    ("", "upload"),
    (".txt", "upload.txt"),
    ("x/..", "upload"),
    ("Élection à Besançon.md", "Élection à Besançon.md"),
    ("report.final.html", "report.final.html"),
]


@pytest.mark.parametrize(("given_name", "expected"), ATTACKS)
def test_names_are_made_plain(given_name, expected):
    assert safe_name(given_name) == expected


def test_a_very_long_name_keeps_its_extension_and_fits_any_file_system():
    name = safe_name("é" * 300 + ".txt")
    assert name.endswith(".txt") and len(name.encode()) <= 255 - len("-9999")


@given(st.text(max_size=400))
def test_any_name_is_one_visible_component(name):
    safe = safe_name(name)
    assert safe and safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in safe)
    assert len(safe.encode()) <= 230
    assert os.path.basename(safe) == safe


def _text(path, words: str = "The harbour of Kirkwall reopened on Wednesday."):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(words, encoding="utf-8")
    return path


def test_store_writes_only_inside_the_folder(tmp_path):
    folder = tmp_path / "idx" / "uploads"
    source = _text(tmp_path / "in" / "a.txt")
    for name in ("../../escape.txt", "/tmp/escape.txt", "..\\escape.txt"):
        stored = store(source, name, folder)
        assert stored.parent == folder.resolve()
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "idx" / "escape.txt").exists()


def test_a_different_file_never_replaces_an_upload(tmp_path):
    folder = tmp_path / "uploads"
    first = store(_text(tmp_path / "1" / "n.txt", "Brodick pier closed."), "n.txt", folder)
    second = store(_text(tmp_path / "2" / "n.txt", "Lochranza ferry sailed."), "n.txt", folder)
    assert (first.name, second.name) == ("n.txt", "n-2.txt")
    assert first.read_text() == "Brodick pier closed."
    again = store(_text(tmp_path / "3" / "n.txt", "Lochranza ferry sailed."), "n.txt", folder)
    assert again == second  # the same content: the same file, not a third copy


def test_a_planted_link_is_not_written_through(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    outside = _text(tmp_path / "outside.txt", "untouched")
    (folder / "n.txt").symlink_to(outside)
    stored = store(_text(tmp_path / "in" / "n.txt", "The new article."), "n.txt", folder)
    assert stored.name == "n-2.txt" and outside.read_text() == "untouched"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("setup.exe", b"plain text", "not an article type"),
        ("noextension", b"plain text", "no extension is not an article type"),
        ("a.txt.exe", b"plain text", ".exe is not an article type"),
        ("agenda.txt", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)), "not text"),
        ("photo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "not text"),
    ],
)
def test_wrong_types_are_refused_with_the_reason(tmp_path, name, data, reason):
    source = tmp_path / "in"
    source.write_bytes(data)
    with pytest.raises(UploadRejected, match=reason) as refused:
        store(source, name, tmp_path / "uploads")
    assert name in str(refused.value)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_a_file_over_the_limit_is_refused(tmp_path):
    source = tmp_path / "big.txt"
    with source.open("wb") as out:
        out.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no 20 MB written
    with pytest.raises(UploadRejected, match=r"big\.txt: 20,000,001 bytes is over the 20 MB limit"):
        store(source, "big.txt", tmp_path / "uploads")


def test_utf16_and_cp1252_articles_are_text(tmp_path):
    folder = tmp_path / "uploads"
    utf16 = tmp_path / "a"
    utf16.write_bytes("\ufeffLe port de Kirkwall a rouvert.".encode("utf-16-le"))
    cp1252 = tmp_path / "b"
    cp1252.write_bytes("Le musée a rouvert à Besançon.".encode("cp1252"))
    assert store(utf16, "a.txt", folder).name == "a.txt"
    assert store(cp1252, "b.txt", folder).name == "b.txt"


def test_the_indexing_limit_applies_before_the_copy(tmp_path):
    """A server run with a lower max_file_mb refuses larger uploads up front, not after."""
    source = tmp_path / "long.txt"
    source.write_text("A long article about the harbour. " * 40_000, encoding="utf-8")  # 1.4 MB
    with pytest.raises(UploadRejected, match=r"over the 1 MB limit"):
        store(source, "long.txt", tmp_path / "uploads", limit=1_000_000)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())
