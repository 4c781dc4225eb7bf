"""The chat page (Gradio): streamed answers, the sources panel, settings and uploads.

Everything taken from an article or typed by a user is escaped before it is shown: the sources
panel is HTML built here with `html.escape`, and the chat shows Markdown in which every
character Markdown or HTML would read is escaped. The server binds 127.0.0.1 unless told
otherwise, with Gradio's analytics off; the theme uses local fonts only.
"""

from __future__ import annotations

import hmac
import html
import os
import re
import threading
import time
from pathlib import Path

from index.errors import DossierError
from index.loaders import DEFAULT_MAX_FILE_MB

from . import feedback, uploads
from .assistant import LANGUAGE_NOTE, Answer, Assistant
from .llm import LLMError

EXAMPLES = [
    "Why was the agent arrested?",
    "Pourquoi l'agent a-t-il été arrêté ?",
    "And what did France do in response?",
    "Who won the 2022 World Cup?",
]
EXTRACTIVE = "extractive (no LLM)"
FEEDBACK_FILE = "feedback.jsonl"  # in the index directory
AUTO = "auto"
SERVERS = {"ollama": "Ollama", "openai": "OpenAI-compatible server"}  # by Answer.mode
# ":" and "/" too: the renderer turns "http://…" into a link before it drops backslashes.
# "$" (LaTeX) and "=" (setext headings) too.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&:/$=])")

CSS = """
.dossier-sources .src { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 10px; margin-bottom: 8px; }
.dossier-sources .src.uncited { opacity: 0.65; }
.dossier-sources .src-head { font-size: 0.9em; margin-bottom: 4px; }
.dossier-sources .src-text { white-space: pre-wrap; font-size: 0.92em; margin: 0; }
.dossier-sources mark { background: #fde68a; color: #111; padding: 0 2px; }
.dossier-sources .flag-bad { color: #b45309; font-weight: 600; }
.dossier-sources .flag-ok { color: #15803d; }
"""


def md_escape(text: str) -> str:
    """`text` shown literally by a Markdown renderer that also accepts HTML."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def notice_markdown(text: str) -> str:
    """dossier's own messages: escaped, but `commands` in backticks shown as code."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd backtick: show it all as text
        return md_escape(text)
    return "".join(md_escape(part) if i % 2 == 0 else code(part) for i, part in enumerate(parts))


def code(text: str) -> str:
    """`text` (a model name, a command) as inline code, or escaped text when it holds what
    would end the code span (a backtick, a line break) and let the rest be read as Markdown."""
    if "`" in text or "\n" in text or "\r" in text or not text.strip():
        return md_escape(" ".join(text.split()))
    return f"`{text}`"


def _gap(text: str) -> str:
    """What lies between two sentences of an answer: its paragraph breaks kept."""
    return "\n\n" if "\n" in text else (" " if text else "")


def answer_markdown(answer: Answer) -> str:
    """The final answer for the chat: escaped, unsupported sentences flagged, mode labelled."""
    parts: list[str] = []
    if answer.fallback == "unsupported" and answer.notice:  # the model's answer set aside
        parts.append(f"*{notice_markdown(answer.notice)}.*\n\n")
    elif answer.mode == "extractive" and answer.answerable:
        parts.append("*Extractive answer: sentences quoted from the articles (no LLM).*\n\n")
    if answer.quotes_language and answer.answerable:
        parts.append(f"*{LANGUAGE_NOTE[answer.quotes_language]}*\n\n")
    if answer.claims:
        at = 0
        for claim in answer.claims:
            parts.append(_gap(answer.answer[at : claim.start]))
            parts.append(md_escape(claim.text))
            if claim.supported is False:
                if claim.cited:
                    cited = ", ".join(str(n) for n in claim.cited)
                    parts.append(f" ⚠️ *not supported by passage {cited}*")
                else:
                    parts.append(" ⚠️ *cites no passage*")
            at = claim.end
        parts.append(_gap(answer.answer[at:]))
    else:
        parts.append(md_escape(answer.answer))
    # the LLM failed mid-answer, or --strict left sentences out
    if (
        answer.notice
        and answer.fallback != "unsupported"
        and (answer.draft or "for this answer" in answer.notice)
    ):
        parts.append(f"\n\n*{notice_markdown(answer.notice)}*")
    if not answer.answerable and answer.reason:
        parts.append(f"\n\n*({notice_markdown(answer.reason)})*")
    return "".join(parts).strip()


def sources_html(answer: Answer | None, passages=()) -> str:
    """The passages an answer was given; cited ones first, the cited sentence highlighted."""
    passages = list(answer.passages if answer else passages)
    if not passages:
        return '<div class="dossier-sources"><p>No passages yet.</p></div>'
    cited = {c.n: c for c in answer.citations} if answer else {}
    order = sorted(range(1, len(passages) + 1), key=lambda n: (n not in cited, n))
    blocks = []
    for n in order:
        p = passages[n - 1]
        c = cited.get(n)
        text = p.text
        if c:
            body, at = "", 0
            for a, b in _merged(c.spans or ((c.sentence_start, c.sentence_end),)):
                body += html.escape(text[at:a])
                body += f'<mark data-n="{n}">{html.escape(text[a:b])}</mark>'
                at = b
            body += html.escape(text[at:])
            flag = (
                '<span class="flag-ok">cited: supports the answer</span>'
                if c.supported
                else '<span class="flag-bad">⚠ cited, but does not support the sentence '
                "citing it</span>"
            )
        else:
            body, flag = html.escape(text), "<span>not cited</span>"
        title = html.escape(p.title or text[:80])
        blocks.append(
            f'<div class="src{"" if c else " uncited"}" id="source-{n}">'
            f'<div class="src-head"><b>[{n}]</b> {title} · {html.escape(p.date or "undated")} · '
            f"<code>{html.escape(p.path)}</code> · {flag}</div>"
            f'<p class="src-text">{body}</p></div>'
        )
    return '<div class="dossier-sources">' + "".join(blocks) + "</div>"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _merged(spans) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def status_markdown(
    assistant: Assistant, choice=None, extra: str = "", answer: Answer | None = None
) -> str:
    """The status line: the mode (of `answer` if given, else of the settings), the index."""
    idx = assistant.index
    try:
        if answer is not None:
            mode = (
                f"**Mode:** {SERVERS.get(answer.mode, answer.mode)} · "
                f"model {code(str(answer.model))}"
                if answer.mode != "extractive"
                else f"**Mode:** {notice_markdown(answer.notice or 'extractive (no LLM)')}"
            )
        else:
            choice = choice or assistant.choice()
            mode = (
                f"**Mode:** {SERVERS.get(choice.mode, choice.mode)} · "
                f"model {code(str(choice.model))}"
                if choice.backend
                else f"**Mode:** {notice_markdown(choice.reason)}"
            )
    except LLMError as exc:
        mode = f"**Mode:** unavailable — {notice_markdown(str(exc))}"
    line = (
        f"{mode} · **Index:** {_count(idx.count_documents(), 'article')}, "
        f"{_count(idx.count_chunks(), 'passage')}"
    )
    return line + (f"\n\n{extra}" if extra else "")


def _llm_and_model(choice_value: str | None) -> tuple[str | None, str | None]:
    """The model dropdown's value as (LLM mode override, model)."""
    if not choice_value or choice_value == AUTO:
        return None, None
    if choice_value == EXTRACTIVE:
        return "extractive", None
    return None, choice_value  # that model, falling back (in auto mode) if it fails


def build(assistant: Assistant, max_file_mb: float = DEFAULT_MAX_FILE_MB):
    """The Gradio Blocks of the chat page, bound to `assistant`; uploads over `max_file_mb`
    (the indexing limit, `DOSSIER_MAX_FILE_MB`) or over 20 MB are refused before copying."""
    import gradio as gr

    from .api import MAX_K

    def model_choices() -> list[str]:
        try:
            models = list(assistant.choice().models)
        except LLMError:
            models = []
        return [AUTO, *models, EXTRACTIVE]

    def respond(message, chat, history, k, model_value, after, before, kept):
        message = (message or "").strip()
        chat = list(chat or [])
        history = list(history or [])
        if not message:
            yield chat, gr.skip(), gr.skip(), history, "", gr.skip()
            return
        chat = [*chat, {"role": "user", "content": md_escape(message)}]
        chat.append({"role": "assistant", "content": "…"})
        yield chat, gr.skip(), "Searching the articles…", history, "", gr.skip()
        llm, model = _llm_and_model(model_value)
        text, status, answer = "", "", None
        try:
            for event in assistant.stream(
                message,
                history,
                k=int(k),
                after=(after or "").strip() or None,
                before=(before or "").strip() or None,
                model=model,
                llm=llm,
            ):
                if event.kind == "status":
                    status = event.text
                    yield chat, gr.skip(), notice_markdown(status), history, "", gr.skip()
                elif event.kind == "passages":
                    yield (
                        chat,
                        sources_html(None, event.passages),
                        gr.skip(),
                        history,
                        "",
                        gr.skip(),
                    )
                elif event.kind == "reset":
                    text = ""
                elif event.kind == "delta":
                    text += event.text
                    chat[-1] = {"role": "assistant", "content": md_escape(text)}
                    yield chat, gr.skip(), gr.skip(), history, "", gr.skip()
                elif event.kind == "answer":
                    answer = event.answer
        except Exception as exc:  # shown to the user; the server goes on
            message = (
                str(exc)
                .replace("--after", "“Articles from”")
                .replace("--before", "“Articles until”")
            )
            chat[-1] = {"role": "assistant", "content": f"⚠️ {notice_markdown(message)}"}
            yield chat, gr.skip(), f"**Error:** {notice_markdown(message)}", history, "", gr.skip()
            return
        assert answer is not None
        chat[-1] = {"role": "assistant", "content": answer_markdown(answer)}
        history = [
            *history,
            {"role": "user", "content": message},
            {"role": "assistant", "content": answer.answer},
        ]
        t = answer.timings_ms
        label = f"{answer.mode}{' · ' + answer.model if answer.model else ''}"
        done = f"Answered in {t['total']} ms ({md_escape(label)})."
        status = status_markdown(assistant, extra=done, answer=answer)
        kept = {**(kept or {}), str(len(chat) - 1): feedback.record(answer, history[:-2])}
        yield chat, sources_html(answer), status, history, "", kept

    adding = threading.Lock()

    upload_limit = min(uploads.MAX_UPLOAD_BYTES, int(max_file_mb * 1_000_000))

    def add_files(files, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 - Gradio's idiom
        if not files:
            return "Choose article files first.", status_markdown(assistant)
        target = assistant.index.dir / "uploads"
        paths, refused = [], []
        for f in files:
            source = Path(f if isinstance(f, str) else f.name)
            try:
                name = getattr(f, "orig_name", None) or source.name
                paths.append(uploads.store(source, name, target, upload_limit))
            except uploads.UploadRejected as exc:
                refused.append(str(exc))
        lines = [] if paths else ["Nothing indexed."]
        if paths:
            progress(0, desc="indexing")
            with adding:  # one indexing run at a time (two would race on the keyword index)
                try:
                    report = assistant.index.add(paths, progress=True, max_file_mb=max_file_mb)
                except DossierError as exc:  # e.g. another machine's run holds the index
                    return f"Nothing indexed: {notice_markdown(str(exc))}", status_markdown(
                        assistant
                    )
            lines.append(
                f"Indexed {report.indexed} file(s), {report.unchanged} unchanged, "
                f"{len(report.failed)} failed; the index holds {report.documents} articles."
            )
            lines += [
                f"- **failed:** {md_escape(Path(f['path']).name)}: {md_escape(f['error'])}"
                for f in report.failed
            ]
        lines += [f"- **refused:** {notice_markdown(reason)}" for reason in refused]
        return "\n".join(lines), status_markdown(assistant)

    def on_vote(kept, vote: gr.LikeData):
        entry = (kept or {}).get(str(vote.index if isinstance(vote.index, int) else vote.index[0]))
        if entry is None or vote.liked not in (True, False):
            return gr.skip()
        path = assistant.index.dir / FEEDBACK_FILE
        feedback.vote(path, entry, bool(vote.liked))
        thanks = "Thanks: noted" if vote.liked else "Noted for review"
        return status_markdown(
            assistant, extra=f"{thanks} in {notice_markdown(str(path))} (`dossier eval` reads it)."
        )

    # Gradio finds the event data by the parameter's annotation, which must be the class itself
    # (this module's annotations are strings).
    on_vote.__annotations__["vote"] = gr.LikeData

    def search(query: str, k: int = 5) -> dict:
        """The `k` (1-50) passages that best match `query`, best first (as POST /api/search).
        With gradio_client, pass `download_files=False`: it would take `path` for a file."""
        if not (query or "").strip():
            raise gr.Error("query: give the words to search for (it was empty)")
        if not 1 <= int(k) <= MAX_K:
            raise gr.Error(f"k: {k} passages asked for; ask for 1 to {MAX_K}")
        passages = assistant.index.search(query, int(k))
        return {"query": query, "passages": [p.to_dict() for p in passages]}

    def refresh():
        try:
            choice = assistant.choice(refresh=True)
        except LLMError as exc:
            return f"**Mode:** unavailable — {notice_markdown(str(exc))}", gr.update()
        return status_markdown(assistant, choice), gr.update(choices=model_choices())

    with gr.Blocks(title="dossier", analytics_enabled=False) as page:
        gr.Markdown("# dossier\nAsk questions about the articles; every claim cites its passage.")
        status = gr.Markdown(status_markdown(assistant), elem_id="status")
        history = gr.State([])
        kept = gr.State({})  # answers by chat position, for the thumbs up/down
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    label="Answers",
                    height=460,
                    sanitize_html=True,
                    feedback_options=("Like", "Dislike"),
                    latex_delimiters=[],  # "$$" in an article is text, not mathematics
                    elem_id="chat",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask about the articles, in French or English",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                gr.Examples(EXAMPLES, inputs=[box], label="Examples")
                clear = gr.Button("New conversation", size="sm")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), elem_id="sources")
        with gr.Accordion("Settings", open=False):
            with gr.Row():
                k = gr.Slider(1, 10, value=assistant.k, step=1, label="Passages per answer")
                model = gr.Dropdown(
                    model_choices(), value=AUTO, label="Model", allow_custom_value=False
                )
                after = gr.Textbox(label="Articles from (YYYY-MM-DD)", placeholder="any date")
                before = gr.Textbox(label="Articles until (YYYY-MM-DD)", placeholder="any date")
            recheck = gr.Button("Check the LLM server again", size="sm")
        with gr.Accordion("Add articles", open=False):
            files = gr.File(
                file_count="multiple", file_types=list(uploads.UPLOAD_TYPES), label="Article files"
            )
            add = gr.Button("Index these files")
            added = gr.Markdown()

        inputs = [box, chat, history, k, model, after, before, kept]
        outputs = [chat, sources, status, history, box, kept]
        # One event for both triggers: a second Ask while an answer streams is ignored.
        gr.on(
            [box.submit, send.click],
            respond,
            inputs,
            outputs,
            api_name="ask",
            trigger_mode="once",
            concurrency_id="ask",
        )
        chat.like(on_vote, [kept], [status], api_name=False)
        clear.click(
            lambda: ([], sources_html(None), [], {}),
            None,
            [chat, sources, history, kept],
            api_name=False,
        )
        add.click(add_files, [files], [added, status], api_name="add_files", concurrency_limit=1)
        recheck.click(refresh, None, [status, model], api_name=False)
        # For scripts (gradio_client): the page's search without an answer, in its own queue.
        gr.api(search, api_name="search", concurrency_id="search")
    return page


LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]  # as Host headers name them


def _guard(api, host: str) -> None:
    """No cross-origin reads of the page, its API or dossier's, from any website; and, on a
    loopback address, no requests for another host name (DNS rebinding)."""
    import ipaddress

    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    # Gradio's own CORS check lets any origin in when the Host header is not a localhost name
    # (a LAN address, or a forged Host: gradio-app/gradio#13594); it steps aside when the app
    # it is mounted on has a CORSMiddleware. This one allows no origin: the page and its API
    # are same-origin and need none, and gradio_client sends no Origin.
    api.add_middleware(CORSMiddleware, allow_origins=[], allow_credentials=False)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        # A website whose name resolves to 127.0.0.1 would otherwise be same-origin with the
        # page. Behind a reverse proxy on this machine, have it send `Host: 127.0.0.1`.
        api.add_middleware(
            TrustedHostMiddleware,
            allowed_hosts=[*LOOPBACK_HOSTS, f"[{host}]" if ":" in host else host],
        )


def create_app(
    assistant: Assistant,
    *,
    host: str,
    port: int,
    api_token: str | None = None,
    password: str | None = None,
    writer_secret: str | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
):
    """The ASGI app `launch` serves: the JSON API, the page mounted at /, their guards."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    from .api import create_api

    page = build(assistant, max_file_mb)
    # Two events of a kind at once (answers; the page's searches): the answers are CPU-bound on
    # the cores the server has, and with an LLM server one or two answer at a time anyway.
    # Measured with `python -m eval.load` (README, "Under load"): 4 at once gave no better p95.
    page.queue(default_concurrency_limit=2)
    api = create_api(assistant, token=api_token, writer_secret=writer_secret)
    _guard(api, host)
    auth = None
    if password:

        def auth(_user: str, given: str) -> bool:
            return hmac.compare_digest(given.encode(), password.encode())

    gr.mount_gradio_app(
        api,
        page,
        path="/",
        server_name=host,
        server_port=port,
        footer_links=[],
        auth=auth,
        auth_message="dossier: enter the password set in DOSSIER_PASSWORD (any user name).",
        show_error=True,
        max_file_size=uploads.MAX_UPLOAD_BYTES,  # Gradio answers 413 to a larger upload
        ssr_mode=False,  # whatever GRADIO_SSR_MODE says: see "Security" in the README
        css=CSS,
        theme=gr.themes.Default(),
    )
    # A request to the page's API names each file by its path on the server. Gradio accepts
    # only files it received through its upload route, but checks that only once the page
    # "has launched", which mount_gradio_app never records (gradio 6.31): without this line
    # any .txt or .json the server can read could be indexed through `add_files`, then read
    # back through search. tests/test_security.py tries it.
    page.has_launched = True
    return api


def launch(
    assistant: Assistant,
    *,
    host: str,
    port: int,
    console=None,
    block: bool = True,
    api_token: str | None = None,
    password: str | None = None,
    writer_secret: str | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
):
    """Serve the page at http://host:port/ and the JSON API under /api/ (see `app.api`).

    `api_token` guards /api/; `password` guards the page and the Gradio API it uses (any user
    name, that password). Returns the uvicorn server; with `block=False` it runs in a thread
    (`server.should_exit = True` stops it).
    """
    import uvicorn

    api = create_app(
        assistant,
        host=host,
        port=port,
        api_token=api_token,
        password=password,
        writer_secret=writer_secret,
        max_file_mb=max_file_mb,
    )
    server = uvicorn.Server(
        uvicorn.Config(api, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    )
    if console is not None:
        console.print(
            f"dossier: chat page at http://{host}:{port}/ , JSON API at http://{host}:{port}/api/ "
            f"(docs at /docs) — Ctrl-C to stop"
        )
    if block:
        server.run()
        return server
    thread = threading.Thread(target=server.run, name="dossier-serve", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        raise OSError(f"dossier could not listen on {host}:{port} (see the log above)")
    return server
