"""The `dossier` command line. Heavy libraries are imported inside commands, so that
`dossier --help` answers at once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from index.dates import parse_bound
from index.errors import ConfigError, DossierError

from .settings import BY_NAME, resolve

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions about a collection of news articles.",
)

IndexDir = Annotated[
    str | None,
    typer.Option(
        "--index-dir", help=f"Index directory (env {BY_NAME['index_dir'].env}; default .dossier)."
    ),
]
EmbedModel = Annotated[
    str | None,
    typer.Option(
        "--embed-model",
        help="Embedding model: a sentence-transformers name or folder "
        f"(env {BY_NAME['embed_model'].env}; default: the bundled all-MiniLM-L6-v2).",
    ),
]
EmbedBackend = Annotated[
    str | None,
    typer.Option(
        "--embed-backend",
        help="auto, onnx-int8 or torch (env "
        f"{BY_NAME['embed_backend'].env}; default auto: the index's own, onnx-int8 for a new one).",
    ),
]
ChromaUrl = Annotated[
    str | None,
    typer.Option(
        "--chroma-url",
        help="A Chroma server, e.g. http://127.0.0.1:8000, instead of the embedded store "
        f"(env {BY_NAME['chroma_url'].env}).",
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
After = Annotated[str | None, typer.Option(help="Only articles dated on or after YYYY-MM-DD.")]
Before = Annotated[str | None, typer.Option(help="Only articles dated on or before YYYY-MM-DD.")]
Source = Annotated[
    str | None, typer.Option(help="Only articles whose source or path contains this text.")
]


def _console(stderr: bool = False):
    from rich.console import Console

    # No emoji codes: ":warning:" in an article must print as written.
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=not stderr)


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    # One line, however long: the terminal wraps it, and a script reading stderr gets one line.
    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _note(message: str) -> None:
    from rich.markup import escape

    _console(stderr=True).print(f"[dim]{escape(message)}[/]")


def _open_index(settings: dict, create: bool, embedder=None):
    from index.core import Index

    return Index(
        settings["index_dir"],
        embed_model=settings["embed_model"],
        embed_backend=settings["embed_backend"],
        notify=_note,
        embedder=embedder,
        create=create,
        chroma_url=settings.get("chroma_url"),
    )


def _place(settings: dict) -> str:
    """Where the index's passages are, for messages."""
    if settings.get("chroma_url"):
        return f"on the Chroma server at {settings['chroma_url']}"
    return f"in {settings['index_dir']}/"


def _server_errors() -> tuple[type[Exception], ...]:
    """What chromadb raises when its store fails mid-command: the server gone away, or its
    error answers (evaluated only when an exception is being handled, so httpx and chromadb
    are not imported for --help)."""
    import httpx
    from chromadb.errors import ChromaError

    return (httpx.TransportError, ChromaError)


def _server_error(settings: dict, exc: Exception) -> str:
    from chromadb.errors import NotFoundError

    url = settings.get("chroma_url")
    if not url:
        return _storage_error(settings["index_dir"], exc)
    if isinstance(exc, NotFoundError):
        return (
            f"the collection on the Chroma server at {url} is gone (another process may be "
            f"rebuilding it: {exc}); build it again with `dossier index --chroma-url {url} "
            "PATH...`, or wait for the rebuild to finish."
        )
    return (
        f"lost the Chroma server at {url} ({exc.__class__.__name__}: {exc}); check that it "
        "is running, then run the same command again."
    )


@app.command("index")
def index_cmd(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders of articles.", metavar="PATH...")
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files no longer exist.")
    ] = False,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Start the index over (e.g. after changing --embed-model)."),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for another `dossier index` writing the same index "
            "directory to finish (default: stop at once and say which process it is).",
            min=0,
        ),
    ] = 0.0,
    json_out: JsonOut = False,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
    embed_backend: EmbedBackend = None,
    chroma_url: ChromaUrl = None,
    max_file_mb: Annotated[
        str | None,
        typer.Option(
            "--max-file-mb",
            help="Refuse files larger than this many megabytes (e.g. 25), unread "
            f"(env {BY_NAME['max_file_mb'].env}; default 10).",
        ),
    ] = None,
) -> None:
    """Index article files (.txt .md .html .json .jsonl); only what changed is re-embedded.
    While `dossier serve` has the index open, the run is handed to it."""
    settings: dict = {"index_dir": index_dir or ".dossier"}  # for errors before resolving
    try:
        settings = resolve(
            {
                "index_dir": index_dir,
                "embed_model": embed_model,
                "embed_backend": embed_backend,
                "chroma_url": chroma_url,
                "max_file_mb": max_file_mb,
            }
        )
        from index.errors import IndexBusyError
        from index.lock import WriterLock, describe

        lock = WriterLock(settings["index_dir"], "`dossier index`")
        try:
            lock.acquire()
        except IndexBusyError as busy:
            holder = busy.holder
            own = [
                f"--{name.replace('_', '-')}"
                for name, given in (
                    ("embed_model", embed_model),
                    ("embed_backend", embed_backend),
                    ("chroma_url", chroma_url),
                )
                if given
            ]
            if holder.get("secret") and holder.get("url") and not rebuild and not own:
                report = _index_through_server(
                    holder, paths, prune, settings["max_file_mb"], json_out, settings["index_dir"]
                )
                _finish_index(report, settings, json_out)
            if holder.get("url"):
                served = f"the index {settings['index_dir']}/ is open in {describe(holder)}"
                if rebuild:
                    _fail(
                        f"{served}: stop it before --rebuild (files can be added while it "
                        "runs: drop --rebuild)."
                    )
                _fail(f"{served}, which indexes with its own settings: drop {' '.join(own)}.")
            lock.acquire(
                wait,
                on_wait=lambda holder: _note(
                    f"waiting up to {wait:g} s for {describe(holder)} to finish writing the index…"
                ),
            )
        for trash in Path(settings["index_dir"]).glob(".trash-*"):  # a killed --rebuild's
            shutil.rmtree(trash, ignore_errors=True)
        embedder = None
        if rebuild:
            from index.embeddings import make_embedder

            # A rebuilt index is a new one (auto: onnx-int8); loading fails before wiping.
            embedder = make_embedder(settings["embed_model"], settings["embed_backend"], _note)
            if settings["chroma_url"]:
                from index.remote import check_server, parse_url

                check_server(parse_url(settings["chroma_url"]))  # so does a wrong server
            _wipe(Path(settings["index_dir"]))
        with _open_index(settings, create=True, embedder=embedder) as idx:
            idx.writer_name = "`dossier index`"
            if rebuild and idx.remote:
                idx.store.drop()  # the server's collection: the chunks of every machine
            report = idx.add(
                paths,
                prune=prune,
                progress=not json_out and sys.stderr.isatty(),
                max_file_mb=settings["max_file_mb"],
            )
    except KeyboardInterrupt:
        _fail("interrupted; what was indexed is kept. Run the same command again to finish.", 130)
    except DossierError as exc:
        _fail(str(exc))
    except _server_errors() as exc:
        _fail(_server_error(settings, exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(_storage_error(settings["index_dir"], exc))
    finally:
        if "lock" in locals():
            lock.release()
    _finish_index(report, settings, json_out)


def _finish_index(report, settings: dict, json_out: bool) -> None:
    if json_out:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report, _place(settings))
    raise typer.Exit(1 if report.failed else 0)


def _index_through_server(
    holder: dict, paths: list[Path], prune: bool, max_file_mb: float, quiet: bool, index_dir: str
):
    """Hand the run to the `dossier serve` that has the index open (same machine: it read the
    secret from the lock file); it indexes while it goes on answering."""
    import httpx

    from index.indexer import IndexReport
    from index.lock import describe

    server = describe(holder)
    if not quiet:
        _note(f"the index is open in {server}: it indexes the files and answers from them after.")
    from index.lock import read_holder

    body = {"paths": [str(p.absolute()) for p in paths], "prune": prune, "max_file_mb": max_file_mb}
    deadline = time.monotonic() + 300
    while True:
        try:
            response = httpx.post(
                f"{holder['url']}/api/index",
                json=body,
                headers={"X-Dossier-Writer": holder["secret"]},  # app.api.WRITER_HEADER
                timeout=httpx.Timeout(None, connect=10.0),
                trust_env=False,  # the secret goes to this machine, never through a proxy
            )
            break
        except httpx.ConnectError as exc:
            # A server still starting (indexing the bundled corpus first) takes runs once it
            # listens; one that has gone no longer holds the lock.
            now = read_holder(Path(index_dir))
            if now is None or now.get("secret") != holder["secret"] or time.monotonic() > deadline:
                _fail(f"{server} did not take the run ({exc}); run the command again.")
            time.sleep(1.0)
        except httpx.HTTPError as exc:
            _fail(f"{server} did not take the run ({exc}); run the command again.")
        except KeyboardInterrupt:
            _fail(f"interrupted; {server} finishes the run it was given.", 130)
    if response.status_code != 200:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = None
        _fail(f"{server} could not do the run: {detail or response.text[:300]}")
    return IndexReport(**response.json())


def _storage_error(index_dir: str, exc: Exception) -> str:
    return (
        f"cannot use the index directory {index_dir}/ ({exc.__class__.__name__}: {exc}); "
        "check that it is a writable folder, or choose another with --index-dir."
    )


def _wipe(index_dir: Path) -> None:
    """Remove what dossier keeps in an index directory, and nothing else. Killed at any point,
    it leaves an index that opens: each part is first renamed into a trash folder (atomic), the
    manifest before the store (a store without its manifest is re-planned and diffed on the next
    run; a manifest without its store would skip files whose chunks are gone)."""
    import uuid

    if not (index_dir / "manifest.sqlite3").exists():
        return  # not a dossier index (or an empty one): leave whatever is there alone
    trash = index_dir / f".trash-{uuid.uuid4().hex[:8]}"
    trash.mkdir()
    names = ["manifest.sqlite3", "manifest.sqlite3-wal", "manifest.sqlite3-shm", "keyword.json"]
    names += [p.name for p in index_dir.glob("keyword-*")] + ["chroma"]
    for name in names:
        if (index_dir / name).exists():
            (index_dir / name).rename(trash / name)
    for old in index_dir.glob(".trash-*"):  # this one, and any a killed --rebuild left
        shutil.rmtree(old, ignore_errors=True)


def _print_report(report, place: str) -> None:
    from rich.markup import escape

    err = _console(stderr=True)
    for failure in report.failed:
        err.print(f"[red]failed:[/] {escape(failure['path'])}: {escape(failure['error'])}")
    for note in report.notes:
        err.print(f"[yellow]note:[/] {escape(note['path'])}: {escape(note['note'])}")
    if report.missing:
        err.print(
            f"[yellow]note:[/] {len(report.missing)} indexed file(s) no longer exist "
            f"(e.g. {escape(report.missing[0])}); run with --prune to remove them."
        )
    _console().print(
        f"Indexed {report.indexed} file(s) ({report.embedded} chunk(s) embedded), "
        f"{report.unchanged} unchanged, {report.removed} document(s) removed, "
        f"{len(report.failed)} failed. The index {escape(place)} holds "
        f"{report.documents} document(s), {report.chunks} chunk(s)."
    )


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help="What to look for, in French or English.", metavar="QUERY")
    ],
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, help="Passages to return (env DOSSIER_TOP_K; default 5)."),
    ] = None,
    after: After = None,
    before: Before = None,
    source: Source = None,
    json_out: JsonOut = False,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
    embed_backend: EmbedBackend = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Search the index: the passages that best match QUERY, best first."""
    settings: dict = {"index_dir": index_dir or ".dossier"}  # for errors before resolving
    try:
        settings = resolve(
            {
                "index_dir": index_dir,
                "embed_model": embed_model,
                "embed_backend": embed_backend,
                "chroma_url": chroma_url,
                "top_k": k,
            }
        )
        parse_bound(after, "after"), parse_bound(before, "before")
        empty = "No passage is relevant enough to this question."
        with _open_index(settings, create=False) as idx:
            if idx.count_chunks() == 0:
                _fail(
                    f"The index {_place(settings)} holds no passages yet: "
                    "add articles with `dossier index corpus/`."
                )
            passages = idx.search(
                query, settings["top_k"], after=after, before=before, source=source
            )
            if (
                not passages
                and idx.documents_matching(after=after, before=before, source=source) == set()
            ):
                empty = "No article matches --after/--before/--source."
    except DossierError as exc:
        _fail(str(exc))
    except _server_errors() as exc:
        _fail(_server_error(settings, exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(_storage_error(settings["index_dir"], exc))
    if json_out:
        print(
            json.dumps(
                {"query": query, "passages": [p.to_dict() for p in passages]}, ensure_ascii=False
            )
        )
        return
    _print_passages(passages, empty)


def _print_passages(passages, empty: str) -> None:
    from rich.markup import escape

    out = _console()
    if not passages:
        out.print(empty)
        return
    for p in passages:
        out.print(
            f"[bold][{p.rank}][/] {p.score:.3f}  {escape(p.date or 'undated')}  "
            f"[cyan]{escape(p.path)}[/] chars {p.start}–{p.end}"
        )
        out.print(f"    [bold]{escape(p.title)}[/]")
        paragraphs = (" ".join(part.split()) for part in p.text.split("\n\n"))
        out.print("    " + "\n    ".join(escape(part) for part in paragraphs if part), end="\n\n")


Llm = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="auto (the OpenAI-compatible server when --openai-base-url is set and answers, "
        "else Ollama when it answers and has a model, else the GGUF file --model names, else "
        "extractive), ollama, openai, llamacpp (a GGUF file run in this process), or "
        "extractive (no LLM: quotes the best sentences). Env DOSSIER_LLM.",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="LLM model, e.g. llama3.2:3b, or one the OpenAI-compatible server lists; for "
        "--llm llamacpp the path of a .gguf file (env DOSSIER_MODEL).",
    ),
]
MaxTokens = Annotated[
    int | None,
    typer.Option(
        "--max-tokens",
        min=1,
        help="Longest answer the LLM may write, in tokens (env DOSSIER_MAX_TOKENS; default 512).",
    ),
]
Strict = Annotated[
    bool | None,
    typer.Option(
        "--strict/--no-strict",
        help="Keep only the LLM's supported claims (the default), or keep its unsupported "
        "sentences too, flagged (--no-strict; env DOSSIER_STRICT).",
        show_default=False,
    ),
]
OpenAIBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--openai-base-url",
        help="An OpenAI-compatible server (vLLM, llama.cpp, LM Studio), e.g. "
        "http://gpu-box:8000/v1; key from DOSSIER_OPENAI_API_KEY or OPENAI_API_KEY "
        "(env DOSSIER_OPENAI_BASE_URL).",
    ),
]


def _assistant(settings: dict, idx):
    from .assistant import Assistant

    return Assistant(
        idx,
        llm=settings["llm"],
        model=settings["model"],
        ollama_host=settings["ollama_host"],
        context_window=settings["context_window"],
        timeout=settings["llm_timeout"],
        k=settings["top_k"],
        openai_base_url=settings["openai_base_url"],
        max_tokens=settings["max_tokens"],
        threads=settings["llm_threads"],
        strict=settings["strict"],
    )


@app.command()
def ask(
    question: Annotated[
        str, typer.Argument(help="A question, in French or English.", metavar="QUESTION")
    ],
    llm: Llm = None,
    model: Model = None,
    max_tokens: MaxTokens = None,
    strict: Strict = None,
    openai_base_url: OpenAIBaseUrl = None,
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, help="Passages to answer from (env DOSSIER_TOP_K; default 5)."),
    ] = None,
    after: After = None,
    before: Before = None,
    source: Source = None,
    json_out: JsonOut = False,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
    embed_backend: EmbedBackend = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Answer QUESTION from the indexed articles, citing the passages each claim rests on."""
    from .llm import LLMError

    settings: dict = {"index_dir": index_dir or ".dossier"}
    out, err = _console(), _console(stderr=True)
    answer = None
    try:
        settings = resolve(
            {
                "index_dir": index_dir,
                "embed_model": embed_model,
                "embed_backend": embed_backend,
                "chroma_url": chroma_url,
                "top_k": k,
                "llm": llm,
                "model": model,
                "max_tokens": max_tokens,
                "strict": strict,
                "openai_base_url": openai_base_url,
            }
        )
        parse_bound(after, "after"), parse_bound(before, "before")
        with _open_index(settings, create=False) as idx:
            if idx.count_chunks() == 0:
                _fail(
                    f"The index {_place(settings)} holds no passages yet: "
                    "add articles with `dossier index corpus/`."
                )
            assistant = _assistant(settings, idx)
            try:
                choice = assistant.choice()
            except LLMError as exc:
                _fail(str(exc))
            # LLM text is printed as it streams; an extractive answer (or one that replaces a
            # broken stream) is printed whole at the end, labelled.
            streaming = not json_out and choice.backend is not None
            streamed = False
            for event in assistant.stream(question, after=after, before=before, source=source):
                if event.kind == "status" and not json_out:
                    err.print(f"[dim]{_escape(event.text)}[/]")
                elif event.kind == "delta" and streaming:
                    out.print(_escape(event.text), end="")
                    streamed = True
                elif event.kind == "reset" and streaming:
                    out.print()
                    err.print("[yellow]the answer above is set aside (why: next line):[/]")
                    streaming = streamed = False
                elif event.kind == "answer":
                    answer = event.answer
    except KeyboardInterrupt:
        _fail("interrupted.", 130)
    except LLMError as exc:
        if json_out:  # a consumer of --json gets an object either way
            print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False))
        else:
            out.print()
        _fail(str(exc), 1)
    except DossierError as exc:
        _fail(str(exc))
    except _server_errors() as exc:
        _fail(_server_error(settings, exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(_storage_error(settings["index_dir"], exc))
    assert answer is not None
    if json_out:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    _print_answer(answer, printed=streamed)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _print_answer(answer, printed: bool) -> None:
    out = _console()
    if not printed:
        if answer.fallback == "unsupported" or answer.mode != "extractive":
            label = f"[bold]({_escape(answer.notice)})[/]\n" if answer.notice else ""
        else:
            label = "[bold](extractive: sentences quoted from the articles, no LLM)[/]\n"
        if answer.quotes_language and answer.answerable:
            from .assistant import LANGUAGE_NOTE

            label += f"[dim]{LANGUAGE_NOTE[answer.quotes_language]}[/]\n"
        out.print((label if answer.answerable else "") + _escape(answer.answer))
    else:
        out.print()
    for claim in answer.claims:
        if claim.supported is False:
            cited = ", ".join(str(n) for n in claim.cited)
            out.print(
                f"[yellow]unsupported:[/] {_escape(claim.text)} (passage {cited} does not say this)"
            )
    if answer.citations:
        out.print()
    for c in answer.citations:
        p = c.passage
        mark = "" if c.supported else " [yellow](does not support the claim citing it)[/]"
        out.print(
            f"[bold][{c.n}][/] {_escape(p.date or 'undated')}  [cyan]{_escape(p.path)}[/]{mark}"
        )
        for a, b in c.spans or ((c.sentence_start, c.sentence_end),):
            out.print(f"    [italic]{_escape(' '.join(p.text[a:b].split()))}[/]")
    t = answer.timings_ms
    _console(stderr=True).print(
        f"[dim]{answer.mode}{' ' + answer.model if answer.model else ''} · retrieve "
        f"{t['retrieve']} ms · generate {t['generate']} ms · total {t['total']} ms[/]"
    )


@app.command("eval")
def eval_cmd(
    qaset: Annotated[Path, typer.Argument(help="A Q&A set (JSONL).", metavar="QASET.jsonl")],
    llm: Llm = None,
    model: Model = None,
    max_tokens: MaxTokens = None,
    strict: Strict = None,
    openai_base_url: OpenAIBaseUrl = None,
    k: Annotated[
        int | None,
        typer.Option("--k", min=1, help="Passages per answer (env DOSSIER_TOP_K; default 5)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for summary.json, results.jsonl, report.md and plots."),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Evaluate the valid lines of a flawed set.")
    ] = False,
    judge: Annotated[
        str | None,
        typer.Option(
            "--judge",
            help="Also grade faithfulness and correctness with an LLM: 'ollama' or 'openai' "
            "(the model chosen as for answers: --model/DOSSIER_MODEL, else the preference "
            "list, or the OpenAI-compatible server's first model).",
        ),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Sweep a setting: k=3,5,8 (also llm, model, dense_weight, min_similarity); "
            "twice for a grid.",
        ),
    ] = None,
    json_out: JsonOut = False,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
    embed_backend: EmbedBackend = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Run a Q&A set through dossier and score retrieval, answers, citations and declining."""
    from eval.sweep import grid

    try:
        combos = grid(sweep) if sweep else None
    except DossierError as exc:
        _fail(str(exc))
    if judge not in (None, "ollama", "openai"):
        _fail(f"--judge: unknown judge {judge!r}; use --judge ollama or --judge openai.")
    if judge and combos:
        _fail("--judge and --set together would grade every run of the sweep: run them apart.")
    if out is not None and out.exists() and not out.is_dir():
        _fail(f"--out {out}: a file is there; give a folder (it is created if missing).")
    if out is not None and out.is_dir() and any(out.iterdir()):
        _console(stderr=True).print(
            f"[yellow]note:[/] {_escape(str(out))}/ is not empty: the run's files replace "
            "those of the same name; other files stay."
        )
    from eval.qaset import load_qaset, unknown_sources

    from .llm import LLMError

    settings: dict = {"index_dir": index_dir or ".dossier"}
    err = _console(stderr=True)
    try:
        settings = resolve(
            {
                "index_dir": index_dir,
                "embed_model": embed_model,
                "embed_backend": embed_backend,
                "chroma_url": chroma_url,
                "top_k": k,
                "llm": llm,
                "model": model,
                "max_tokens": max_tokens,
                "strict": strict,
                "openai_base_url": openai_base_url,
            }
        )
        items, problems = load_qaset(qaset, skip_invalid=skip_invalid)
        with _open_index(settings, create=False) as idx:
            if idx.count_chunks() == 0:
                _fail(
                    f"The index {_place(settings)} holds no passages yet: "
                    "add articles with `dossier index corpus/`."
                )
            missing = unknown_sources(items, idx.document_names())
            if missing and not skip_invalid:
                _fail(
                    f"{qaset}: {len(missing)} question(s) name sources not in the index:\n"
                    + "\n".join(missing[:20])
                    + "\nIndex them, fix the names, or run with --skip-invalid."
                )
            if missing:
                bad = {int(m.split()[1]) for m in missing}
                items = [i for i in items if i.line not in bad]
                problems += missing
            if not items:
                _fail(f"{qaset}: no valid question left to evaluate:\n" + "\n".join(problems[:20]))
            judge_backend = _judge_backend(settings, judge) if judge else None
            for problem in problems:
                err.print(f"[yellow]skipped:[/] {_escape(problem)}")
            if combos:
                _sweep(settings, idx, items, str(qaset), combos, out, json_out)
                return
            result = _run_eval(settings, idx, items, str(qaset), json_out)
            judge_failed = judge_backend is not None and not _judge(
                judge_backend, items, result, json_out
            )
    except KeyboardInterrupt:
        _fail("interrupted; nothing was written.", 130)
    except LLMError as exc:
        _fail(str(exc), 1)
    except DossierError as exc:
        _fail(str(exc))
    except _server_errors() as exc:
        _fail(_server_error(settings, exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(_storage_error(settings["index_dir"], exc))
    summary, results = result.summary, result.results
    summary["skipped"] = len(problems)
    if out is not None:
        from eval.interop import write_ragas, write_trec
        from eval.report import write_run

        try:
            written = write_run(out, summary, results)
            written += write_trec(out, items, results)
            written.append(write_ragas(out, items, results, k=summary["settings"]["k"]))
        except OSError as exc:
            _fail(f"--out {out}: cannot write the run there ({exc}); choose another folder.", 1)
        err.print(f"wrote {', '.join(str(p) for p in written)}")
    if json_out:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        from eval.report import console_table

        _console().print(console_table(summary))
    if judge_failed:
        _fail(f"the LLM judge failed: {summary['judge']['error']}", 1)


def _sweep(settings: dict, idx, items, qaset: str, combos, out, quiet: bool) -> None:
    from rich.table import Table
    from tqdm import tqdm

    from eval.sweep import run_sweep, table, write_sweep

    assistant = _assistant(settings, idx)
    bar = tqdm(
        total=len(items) * len(combos), unit="question", desc="sweeping", disable=quiet, leave=False
    )
    try:
        runs = run_sweep(items, assistant, combos, qaset=qaset, on_result=lambda _: bar.update())
    finally:
        bar.close()
    if out is not None:
        written = write_sweep(out, runs)
        _console(stderr=True).print(f"wrote {len(written)} files under {_escape(str(out))}/")
    if quiet:
        print(
            json.dumps([{"setting": s, "summary": r.summary} for s, r in runs], ensure_ascii=False)
        )
        return
    header, body = table(runs)
    shown = Table(title=f"{qaset}: sweep over {', '.join(combos[0])}")
    for name in header:
        shown.add_column(name, justify="right")
    for row in body:
        shown.add_row(*row)
    _console().print(shown)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="A run folder (dossier eval --out).")],
    run_b: Annotated[Path, typer.Argument(help="Another run folder.")],
    json_out: JsonOut = False,
) -> None:
    """Compare two evaluation runs: each figure, and the questions that got better or worse."""
    from rich.table import Table

    from eval.compare import compare as diff
    from eval.compare import load_run
    from eval.report import fmt

    try:
        result = diff(load_run(run_a), load_run(run_b))
    except DossierError as exc:
        _fail(str(exc))
    if json_out:
        print(json.dumps(result, ensure_ascii=False))
        return
    out = _console()
    shown = Table(title=f"{_escape(str(run_a))} → {_escape(str(run_b))}")
    for name in ("group", "metric", "A", "B", "change"):
        shown.add_column(name, justify="right" if name in ("A", "B", "change") else "left")
    for f in result["figures"]:
        delta = f["delta"]
        lower_is_better = f["group"] == "latency_ms" or f["metric"] in (
            "wrongly_declined",
            "parse_failures",
            "errors",
        )
        good = delta is not None and (delta < 0 if lower_is_better else delta > 0)
        shown_delta = f"{delta:+.0f}" if f["group"] == "latency_ms" else f"{delta or 0:+.3f}"
        change = "" if not delta else f"[{'green' if good else 'red'}]{shown_delta}[/]"
        shown.add_row(f["group"], f["metric"], fmt(f["a"]), fmt(f["b"]), change)
    out.print(shown)
    for kind, colour in (("better", "green"), ("worse", "red"), ("different", "yellow")):
        for c in result[kind]:
            out.print(
                f"[{colour}]{kind}:[/] {_escape(c['id'])} {_escape(c['a'])} → {_escape(c['b'])}: "
                f"{_escape(c['question'])}"
            )
    if not (result["better"] or result["worse"] or result["different"]):
        out.print("No question changed outcome.")
    if result["only_in_one"]:
        out.print(f"In one run only: {_escape(', '.join(result['only_in_one']))}")
    if result["a"] != result["b"]:
        _console(stderr=True).print(
            f"[yellow]note:[/] the runs are of different sets ({_escape(str(result['a']))}, "
            f"{_escape(str(result['b']))}): questions are paired by id."
        )


def _judge_backend(settings: dict, judge: str = "ollama"):
    """The model that will judge (`judge`: "ollama" or "openai"), checked before any question
    is asked (ConfigError)."""
    from .llm import LLMError, choose_backend

    try:
        return choose_backend(
            judge,
            host=settings["ollama_host"],
            model=settings["model"],
            context_window=settings["context_window"],
            timeout=settings["llm_timeout"],
            openai_base_url=settings["openai_base_url"],
        ).backend
    except LLMError as exc:
        raise ConfigError(f"--judge {judge}: {exc}") from None


def _judge(backend, items, result, quiet: bool) -> bool:
    """Grade the run's answers; adds `judge` to the summary and results. False when the judge
    failed altogether (the run is still reported and written)."""
    from tqdm import tqdm

    from eval.judge import judge_run

    from .llm import LLMError

    bar = tqdm(total=len(items), unit="question", desc="judging", disable=quiet, leave=False)
    try:
        judgments, summary = judge_run(
            backend, items, result.results, on_result=lambda _: bar.update()
        )
    except LLMError as exc:
        result.summary["judge"] = {"judge_model": backend.model, "error": str(exc)}
        return False
    finally:
        bar.close()
    for row, judgment in zip(result.results, judgments, strict=True):
        row["judge"] = judgment
    result.summary["judge"] = summary
    return True


def _run_eval(settings: dict, idx, items, qaset: str, quiet: bool):
    from tqdm import tqdm

    from eval.runner import evaluate

    assistant = _assistant(settings, idx)
    bar = tqdm(total=len(items), unit="question", desc="evaluating", disable=quiet, leave=False)
    try:
        return evaluate(items, assistant, qaset=qaset, on_result=lambda _: bar.update())
    finally:
        bar.close()


BUNDLED_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _check_port(host: str, port: int) -> None:
    """ConfigError, before anything is loaded, when the address cannot be listened on."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): another program may be "
            "using the port; choose another with --port or DOSSIER_PORT."
        ) from None


def exposure_warnings(host: str, api_token: str | None, password: str | None) -> list[str]:
    """What `dossier serve` leaves open to other machines when told to listen beyond this one."""
    import ipaddress

    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        local = False
    if local:
        return []
    warnings = []
    if not api_token:
        warnings.append(
            f"the JSON API on {host} answers anyone who reaches the port: set DOSSIER_API_TOKEN."
        )
    if not password:
        warnings.append(
            f"the chat page on {host} (and its uploads) is open to anyone who reaches the port: "
            "set DOSSIER_PASSWORD."
        )
    return warnings


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it lies under it (as users type it)."""
    try:
        return path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (env DOSSIER_HOST; default 127.0.0.1)."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (env DOSSIER_PORT; default 7860).")] = None,
    llm: Llm = None,
    model: Model = None,
    max_tokens: MaxTokens = None,
    strict: Strict = None,
    openai_base_url: OpenAIBaseUrl = None,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
    embed_backend: EmbedBackend = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Open the chat page and the JSON API (indexing the bundled corpus first when the index is
    empty). DOSSIER_API_TOKEN guards /api/, DOSSIER_PASSWORD the page."""
    settings: dict = {"index_dir": index_dir or ".dossier"}
    err = _console(stderr=True)
    try:
        settings = resolve(
            {
                "index_dir": index_dir,
                "embed_model": embed_model,
                "embed_backend": embed_backend,
                "chroma_url": chroma_url,
                "llm": llm,
                "model": model,
                "max_tokens": max_tokens,
                "strict": strict,
                "openai_base_url": openai_base_url,
                "host": host,
                "port": port,
            }
        )
        _check_port(settings["host"], settings["port"])
        for warning in exposure_warnings(
            settings["host"], settings["api_token"], settings["password"]
        ):
            err.print(f"[yellow]warning:[/] {_escape(warning)}")
        from .ui import launch

        # The writer lock before the store is opened: Chroma wants one process per directory.
        lock, writer_secret = _lock_for_serving(settings)
        idx = _open_index(settings, create=True)
        if lock is not None:
            idx.writer_name = "`dossier serve`"
            idx.hold_writer()  # the same process's lock, now held until the index closes
            lock.release()
        if idx.count_chunks() == 0 and BUNDLED_CORPUS.is_dir():
            corpus = _shown(BUNDLED_CORPUS)
            err.print(f"The index is empty: indexing the bundled corpus {corpus}/ first.")
            idx.add([corpus], progress=sys.stderr.isatty())
        assistant = _assistant(settings, idx)
        launch(
            assistant,
            host=settings["host"],
            port=settings["port"],
            console=err,
            api_token=settings["api_token"],
            password=settings["password"],
            writer_secret=writer_secret,
            max_file_mb=settings["max_file_mb"],
        )
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except DossierError as exc:
        _fail(str(exc))
    except _server_errors() as exc:
        _fail(_server_error(settings, exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(_storage_error(settings["index_dir"], exc))


def _lock_for_serving(settings: dict):
    """An embedded index stays open in the server for its lifetime, as its one writer (Chroma
    asks for one process per directory): a `dossier index` meanwhile hands its run to the
    server with the secret written in the lock file. On a Chroma server, processes share the
    store, and each run takes the lock only while it writes. Returns (lock, secret)."""
    if settings.get("chroma_url"):
        return None, None
    import secrets

    from index.lock import WriterLock, describe, read_holder

    index_dir = Path(settings["index_dir"])
    holder = read_holder(index_dir)
    if holder is not None and holder.get("url"):
        raise ConfigError(
            f"the index {index_dir}/ is already served by {describe(holder)}: open "
            "that page, or serve another --index-dir (several servers share one index through "
            "a Chroma server: --chroma-url)."
        )
    host, port = settings["host"], settings["port"]
    about = {}
    if port:  # with --port 0 the port is only known once listening: no hand-over then
        local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        url = f"http://{'[' + local + ']' if ':' in local else local}:{port}"
        about = {"url": url, "secret": secrets.token_urlsafe(32)}
    lock = WriterLock(index_dir, "`dossier serve`", **about)
    lock.acquire(
        wait=float("inf"),
        on_wait=lambda holder: _note(
            f"waiting for {describe(holder)} to finish writing the index…"
        ),
    )
    return lock, about.get("secret")


def _sizes(text: str, option: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.replace("_", "").split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        _fail(f"{option}: expected chunk counts separated by commas, e.g. 10000,100000.")
    return sizes


@app.command()
def bench(
    json_out: JsonOut = False,
    tiny: Annotated[
        bool, typer.Option("--tiny", help="A seconds-long run on tiny data: proves it works.")
    ] = False,
    chunks: Annotated[int | None, typer.Option(help="Chunks in the ingest corpus.")] = None,
    sizes: Annotated[
        str | None, typer.Option(help="Index sizes for search latency, e.g. 10000,100000.")
    ] = None,
    memory: Annotated[
        str | None, typer.Option(help="Two index sizes for peak memory, e.g. 20000,100000.")
    ] = None,
    reps: Annotated[int | None, typer.Option(help="Repetitions of each comparison.")] = None,
    llamaindex: Annotated[
        bool, typer.Option(help="Also time llama-index's pipeline on the ingest corpus.")
    ] = True,
    plot: Annotated[
        Path | None, typer.Option(help="Write a plot of search latency against index size.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON to this file.")] = None,
    only: Annotated[
        str | None,
        typer.Option(
            help="Only these sections, e.g. search,memory (of ingest, backend, "
            "memory, search, startup, answer)."
        ),
    ] = None,
) -> None:
    """Measure indexing, embedding, search, memory, start-up and answers on this machine,
    each beside its floor (about 25 minutes; --tiny for a quick check)."""
    from dataclasses import replace

    from eval.bench import SECTIONS, TINY, Plan, run, table

    sections = SECTIONS
    if only is not None:
        sections = tuple(part.strip() for part in only.split(",") if part.strip())
        unknown = [part for part in sections if part not in SECTIONS]
        if unknown or not sections:
            _fail(
                f"--only: unknown section {(unknown or [only])[0]!r}; sections: "
                f"{', '.join(SECTIONS)}."
            )

    plan = TINY if tiny else Plan()
    changes: dict = {"llamaindex": llamaindex}
    if chunks is not None:
        changes["chunks"] = max(4, chunks)
    if sizes is not None:
        changes["sizes"] = _sizes(sizes, "--sizes")
    if memory is not None:
        pair = _sizes(memory, "--memory")
        if len(pair) != 2:
            _fail("--memory: expected two chunk counts, e.g. 20000,100000.")
        changes["memory"] = pair
    if reps is not None:
        changes["reps"] = max(1, reps)
    plan = replace(plan, **changes)
    err = _console(stderr=True)
    say = None if json_out and not sys.stderr.isatty() else (lambda m: err.print(f"[dim]{m}[/]"))
    try:
        result = run(plan, progress=say, plot=plot, only=sections)
    except DossierError as exc:
        _fail(str(exc))
    text = json.dumps(result, indent=None if json_out else 2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if json_out:
        print(text)
        return
    from rich.table import Table

    machine = result["machine"]
    grid = Table(
        title=f"{machine['cores']} cores, {machine['cpu']}; torch {machine['torch']}, "
        f"onnxruntime {machine['onnxruntime']}, chromadb {machine['chromadb']}"
    )
    for column in ("measured", "dossier", "beside it", "ratio"):
        grid.add_column(column)
    for row in table(result):
        grid.add_row(*row)
    _console().print(grid)
    aims = Table(title="targets")
    for column in ("figure", "value", "target", ""):
        aims.add_column(column)
    for name, aim in result.get("targets", {}).items():
        verdict = {True: "met", False: "[bold]missed[/]", None: "not measured"}[aim["met"]]
        aims.add_row(name, str(aim["value"]), aim["target"], verdict)
    _console().print(aims)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
