"""The `dossier` command line. Heavy libraries are imported inside commands, so that
`dossier --help` answers at once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

from index.dates import parse_bound
from index.errors import DossierError

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
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _console(stderr: bool = False):
    from rich.console import Console

    # No emoji codes: ":warning:" in an article must print as written.
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=not stderr)


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _open_index(settings: dict, create: bool, embedder=None):
    from index.core import Index

    return Index(
        settings["index_dir"],
        embed_model=settings["embed_model"],
        embedder=embedder,
        create=create,
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
    json_out: JsonOut = False,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
) -> None:
    """Index article files (.txt .md .html .json .jsonl); only what changed is re-embedded."""
    settings: dict = {"index_dir": index_dir or ".dossier"}  # for errors before resolving
    try:
        settings = resolve({"index_dir": index_dir, "embed_model": embed_model})
        embedder = None
        if rebuild:
            from index.embeddings import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(settings["embed_model"])  # fails before wiping
            _wipe(Path(settings["index_dir"]))
        with _open_index(settings, create=True, embedder=embedder) as idx:
            report = idx.add(paths, prune=prune, progress=not json_out and sys.stderr.isatty())
    except KeyboardInterrupt:
        _fail("interrupted; what was indexed is kept. Run the same command again to finish.", 130)
    except DossierError as exc:
        _fail(str(exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(_storage_error(settings["index_dir"], exc))
    if json_out:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report, settings["index_dir"])
    raise typer.Exit(1 if report.failed else 0)


def _storage_error(index_dir: str, exc: Exception) -> str:
    return (
        f"cannot use the index directory {index_dir}/ ({exc.__class__.__name__}: {exc}); "
        "check that it is a writable folder, or choose another with --index-dir."
    )


def _wipe(index_dir: Path) -> None:
    """Remove what dossier keeps in an index directory, and nothing else."""
    if not (index_dir / "manifest.sqlite3").exists():
        return  # not a dossier index (or an empty one): leave whatever is there alone
    for name in (
        "chroma",
        "manifest.sqlite3",
        "manifest.sqlite3-wal",
        "manifest.sqlite3-shm",
        "keyword.json",
    ):
        target = index_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for folder in index_dir.glob("keyword-*"):
        shutil.rmtree(folder)


def _print_report(report, index_dir: str) -> None:
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
        f"{len(report.failed)} failed. The index in {escape(index_dir)}/ holds "
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
    after: Annotated[
        str | None, typer.Option(help="Only articles dated on or after YYYY-MM-DD.")
    ] = None,
    before: Annotated[
        str | None, typer.Option(help="Only articles dated on or before YYYY-MM-DD.")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only articles whose source or path contains this text.")
    ] = None,
    json_out: JsonOut = False,
    index_dir: IndexDir = None,
    embed_model: EmbedModel = None,
) -> None:
    """Search the index: the passages that best match QUERY, best first."""
    settings: dict = {"index_dir": index_dir or ".dossier"}  # for errors before resolving
    try:
        settings = resolve({"index_dir": index_dir, "embed_model": embed_model, "top_k": k})
        parse_bound(after, "after"), parse_bound(before, "before")
        empty = "No passage is relevant enough to this question."
        with _open_index(settings, create=False) as idx:
            if idx.count_chunks() == 0:
                _fail(
                    f"The index in {settings['index_dir']}/ holds no passages yet: "
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
