"""Turn a file's bytes into text: UTF-8 (with or without BOM), UTF-16/32 with BOM,
UTF-16 without BOM when the NUL pattern shows it, else Windows-1252 (French text from
older Windows tools), byte for byte, never with U+FFFD replacement characters. A file that is
part UTF-8, part Windows-1252 (two files pasted together) gets each part right.

Compressed files, documents and images are named ("a gzip-compressed file, not text: ...");
stray NUL bytes in otherwise good text (a crash's padding) and invisible characters that
break words for search (zero-width space, soft hyphen) are removed, with a note for the NULs.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from dataclasses import dataclass

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Bytes that cp1252 leaves undefined; latin-1 maps them to C1 controls instead of failing.
_CP1252_HOLES = {0x81, 0x8D, 0x8F, 0x90, 0x9D}


# Signatures of files that are often saved or renamed as .txt/.json by mistake.
_MAGIC = (
    (b"\x1f\x8b", "a gzip-compressed file", "unpack it first (gunzip)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "unpack it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "unpack it first (unzstd)"),
    (b"BZh9", "a bzip2-compressed file", "unpack it first (bunzip2)"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/OpenDocument file)", "unpack it or save it as text"),
    (b"%PDF-", "a PDF document", "save it as text or HTML first"),
    (b"{\\rtf", "an RTF document", "save it as plain text first"),
    (b"\x89PNG", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF8", "a GIF image", None),
    (b"SQLite format 3\x00", "an SQLite database", None),
    (b"\x7fELF", "a program (ELF binary)", None),
)
# Stray NULs in text (an editor or a crash padding a file) are dropped when they are at most
# this share of the bytes; binary formats hold far more (random bytes: 1/256 are NUL, and
# fail the control-character test below).
_MAX_NUL_SHARE = 0.01
# Invisible characters that split a word for search ("Ba\u200bmako"): zero-width space,
# word joiner, zero-width no-break space (a BOM inside the text), soft hyphen. Zero-width
# (non-)joiners are kept: emoji and some scripts need them.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
# Control characters other than tab and newlines (an escape sequence, a form feed's cousins)
# read as spaces.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


class BinaryContentError(ValueError):
    """The bytes are not text in any encoding we read."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # "utf-8", "utf-8 (BOM)", "cp1252", "utf-8+cp1252", ...
    notes: tuple[str, ...] = ()  # what was changed on the way (for the indexing report)


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


_HANDLER = "dossier-cp1252"
_decoding = threading.local()


def _as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8, read as Windows-1252; the run recorded for this thread."""
    if not isinstance(exc, UnicodeDecodeError) or getattr(_decoding, "runs", None) is None:
        raise exc
    _decoding.runs.append((exc.start, exc.end))
    return _cp1252(exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_HANDLER, _as_cp1252)


def _mixed(data: bytes) -> tuple[str, str, list[int]]:
    """UTF-8 where the bytes are UTF-8, Windows-1252 for the bytes that are not: (text,
    encoding, the first line numbers read as Windows-1252). The encoding is "cp1252" when no
    byte sequence beyond ASCII was UTF-8."""
    runs: list[tuple[int, int]] = []  # (start, end) of each run of non-UTF-8 bytes
    _decoding.runs = runs  # the handler is process-wide: its state is this thread's
    try:
        text = data.decode("utf-8", errors=_HANDLER)
    finally:
        _decoding.runs = None
    fallback = [start for start, _ in runs]
    replaced = sum(end - start for start, end in runs)
    utf8_chars = sum(1 for ch in text if ord(ch) > 127) - replaced
    lines = sorted({data.count(b"\n", 0, start) + 1 for start in fallback[:6]})
    return text, "utf-8+cp1252" if utf8_chars > 0 else "cp1252", lines


def _magic(data: bytes) -> None:
    for signature, what, fix in _MAGIC:
        if data.startswith(signature):
            raise BinaryContentError(f"{what}, not text" + (f": {fix}" if fix else ""))


def decode(data: bytes) -> Decoded:
    """The text in `data`, its encoding and notes on what was cleaned. Raises
    BinaryContentError for binary data, naming the kind of file when it is a known one.

    Newlines are normalised to "\\n" and the text to Unicode NFC, so that offsets are
    stable whatever tool wrote the file.
    """
    _magic(data)
    notes: list[str] = []
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
            # NULs padding the end (a file cut short by a crash) do not count against it.
            inner = data.rstrip(b"\x00").count(0)
            if inner > max(1, len(data) * _MAX_NUL_SHARE):
                raise BinaryContentError("binary file (contains NUL bytes), not text")
            nuls = data.count(0)
            data = data.replace(b"\x00", b"")
            notes.append(f"removed {nuls} NUL byte(s) from the text (a damaged or padded file)")
    if text is None:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding, lines = _mixed(data)
            if encoding != "cp1252":
                shown = ", ".join(map(str, lines[:5])) + (", …" if len(lines) > 5 else "")
                notes.append(
                    f"part UTF-8, part Windows-1252 (line(s) {shown}): each part read in its "
                    "own encoding; save the file as UTF-8"
                )
    if "\x00" in text:
        raise BinaryContentError("binary file (contains NUL bytes), not text")
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if controls > max(8, len(text[:4096]) // 20):
        raise BinaryContentError("binary file (mostly control characters), not text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub(" ", _INVISIBLE.sub("", text))
    return Decoded(unicodedata.normalize("NFC", text), encoding, tuple(notes))


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name); see `decode`."""
    decoded = decode(data)
    return decoded.text, decoded.encoding
