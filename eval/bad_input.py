"""A corpus of bad and odd files beside a few good articles, indexed by the real `dossier
index --json`, and what a user sees for each: `python -m eval.bad_input` prints the table
(kind | outcome) and checks every outcome; tests/test_bad_input.py builds the same corpus.

Each `Kind` says what should happen to its file: indexed (with a word only its text holds,
a phrase its text must hold exactly, its title and date), or refused with a message, and the
notes the report must carry about it.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CORPUS = "corpus"  # the folder the corpus is built in, inside the working directory


@dataclass(frozen=True)
class Kind:
    name: str  # what is odd about it
    path: str  # the file, relative to the corpus folder
    indexed: bool  # at least one article of the file ends up in the index
    failure: str | None = None  # a part of the failure message the report must give
    note: str | None = None  # a part of a note the report must give
    word: str | None = None  # a search word only this file's text holds
    text: str | None = None  # a phrase the indexed text must hold exactly (accents and all)
    title: str | None = None  # the title the passages must carry ("" for none checked)
    date: str | None = ""  # the date they must carry; "" means not checked
    absent: tuple[str, ...] = ()  # strings the indexed text must not hold
    shown_once: str | None = None  # a passage text that search must show from one file only
    needs: str | None = None  # what the check needs (e.g. "no-dac-override"), else None

    @property
    def shown(self) -> str:
        """The path as `dossier index` run in the working directory reports it."""
        return f"{CORPUS}/{self.path}"


def _article(word: str, topic: str = "le conseil municipal") -> str:
    """Two paragraphs of plain French news prose holding `word`."""
    return (
        f"Réuni jeudi soir, {topic} de {word} a voté le budget de l’année prochaine après "
        "trois heures de débat. L’opposition a dénoncé une hausse des impôts locaux, que la "
        "majorité juge indispensable pour rénover les écoles.\n\n"
        f"Le maire de {word} a promis une réunion publique avant l’été. « Nous devons "
        "expliquer chaque euro dépensé », a-t-il déclaré à la sortie de la séance."
    )


_WIRE_BODY = (
    "Un violent incendie a détruit dans la nuit de mardi à mercredi trois entrepôts du "
    "quartier de l’Estaque, à Marseille, sans faire de victime, ont indiqué les marins-pompiers. "
    "Plus de cent vingt hommes ont été mobilisés pour venir à bout des flammes, attisées par "
    "un mistral soufflant à 80 km/h.\n\n"
    "Les pompiers ont lutté toute la nuit contre les flammes à l’Estaque, où un épais nuage "
    "de fumée noire était visible depuis le Vieux-Port. Les habitants des immeubles voisins "
    "ont été invités à garder leurs fenêtres fermées par précaution.\n\n"
    "Une enquête a été ouverte pour déterminer l’origine du sinistre. Selon une source "
    "proche du dossier, la piste criminelle n’est pas écartée, les entrepôts ayant déjà été "
    "visés par une tentative d’incendie l’an dernier."
)
_WIRE_SENTENCE = "Les pompiers ont lutté toute la nuit contre les flammes à l’Estaque"


def _write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def build(root: Path) -> list[Kind]:
    """Write the corpus into `root` (a folder named `corpus` in the working directory) and
    return what should become of each file. Takes a second or two: the 50 MB file is written
    from one repeated block."""
    root.mkdir(parents=True, exist_ok=True)
    kinds: list[Kind] = []
    future = (dt.date.today() + dt.timedelta(days=5 * 365)).isoformat()

    def add(name: str, content: str | bytes | None, kind: Kind) -> None:
        if content is not None:
            _write(root, name, content)
        kinds.append(kind)

    # -- good articles ---------------------------------------------------------------------
    add(
        "good-lyon.txt",
        "date 2025-03-14\nLyon : les conducteurs de tramway en grève\n\n"
        + _article("Villeurbanne", "le comité de grève"),
        Kind(
            "good article (.txt, date marker, title line)",
            "good-lyon.txt",
            True,
            word="Villeurbanne",
            text="Le maire de Villeurbanne a promis",
            title="Lyon : les conducteurs de tramway en grève",
            date="2025-03-14",
        ),
    )
    add(
        "good-storm.md",
        "---\ntitle: Storm closes Brittany ports\ndate: 2025-01-10\nsource: Ouest Wire\n---\n"
        "# Storm closes Brittany ports\n\nFerries between Roscoff and Plymouth were cancelled "
        "on Friday as winds reached 150 km/h along the coast. Fishing boats stayed in harbour "
        "for a third day.\n",
        Kind(
            "good article (.md, front matter)",
            "good-storm.md",
            True,
            word="Roscoff",
            text="Ferries between Roscoff and Plymouth",
            title="Storm closes Brittany ports",
            date="2025-01-10",
        ),
    )
    add(
        "good.json",
        json.dumps(
            {
                "title": "Quimper rénove ses halles",
                "date": "2025-05-02",
                "source": "Le Courrier",
                "text": _article("Quimper"),
            },
            ensure_ascii=False,
        ),
        Kind(
            "good article (.json)",
            "good.json",
            True,
            word="Quimper",
            text="l’année prochaine",
            title="Quimper rénove ses halles",
            date="2025-05-02",
        ),
    )

    # -- empty and not text -----------------------------------------------------------------
    add("empty.txt", b"", Kind("empty file", "empty.txt", False, failure="no text"))
    add(
        "whitespace.txt",
        " \n\t\n   \r\n",
        Kind("whitespace only", "whitespace.txt", False, failure="no text"),
    )
    rng = random.Random(7)
    add(
        "binary.txt",
        bytes(rng.randrange(256) for _ in range(8000)),
        Kind("binary (random bytes)", "binary.txt", False, failure="binary file"),
    )
    add(
        "invisible.txt",
        "\u200b\u2060\u00ad\ufeff\u200b\n",
        Kind(
            "only zero-width characters",
            "invisible.txt",
            False,
            failure="only invisible or control characters",
        ),
    )
    add(
        "archive.txt",
        gzip.compress(_article("Lorient").encode()),
        Kind(".txt that is gzip", "archive.txt", False, failure="gzip-compressed file"),
    )
    add(
        "scan.txt",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)),
        Kind(".txt that is a PDF", "scan.txt", False, failure="a PDF document, not text"),
    )
    add(
        "report.pdf",
        b"%PDF-1.7\n",
        Kind(
            "unsupported type (.pdf)",
            "report.pdf",
            False,
            note="dossier does not read .pdf files",
        ),
    )
    add(
        "nul-inside.txt",
        _article("Concarneau").replace("jeudi soir", "jeudi\x00 soir").encode(),
        Kind(
            "NUL bytes inside text",
            "nul-inside.txt",
            True,
            note="removed 1 NUL byte",
            word="Concarneau",
            text="Réuni jeudi soir",
            absent=("\x00",),
        ),
    )
    add(
        "nul-padded.txt",
        _article("Paimpol").encode() + b"\x00" * 4096,
        Kind(
            "NUL padding at the end (crash)",
            "nul-padded.txt",
            True,
            note="removed 4096 NUL byte",
            word="Paimpol",
            text="chaque euro dépensé",
        ),
    )
    add(
        "marker-only.txt",
        "date 2025-01-01\n",
        Kind(
            "date marker and nothing else",
            "marker-only.txt",
            False,
            failure="no text besides its date marker",
        ),
    )

    # -- too big, or data -------------------------------------------------------------------
    block = (_article("Brest") + "\n\n").encode() * 200
    big = root / "big-50mb.txt"
    with big.open("wb") as out:
        while out.tell() < 50_000_000:
            out.write(block)
    kinds.append(
        Kind(
            "50 MB text file",
            "big-50mb.txt",
            False,
            failure="over the 10 MB limit for one file (max_file_mb)",
        )
    )
    blob = base64.b64encode(rng.randbytes(3_932_160)).decode()  # 5,242,880 characters
    add(
        "blob-5mb.txt",
        blob + "\n",
        Kind(
            "one 5 MB line, no spaces (base64)",
            "blob-5mb.txt",
            False,
            failure="without a space (the longest 5,242,880",
        ),
    )
    url = (
        "https://www.example.org/archives/2025/05/"
        + "-".join(["enquete"] * 40)
        + "?ref="
        + ("x" * 150)
    )
    add(
        "blob-in-article.txt",
        _article("Douarnenez") + "\n\n" + blob[:100_000] + f"\n\nSource : {url}\n",
        Kind(
            "article with a 100 KB base64 line and a 490-char URL",
            "blob-in-article.txt",
            True,
            note="removed 1 run(s) of more than 2,048 characters",
            word="Douarnenez",
            text=url,
            absent=(blob[:100],),
        ),
    )

    # -- encodings --------------------------------------------------------------------------
    accents = "L’Élysée a salué l’œuvre de l’élève, déjà arrêté à Besançon."
    add(
        "utf16-bom.txt",
        ("\ufeff" + accents + " " + _article("Morlaix")).encode("utf-16-le"),
        Kind(
            "UTF-16 with BOM",
            "utf16-bom.txt",
            True,
            word="Morlaix",
            text=accents,
        ),
    )
    add(
        "utf16-nobom.txt",
        (accents + " " + _article("Vannes")).encode("utf-16-be"),
        Kind("UTF-16 without BOM", "utf16-nobom.txt", True, word="Vannes", text=accents),
    )
    add(
        "utf8-bom.txt",
        "\ufeffTitre avec BOM à Dinan\n\n" + _article("Dinan"),
        Kind(
            "UTF-8 BOM",
            "utf8-bom.txt",
            True,
            word="Dinan",
            text="Le maire de Dinan",
            title="Titre avec BOM à Dinan",
            absent=("\ufeff",),
        ),
    )
    add(
        "cp1252.txt",
        (accents + "\r\n" + _article("Pontivy")).encode("cp1252"),
        Kind(
            "Windows-1252 (cp1252)",
            "cp1252.txt",
            True,
            note="read as Windows-1252",
            word="Pontivy",
            text=accents,
        ),
    )
    add(
        "mixed-encoding.txt",
        (_article("Carhaix") + "\n\n").encode("utf-8") + (accents + "\n").encode("cp1252"),
        Kind(
            "mixed encodings (UTF-8 then cp1252)",
            "mixed-encoding.txt",
            True,
            note="part UTF-8, part Windows-1252",
            word="Carhaix",
            text=accents,
            absent=("Ã", "\ufffd"),
        ),
    )
    add(
        "nfd.txt",
        unicodedata_nfd("Les élèves de Créteil ont manifesté devant la préfecture. ")
        + _article("Créteil"),
        Kind(
            "decomposed accents (NFD)",
            "nfd.txt",
            True,
            word="Créteil",
            text="Les élèves de Créteil",
        ),
    )
    add(
        "zero-width.txt",
        "Le festival de Tom\u200bbouc\u200btou a ac\u00adcueilli \x1b[1mdix mille\x1b[0m "
        "spectateurs.\x07 " + _article("Tombouctou"),
        Kind(
            "zero-width and control characters",
            "zero-width.txt",
            True,
            word="Tombouctou",
            text="Le festival de Tombouctou a accueilli",
            absent=("\u200b", "\u00ad", "\x1b", "\x07"),
        ),
    )
    add(
        "crlf.txt",
        ("Grève des dockers au Havre\n\n" + _article("Harfleur")).replace("\n", "\r\n"),
        Kind(
            "CRLF line endings",
            "crlf.txt",
            True,
            word="Harfleur",
            title="Grève des dockers au Havre",
            text="impôts locaux",
            absent=("\r",),
        ),
    )

    # -- JSON and JSONL ---------------------------------------------------------------------
    add(
        "malformed.json",
        '{"title": "Cassé", "text": "Un article de Saint-Brieuc"\n"date": "2025-01-01"}',
        Kind("malformed JSON", "malformed.json", False, failure="line 2: invalid JSON"),
    )
    good_line = json.dumps({"id": "a1", "text": _article("Guingamp")}, ensure_ascii=False)
    add(
        "malformed.jsonl",
        good_line + '\n{"id": "a2", "text": "coupé\n' + json.dumps({"id": "a3"}) + "\n",
        Kind(
            "malformed JSONL (1 good line, 2 bad)",
            "malformed.jsonl",
            True,
            failure="line 2: invalid JSON",
            word="Guingamp",
            text="Le maire de Guingamp",
        ),
    )
    add(
        "wrong-types.json",
        json.dumps(
            [
                {"title": "Texte numérique", "text": 42},
                {"title": 7, "date": 20250101, "source": ["x"], "text": _article("Lannion")},
            ],
            ensure_ascii=False,
        ),
        Kind(
            "JSON with wrong field types",
            "wrong-types.json",
            True,
            failure="article 1: field 'text' should be a string, got int",
            note="article 2: field 'title' should be a string, got int",
            word="Lannion",
            date=None,
        ),
    )
    add(
        "empty-list.json",
        "[]",
        Kind("empty JSON list", "empty-list.json", False, failure="holds no articles"),
    )
    add(
        "huge-list.json",
        "["
        + ",".join(str(i) for i in range(200_000))
        + ","
        + json.dumps({"text": _article("Ploërmel")}, ensure_ascii=False)
        + "]",
        Kind(
            "huge JSON list (200,000 non-articles, 1 article)",
            "huge-list.json",
            True,
            failure="… and 199,997 more",
            word="Ploërmel",
        ),
    )
    add(
        "nested-200.json",
        _nested(200),
        Kind("JSON nested 200 levels", "nested-200.json", False, failure="no text field"),
    )
    add(
        "nested-100k.json",
        _nested(100_000),
        Kind("JSON nested 100,000 levels", "nested-100k.json", False, failure="nested too deeply"),
    )

    # -- HTML and markdown ------------------------------------------------------------------
    add(
        "scripts-only.html",
        "<html><head><style>body{color:red}</style><script>alert(1)</script></head>"
        "<body><script>document.write('x')</script><style>p{}</style></body></html>",
        Kind(
            "HTML with only scripts and styles",
            "scripts-only.html",
            False,
            failure="no main text",
        ),
    )
    add(
        "page.txt",
        "<!DOCTYPE html>\n<html><head><title>Carnac : les menhirs classés</title></head><body>"
        "<nav>Accueil | Région</nav><article><h1>Carnac : les menhirs classés</h1><p>"
        + _article("Carnac").replace("\n\n", "</p><p>")
        + "</p></article><script>track()</script></body></html>",
        Kind(
            ".txt that is really HTML",
            "page.txt",
            True,
            note="holds an HTML page: read as HTML",
            word="Carnac",
            title="Carnac : les menhirs classés",
            text="Le maire de Carnac",
            absent=("<p>", "track()", "Accueil"),
        ),
    )
    add(
        "bad-yaml.md",
        "---\ntitle: [pas fermé\ndate: 2025-02-02\n---\n# Marée noire à Saint-Malo\n\n"
        + _article("Cancale"),
        Kind(
            "markdown front matter that is not YAML",
            "bad-yaml.md",
            True,
            note="front matter is not valid YAML",
            word="Cancale",
            title="Marée noire à Saint-Malo",
            absent=("pas fermé",),
        ),
    )
    add(
        "unclosed.md",
        "---\ntitle: Jamais fermé\ndate: 2025-02-03\n\n" + _article("Fougères"),
        Kind(
            "markdown front matter never closed",
            "unclosed.md",
            True,
            note="front matter opened with --- but never closed",
            word="Fougères",
        ),
    )

    add(
        "yaml-bad-date.md",
        "---\ntitle: Date impossible\ndate: 2025-13-45\n---\n" + _article("Loudéac"),
        Kind(
            "markdown front matter with an impossible YAML date",
            "yaml-bad-date.md",
            True,
            note="front matter ignored: a value YAML cannot read (month must be in 1..12)",
            word="Loudéac",
            date=None,
        ),
    )

    # -- dates ------------------------------------------------------------------------------
    add(
        "date-invalid.json",
        json.dumps({"date": "2025-02-30", "text": _article("Landerneau")}, ensure_ascii=False),
        Kind(
            "invalid date (2025-02-30)",
            "date-invalid.json",
            True,
            note="field 'date' ignored: '2025-02-30' is not a valid date",
            word="Landerneau",
            date=None,
        ),
    )
    add(
        "date-invalid-marker.txt",
        "date 2025-13-45\n" + _article("Quimperlé"),
        Kind(
            "invalid date marker (2025-13-45)",
            "date-invalid-marker.txt",
            True,
            note="the date marker is not used: '2025-13-45' is not a valid date",
            word="Quimperlé",
            date=None,
        ),
    )
    add(
        "date-future.md",
        f"---\ntitle: Date lointaine\ndate: {future}\n---\n" + _article("Auray"),
        Kind(
            "date in the future",
            "date-future.md",
            True,
            note=f"front matter: field 'date' {future} is in the future; kept as written",
            word="Auray",
            date=future,
        ),
    )
    add(
        "date-ambiguous.json",
        json.dumps({"published": "01/02/2025", "text": _article("Redon")}, ensure_ascii=False),
        Kind(
            "ambiguous date (01/02/2025)",
            "date-ambiguous.json",
            True,
            note="field 'published' ignored: '01/02/2025' is ambiguous",
            word="Redon",
            date=None,
        ),
    )

    # -- the same article twice -------------------------------------------------------------
    twin = "Pénurie d’eau à Perpignan\n\n" + _article("Perpignan", "le syndicat des eaux")
    add(
        "dup-a.txt",
        twin,
        Kind("duplicate article (first name)", "dup-a.txt", True, word="Perpignan"),
    )
    add(
        "dup-b copy.txt",
        twin,
        Kind(
            "duplicate article under another name",
            "dup-b copy.txt",
            True,
            note="same text as corpus/dup-a.txt",
            word="Perpignan",
            shown_once="Le maire de Perpignan a promis",
        ),
    )
    add(
        "wire-provence.txt",
        "Incendie à Marseille : trois entrepôts détruits\n\n" + _WIRE_BODY + "\n\n(avec AFP)",
        Kind("wire story (first paper)", "wire-provence.txt", True, word="Estaque"),
    )
    add(
        "wire-figaro.txt",
        "Marseille : un incendie ravage des entrepôts de l’Estaque\n\n"
        + _WIRE_BODY.replace("sans faire de victime", "sans faire de blessé")
        + "\n\nLe Figaro avec AFP",
        Kind(
            "near-duplicate wire copy (other headline, one word changed)",
            "wire-figaro.txt",
            True,
            word="Estaque",
            shown_once=_WIRE_SENTENCE,
        ),
    )

    # -- names and file system oddities -----------------------------------------------------
    add(
        "name with spaces.txt",
        _article("Plougastel"),
        Kind("file name with spaces", "name with spaces.txt", True, word="Plougastel"),
    )
    add(
        "élève à Brest – été.txt",
        _article("Landivisiau"),
        Kind("file name with accents", "élève à Brest – été.txt", True, word="Landivisiau"),
    )
    add(
        "new\nline.txt",
        _article("Ouessant"),
        Kind("file name with a newline", "new\nline.txt", True, word="Ouessant"),
    )
    add(
        "folder.txt/inside.txt",
        _article("Trégastel"),
        Kind("folder named like an article", "folder.txt/inside.txt", True, word="Trégastel"),
    )
    (root / "loop-a.txt").symlink_to("loop-b.txt")
    (root / "loop-b.txt").symlink_to("loop-a.txt")
    kinds.append(Kind("symlink loop (file)", "loop-a.txt", False, failure="symbolic link loop"))
    kinds.append(
        Kind("symlink loop (its other link)", "loop-b.txt", False, failure="symbolic link loop")
    )
    (root / "sub").mkdir()
    _write(root, "sub/inner.txt", _article("Locronan"))
    (root / "sub" / "again").symlink_to("..")
    kinds.append(Kind("article in a subfolder", "sub/inner.txt", True, word="Locronan"))
    kinds.append(
        Kind(
            "symlink loop (folder linking to its parent)",
            "sub/again",
            False,
            note="a link to a folder is not followed",
        )
    )
    (root / "gone.txt").symlink_to("deleted-meanwhile.txt")
    kinds.append(
        Kind("file gone (link to a deleted file)", "gone.txt", False, failure="the file is gone")
    )
    os.mkfifo(root / "pipe.txt")
    kinds.append(Kind("named pipe (FIFO)", "pipe.txt", False, failure="a named pipe (FIFO)"))
    locked = _write(root, "unreadable.txt", _article("Brignogan"))
    locked.chmod(0)
    kinds.append(
        Kind(
            "unreadable file (chmod 000)",
            "unreadable.txt",
            False,
            failure="Permission denied",
            needs="permissions",
        )
    )
    return kinds


def unicodedata_nfd(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFD", text)


# -- running it as a user would -----------------------------------------------------------
def without_dac_override() -> list[str] | None:
    """A command prefix under which file permissions apply to this process: none needed for
    an ordinary user; for root, `setpriv` dropping the capabilities that let root read any
    file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). None when that cannot be done."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    caps = "-dac_override,-dac_read_search"
    prefix = [setpriv, "--inh-caps", caps, "--bounding-set", caps, "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def user_env() -> dict[str, str]:
    """The environment without the caller's DOSSIER_ settings (but with its model cache)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DOSSIER_") or k == "DOSSIER_CACHE_DIR"
    }


def run_index(workdir: Path, *extra: str, timeout: float = 600) -> tuple[dict, float, int]:
    """`dossier index corpus/ --json` in `workdir`: (report, seconds, exit code). As root,
    run without the capability to read unreadable files, so permissions mean what they say."""
    dossier = str(Path(sys.executable).with_name("dossier"))
    prefix = without_dac_override() or []
    start = time.perf_counter()
    done = subprocess.run(
        [*prefix, dossier, "index", f"{CORPUS}/", "--json", *extra],
        cwd=workdir,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    if not done.stdout.strip():
        raise RuntimeError(
            f"dossier index printed no report (exit {done.returncode}): {done.stderr}"
        )
    return json.loads(done.stdout), seconds, done.returncode


# -- what the user sees, and whether it is right ----------------------------------------------
def messages(report: dict, kind: Kind) -> tuple[list[str], list[str]]:
    """(failure messages, notes) the report gives for the kind's file."""
    failed = [f["error"] for f in report["failed"] if f["path"] == kind.shown]
    notes = [n["note"] for n in report["notes"] if n["path"] == kind.shown]
    return failed, notes


def documents_of(idx, kind: Kind) -> list[str]:
    """Ids of the indexed documents of the kind's file."""
    docs = idx.documents_matching(source=kind.shown) or set()
    return sorted(d for d in docs if idx.manifest.document(d).path == kind.shown)


def outcome(report: dict, idx, kind: Kind) -> str:
    """The kind's outcome in one line, in the words the report uses."""
    failed, notes = messages(report, kind)
    docs = documents_of(idx, kind)
    parts = []
    if docs:
        parts.append("indexed" if len(docs) == 1 else f"indexed ({len(docs)} articles)")
    parts += [f"failed: {m}" for m in failed]
    parts += [f"note: {m}" for m in notes]
    return "; ".join(parts) or "nothing reported"


def check(report: dict, idx, kind: Kind) -> list[str]:
    """What is wrong with the kind's outcome (an empty list when it is as it should be)."""
    problems = []
    failed, notes = messages(report, kind)
    docs = documents_of(idx, kind)
    if kind.indexed and not docs:
        problems.append("not indexed")
    if not kind.indexed and docs:
        problems.append("indexed, but should not be")
    if kind.failure and not any(kind.failure in m for m in failed):
        problems.append(f"no failure saying {kind.failure!r} (got {failed})")
    if not kind.failure and failed:
        problems.append(f"unexpected failure {failed}")
    if kind.note and not any(kind.note in m for m in notes):
        problems.append(f"no note saying {kind.note!r} (got {notes})")
    if not docs:
        return problems
    texts = [idx.document_text(d) for d in docs]
    if kind.text and not any(kind.text in t for t in texts):
        problems.append(f"indexed text lacks {kind.text[:60]!r}")
    for absent in kind.absent:
        if any(absent in t for t in texts):
            problems.append(f"indexed text holds {absent[:20]!r}")
    if kind.word:
        found = idx.search(kind.word, k=10, source=kind.shown)
        mine = [p for p in found if p.path == kind.shown]
        if not mine:
            problems.append(f"search for {kind.word!r} does not find it")
        for p in mine:
            if kind.title is not None and kind.title and p.title != kind.title:
                problems.append(f"title {p.title!r}, expected {kind.title!r}")
            if kind.date != "" and p.date != kind.date:
                problems.append(f"date {p.date!r}, expected {kind.date!r}")
    if kind.shown_once and kind.word:
        everywhere = idx.search(kind.word, k=10)
        paths = {p.path for p in everywhere if kind.shown_once in p.text}
        if len(paths) != 1:
            problems.append(f"search shows {kind.shown_once[:40]!r} from {sorted(paths)}")
        texts_shown = [" ".join(p.text.split()) for p in everywhere]
        if len(set(texts_shown)) != len(texts_shown):
            problems.append("search shows the same passage twice")
    return problems


def table(report: dict, idx, kinds: list[Kind]) -> str:
    """The markdown table: kind | outcome (the message the user sees)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", "\\n")

    rows = ["| kind | file | outcome (the message the user sees) |", "|---|---|---|"]
    for kind in kinds:
        shown = cell(outcome(report, idx, kind))
        rows.append(f"| {cell(kind.name)} | `{cell(kind.path)}` | {shown} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="dossier-bad-input-"))
    try:
        start = time.perf_counter()
        kinds = build(workdir / CORPUS)
        built = time.perf_counter() - start
        report, first, code = run_index(workdir)
        again, second, code_again = run_index(workdir)
        from index import Index

        with Index(workdir / ".dossier", create=False) as idx:
            print(table(report, idx, kinds))
            problems = {k.name: check(report, idx, k) for k in kinds}
        if without_dac_override() is None:
            problems.pop("unreadable file (chmod 000)", None)
        print()
        print(
            f"{len(kinds)} kinds; corpus built in {built:.1f} s; first run {first:.1f} s "
            f"(exit {code}: {report['documents']} documents, {report['chunks']} chunks, "
            f"{len(report['failed'])} failed); second run {second:.1f} s (exit {code_again}: "
            f"{again['indexed']} re-read, {again['documents']} documents, {again['chunks']} "
            f"chunks, {len(again['failed'])} failed)"
        )
        wrong = {name: p for name, p in problems.items() if p}
        for name, found in wrong.items():
            print(f"WRONG: {name}: {'; '.join(found)}")
        return 1 if wrong else 0
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            (workdir / CORPUS / "unreadable.txt").chmod(0o644)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
