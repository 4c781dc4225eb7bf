"""decode_bytes: every encoding a news dump arrives in reads back as the same French text."""

from __future__ import annotations

import codecs
import random

import pytest

from index.encoding import BinaryContentError, decode_bytes

FRENCH = "L’Élysée a salué l’œuvre de l’agent, arrêté à Bamako.\nDeuxième ligne : « déjà » vu.\n"


def _assert_clean(text: str) -> None:
    assert "\ufffd" not in text
    assert "\r" not in text


def test_utf8_is_read_as_is():
    text, encoding = decode_bytes(FRENCH.encode("utf-8"))
    assert text == FRENCH
    assert encoding == "utf-8"
    _assert_clean(text)


def test_utf8_bom_is_stripped():
    text, encoding = decode_bytes(codecs.BOM_UTF8 + FRENCH.encode("utf-8"))
    assert text == FRENCH
    assert not text.startswith("\ufeff")
    assert "BOM" in encoding


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
    ids=["utf-16-le", "utf-16-be"],
)
def test_utf16_with_bom(bom, codec):
    text, encoding = decode_bytes(bom + FRENCH.encode(codec))
    assert text == FRENCH
    assert not text.startswith("\ufeff")
    assert codec in encoding
    _assert_clean(text)


def test_utf16_le_without_bom_is_recognised_by_its_nul_pattern():
    data = FRENCH.encode("utf-16-le")
    assert not data.startswith(codecs.BOM_UTF16_LE)
    text, encoding = decode_bytes(data)
    assert text == FRENCH
    assert "utf-16" in encoding
    assert "\x00" not in text


def test_utf16_be_without_bom_is_recognised_too():
    text, _ = decode_bytes(FRENCH.encode("utf-16-be"))
    assert text == FRENCH


def test_cp1252_french_text_gets_its_accents_and_typographic_apostrophe():
    data = "Élysée: l’agent, œuvre".encode("cp1252")
    # The bytes a Windows tool writes: É=0xC9, é=0xE9, ’=0x92, œ=0x9C; not valid UTF-8.
    assert data == b"\xc9lys\xe9e: l\x92agent, \x9cuvre"
    text, encoding = decode_bytes(data)
    assert text == "Élysée: l’agent, œuvre"
    assert "\u2019" in text and "œ" in text and "É" in text
    assert "\ufffd" not in text
    assert encoding == "cp1252"


def test_cp1252_full_paragraph_never_has_replacement_characters():
    data = FRENCH.replace("\n", "\r\n").encode("cp1252")
    text, _ = decode_bytes(data)
    assert text == FRENCH
    _assert_clean(text)


def test_cp1252_undefined_bytes_do_not_become_replacement_characters():
    # 0x81 and 0x9D are holes in cp1252: they must not turn into U+FFFD or raise.
    text, _ = decode_bytes(b"caf\xe9 \x81 fin \x9d")
    assert text.startswith("café ")
    assert "\ufffd" not in text


@pytest.mark.parametrize(
    "data",
    [b"one\r\ntwo\r\n\r\nthree", b"one\rtwo\r\rthree", b"one\ntwo\n\nthree"],
    ids=["crlf", "cr", "lf"],
)
def test_newlines_are_normalised(data):
    text, _ = decode_bytes(data)
    assert text == "one\ntwo\n\nthree"


def test_crlf_normalised_in_utf16_too():
    text, _ = decode_bytes(codecs.BOM_UTF16_LE + "a\r\nb\r\n".encode("utf-16-le"))
    assert text == "a\nb\n"


def test_text_is_normalised_to_nfc():
    # "É" and "é" written as a letter + combining acute must read as the precomposed letters.
    text, _ = decode_bytes("E\u0301lyse\u0301e".encode())
    assert text == "\u00c9lys\u00e9e"
    assert "\u0301" not in text


def _png_like(seed: int = 0, size: int = 4000) -> bytes:
    rng = random.Random(seed)
    body = bytes(rng.randrange(256) for _ in range(size))
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + body


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_binary_data_is_refused(seed):
    data = _png_like(seed)
    assert b"\x00" in data
    with pytest.raises(BinaryContentError, match="a PNG image, not text"):
        decode_bytes(data)
    # Without its signature, the same bytes are still refused, as binary.
    with pytest.raises(BinaryContentError, match="binary"):
        decode_bytes(data[8:])


def test_binary_data_that_happens_to_be_valid_utf8_is_still_refused():
    with pytest.raises(BinaryContentError):
        decode_bytes(b"abc\x00\x00\x00def\x00\x01\x02")


def test_binary_error_is_a_value_error():
    # Callers catch ValueError when they don't know the specific class.
    with pytest.raises(ValueError):
        decode_bytes(_png_like())


def test_utf16_without_bom_in_plain_english_is_text_not_binary():
    text = "The agent was arrested on Friday.\nParis called the charges unfounded.\n"
    for codec in ("utf-16-le", "utf-16-be"):
        decoded, _ = decode_bytes(text.encode(codec))
        assert decoded == text


def test_decoding_in_many_threads_keeps_each_files_own_verdict():
    """A server decodes uploads and indexed files in several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from index.encoding import decode

    pure = "déjà vu, à côté\n".encode("cp1252") * 40
    mixed = ("é".encode() + "à".encode("cp1252") + b"\n") * 40

    def verdict(i: int) -> tuple[int, str, tuple[str, ...]]:
        decoded = decode(pure if i % 2 else mixed)
        return i % 2, decoded.encoding, decoded.notes

    with ThreadPoolExecutor(4) as pool:
        verdicts = set(pool.map(verdict, range(800)))
    assert len(verdicts) == 2, verdicts  # one verdict for each file, whatever ran beside it
