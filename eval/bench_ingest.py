"""Indexing throughput against the floor of encoding the same chunks alone, side by side.

    python -m eval.bench_ingest [--copies 500]

Builds a corpus of the sample article repeated (`--copies` files, 4 chunks each, every
sentence numbered so that no chunk text repeats), then
measures in one process, with the model already loaded for both:
  - dossier: `Index.add` on the folder (loading, chunking, embedding, Chroma, keyword index);
  - floor: `SentenceTransformer.encode` of the same chunk texts in the same batch size, run
    once before and once after dossier's run (their mean is the floor).
Prints chunks per second for each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from index import Index, SentenceTransformerEmbedder
from index.embeddings import DEFAULT_BATCH

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "2025-09-19-france-mali.txt"


def _chunk_texts(corpus: Path) -> list[str]:
    """The chunk texts dossier will embed for `corpus`, computed the way the indexer does."""
    from index.chunking import chunk_spans
    from index.loaders import load_file

    texts = []
    for path in sorted(corpus.iterdir()):
        for article in load_file(path).articles:
            texts += [article.text[s.start : s.end] for s in chunk_spans(article.text)]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        text = SAMPLE.read_text(encoding="utf-8")
        for i in range(args.copies):
            # Number every sentence so that no two copies share a chunk (dossier would reuse
            # the vectors of identical chunks and embed nothing).
            unique = re.sub(r"\.(\s)", rf" ({i}).\1", text)
            (corpus / f"copy-{i:05d}.txt").write_text(unique, encoding="utf-8")
        texts = _chunk_texts(corpus)
        start = time.perf_counter()
        embedder.model.encode(texts, batch_size=DEFAULT_BATCH, normalize_embeddings=True)
        floor_before = time.perf_counter() - start
        with Index(Path(tmp) / "idx", embedder=embedder) as idx:
            start = time.perf_counter()
            report = idx.add([corpus])
            dossier_s = time.perf_counter() - start
        # The floor runs before and after dossier's run; their mean cancels slow drift.
        start = time.perf_counter()
        embedder.model.encode(texts, batch_size=DEFAULT_BATCH, normalize_embeddings=True)
        floor_s = (floor_before + time.perf_counter() - start) / 2
    chunks = report.chunks
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": version("torch"),
            "sentence_transformers": version("sentence-transformers"),
            "chromadb": version("chromadb"),
        },
        "chunks": chunks,
        "dossier_chunks_per_s": round(chunks / dossier_s, 1),
        "floor_chunks_per_s": round(chunks / floor_s, 1),
        "ratio_vs_floor": round(floor_s / dossier_s, 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{chunks} chunks: dossier index {result['dossier_chunks_per_s']} chunks/s, "
            f"bare encode {result['floor_chunks_per_s']} chunks/s, "
            f"ratio {result['ratio_vs_floor']}"
        )


if __name__ == "__main__":
    main()
