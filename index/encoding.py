"""Turn a file's bytes into text: UTF-8 (with or without BOM), UTF-16/32 with BOM,
UTF-16 without BOM when the NUL pattern shows it, else Windows-1252 (French text from
older Windows tools), byte for byte, never with U+FFFD replacement characters."""

from __future__ import annotations

import codecs
import unicodedata

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Bytes that cp1252 leaves undefined; latin-1 maps them to C1 controls instead of failing.
_CP1252_HOLES = {0x81, 0x8D, 0x8F, 0x90, 0x9D}


class BinaryContentError(ValueError):
    """The bytes are not text in any encoding we read."""


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text with no BOM has a NUL in every other byte for Latin script."""
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0) / (len(data) / 2)
    odd_nuls = data[1::2].count(0) / (len(data) / 2)
    if odd_nuls > 0.3 and even_nuls < 0.05:
        encoding = "utf-16-le"
    elif even_nuls > 0.3 and odd_nuls < 0.05:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _cp1252(data: bytes) -> str:
    if not any(b in _CP1252_HOLES for b in data):
        return data.decode("cp1252")
    return "".join(
        bytes([b]).decode("latin-1") if b in _CP1252_HOLES else bytes([b]).decode("cp1252")
        for b in data
    )


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name). Raises BinaryContentError for binary data.

    Newlines are normalised to "\\n" and the text to Unicode NFC, so that offsets are
    stable whatever tool wrote the file.
    """
    text: str | None = None
    encoding = ""
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                text, encoding = data[len(bom) :].decode(name), name + " (BOM)"
            except UnicodeDecodeError as exc:
                raise BinaryContentError(f"starts with a {name} BOM but is not {name}") from exc
            break
    if text is None and b"\x00" in data:
        # Before UTF-8: ASCII-only UTF-16 is also valid UTF-8, with a NUL every other byte.
        text, encoding = _utf16_without_bom(data), "utf-16 (no BOM)"
        if text is None:
            raise BinaryContentError("binary file (contains NUL bytes), not text")
    if text is None:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = _cp1252(data), "cp1252"
    if "\x00" in text:
        raise BinaryContentError("binary file (contains NUL bytes), not text")
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if controls > max(8, len(text[:4096]) // 20):
        raise BinaryContentError("binary file (mostly control characters), not text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text), encoding
