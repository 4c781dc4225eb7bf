"""load_file and discover on real files: what a user's folder of articles turns into."""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
from pathlib import Path

import pytest

from index.errors import LoadError
from index.loaders import discover, load_file

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "2025-09-19-france-mali.txt"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only_article(path: Path):
    result = load_file(path)
    assert len(result.articles) == 1
    return result.articles[0]


# --- .txt ---------------------------------------------------------------------------------


def test_txt_with_date_marker_and_title_line(tmp_path):
    f = write(
        tmp_path / "lyon.txt",
        "date 2025-03-14\nLyon : les conducteurs de tramway en grève\n\n"
        "Les usagers ont dû s’armer de patience vendredi. La grève continue.\n",
    )
    art = only_article(f)
    assert art.date == "2025-03-14"
    assert art.title == "Lyon : les conducteurs de tramway en grève"
    assert art.text.startswith("Lyon : les conducteurs")
    assert "date" not in art.text.lower().split()[0]
    assert "2025-03-14" not in art.text
    assert art.text.endswith("La grève continue.")


def test_txt_first_line_that_is_a_sentence_is_not_a_title(tmp_path):
    f = write(tmp_path / "a.txt", "Il pleut depuis trois jours.\n\nLes rivières débordent.\n")
    art = only_article(f)
    assert art.title is None
    assert art.date is None


def test_shipped_corpus_file():
    art = only_article(CORPUS_FILE)
    assert art.date == "2025-09-19"
    assert art.title is None
    assert art.text.startswith("La France a annoncé")
    assert "date" not in art.text.split()[:3]
    assert "2025-09-19" not in art.text
    assert not art.text.lower().startswith("date")
    assert "Mali" in art.text


def test_shipped_test_articles_all_load_with_date_and_title():
    news = sorted((Path(__file__).parent / "data" / "news").glob("*.txt"))
    assert news
    for f in news:
        art = only_article(f)
        assert art.date == f.name[:10], f.name
        assert art.title, f.name
        assert not art.text.startswith("date"), f.name


def test_txt_inline_marker_before_word_starting_with_z_keeps_the_word(tmp_path):
    f = write(tmp_path / "z.txt", "date 2025-09-19 Zelensky a rencontré Macron à Paris.")
    art = only_article(f)
    assert art.text.startswith("Zelensky")


def test_cp1252_txt_loads_with_correct_accents(tmp_path):
    text = "L’Élysée a salué l’œuvre de l’agent, arrêté à Bamako. Déjà vu."
    f = write(tmp_path / "old.txt", text.replace(". ", ".\r\n").encode("cp1252"))
    art = only_article(f)
    assert art.text == text.replace(". ", ".\n")
    assert "\ufffd" not in art.text
    assert "Élysée" in art.text and "l’agent" in art.text and "œuvre" in art.text


def test_utf16_txt_loads(tmp_path):
    f = write(tmp_path / "u16.txt", "\ufeffLa grève continue à Lyon.".encode("utf-16-le"))
    assert only_article(f).text == "La grève continue à Lyon."


# --- .md ----------------------------------------------------------------------------------


def test_markdown_front_matter_gives_title_date_source(tmp_path):
    f = write(
        tmp_path / "a.md",
        "---\ntitle: Grève à Lyon\ndate: 2025-03-14\nsource: Le Progrès\n---\n"
        "# Un autre titre\n\nLes usagers ont dû patienter.\n",
    )
    art = only_article(f)
    assert art.title == "Grève à Lyon"
    assert art.date == "2025-03-14"
    assert art.source == "Le Progrès"
    assert "---" not in art.text
    assert "title:" not in art.text
    assert "Les usagers ont dû patienter." in art.text


def test_markdown_heading_is_the_title(tmp_path):
    f = write(tmp_path / "b.md", "# Tempête sur la Bretagne\n\nLe vent a soufflé à 150 km/h.\n")
    art = only_article(f)
    assert art.title == "Tempête sur la Bretagne"
    assert "Le vent a soufflé" in art.text


def test_markdown_bad_front_matter_date_is_a_warning(tmp_path):
    f = write(tmp_path / "c.md", "---\ntitle: T\ndate: 01/02/2025\n---\nCorps du texte.\n")
    result = load_file(f)
    assert result.articles[0].date is None
    assert result.articles[0].title == "T"
    assert any("date" in w and "01/02/2025" in w for w in result.warnings)


# --- .html --------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="fr">
<head>
  <title>Grève à Lyon - Le Journal</title>
  <meta property="og:title" content="Grève des trams à Lyon">
  <meta property="article:published_time" content="2025-03-14T07:30:00+01:00">
  <meta property="og:site_name" content="Le Journal">
  <style>.ad { color: red } BODYSTYLE</style>
  <script>var tracker = "SCRIPTTEXT";</script>
</head>
<body>
  <header><a href="/">HEADERTEXT Le Journal</a></header>
  <nav><ul><li>NAVTEXT Accueil</li><li>Politique</li></ul></nav>
  <article>
    <p>Les conducteurs de tramway ont cessé le travail dès 4 h 30.</p>
    <p>Seules trois rames sur dix circulaient sur la ligne T3.</p>
  </article>
  <script>window.SCRIPTTEXT2 = 1;</script>
  <footer>FOOTERTEXT Tous droits réservés</footer>
</body>
</html>
"""


def test_html_keeps_the_article_and_drops_the_page_furniture(tmp_path):
    f = write(tmp_path / "page.html", PAGE)
    art = only_article(f)
    assert "Les conducteurs de tramway ont cessé le travail dès 4 h 30." in art.text
    assert "Seules trois rames sur dix circulaient sur la ligne T3." in art.text
    for hidden in (
        "SCRIPTTEXT",
        "BODYSTYLE",
        "color: red",
        "HEADERTEXT",
        "NAVTEXT",
        "Accueil",
        "FOOTERTEXT",
        "Tous droits",
        "tracker",
    ):
        assert hidden not in art.text, hidden
    # The two paragraphs stay separate paragraphs.
    assert "4 h 30.\n\nSeules" in art.text


def test_html_og_title_and_published_time(tmp_path):
    art = only_article(write(tmp_path / "page.htm", PAGE))
    assert art.title == "Grève des trams à Lyon"
    assert art.date == "2025-03-14"
    assert art.source == "Le Journal"


def test_html_title_tag_when_no_og_title(tmp_path):
    page = PAGE.replace('<meta property="og:title" content="Grève des trams à Lyon">', "")
    art = only_article(write(tmp_path / "page.html", page))
    assert art.title == "Grève à Lyon - Le Journal"


def test_html_without_article_uses_the_body(tmp_path):
    page = (
        "<html><head><title>T</title></head><body><nav>NAVTEXT</nav>"
        "<main><p>Premier paragraphe.</p><p>Second paragraphe.</p></main>"
        "<footer>FOOTERTEXT</footer></body></html>"
    )
    art = only_article(write(tmp_path / "p.html", page))
    assert art.text == "Premier paragraphe.\n\nSecond paragraphe."


def test_html_with_only_script_and_style_is_refused(tmp_path):
    page = (
        "<html><head><script>var a = 1;</script><style>p { margin: 0 }</style></head>"
        "<body><script>track();</script><style>.x{}</style></body></html>"
    )
    f = write(tmp_path / "empty.html", page)
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert str(f) in str(info.value)
    assert "no main text" in str(info.value)


def test_html_without_body_does_not_index_the_head_title(tmp_path):
    page = (
        "<!doctype html><html><head><title>Titre de la page</title>"
        "<script>var a = 1;</script><style>p{}</style></head></html>"
    )
    f = write(tmp_path / "headonly.html", page)
    with pytest.raises(LoadError):
        load_file(f)


# --- .json --------------------------------------------------------------------------------


def test_json_single_object(tmp_path):
    f = write(
        tmp_path / "one.json",
        json.dumps(
            {
                "title": "Grève à Lyon",
                "text": "Les trams sont à l’arrêt.",
                "date": "2025-03-14T06:00:00Z",
                "source": "Le Progrès",
            },
            ensure_ascii=False,
        ),
    )
    result = load_file(f)
    assert result.errors == [] and result.warnings == []
    (art,) = result.articles
    assert (art.title, art.text, art.date, art.source) == (
        "Grève à Lyon",
        "Les trams sont à l’arrêt.",
        "2025-03-14",
        "Le Progrès",
    )


def test_json_list_of_objects(tmp_path):
    items = [
        {"headline": "A", "content": "Premier article.", "published": "2025-01-01"},
        {"title": "B", "body": "Deuxième article.", "pubDate": "Fri, 19 Sep 2025 08:00:00 GMT"},
        {"title": "C", "text": "Troisième article.", "url": "https://example.org/c"},
    ]
    result = load_file(write(tmp_path / "many.json", json.dumps(items)))
    assert [a.text for a in result.articles] == [
        "Premier article.",
        "Deuxième article.",
        "Troisième article.",
    ]
    assert [a.title for a in result.articles] == ["A", "B", "C"]
    assert [a.date for a in result.articles] == ["2025-01-01", "2025-09-19", None]
    assert result.articles[2].source == "https://example.org/c"
    assert len({a.key for a in result.articles}) == 3
    assert result.errors == []


def test_json_list_with_duplicate_ids_gets_distinct_keys(tmp_path):
    items = [{"id": 7, "text": "Un."}, {"id": 7, "text": "Deux."}]
    result = load_file(write(tmp_path / "dup.json", json.dumps(items)))
    assert len({a.key for a in result.articles}) == 2


def test_json_missing_text_field_names_the_expected_fields(tmp_path):
    f = write(tmp_path / "notext.json", json.dumps({"title": "Sans texte", "summary": "x"}))
    with pytest.raises(LoadError) as info:
        load_file(f)
    message = str(info.value)
    assert str(f) in message
    for name in ("text", "content", "body"):
        assert name in message


def test_json_text_of_wrong_type_names_field_and_type(tmp_path):
    f = write(tmp_path / "num.json", json.dumps({"text": 42, "title": "Nombre"}))
    with pytest.raises(LoadError) as info:
        load_file(f)
    message = str(info.value)
    assert "'text'" in message
    assert "int" in message
    assert "string" in message


def test_json_list_with_one_bad_item_keeps_the_good_ones(tmp_path):
    items = [{"text": "Bon article un."}, {"title": "Pas de texte"}, {"text": "Bon article trois."}]
    result = load_file(write(tmp_path / "mixed.json", json.dumps(items)))
    assert [a.text for a in result.articles] == ["Bon article un.", "Bon article trois."]
    assert len(result.errors) == 1
    assert "article 2" in result.errors[0]
    assert "text" in result.errors[0]


def test_json_invalid_date_keeps_article_without_date_and_warns(tmp_path):
    f = write(tmp_path / "baddate.json", json.dumps({"text": "Il a plu.", "date": "2025-02-30"}))
    result = load_file(f)
    (art,) = result.articles
    assert art.text == "Il a plu."
    assert art.date is None
    assert result.errors == []
    assert len(result.warnings) == 1
    assert "date" in result.warnings[0] and "2025-02-30" in result.warnings[0]


def test_malformed_json_names_the_line(tmp_path):
    f = write(tmp_path / "broken.json", '{\n  "title": "x",\n  "text": \n}\n')
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert "line 4: invalid JSON" in str(info.value)
    assert str(f) in str(info.value)


def test_empty_json_list_is_refused(tmp_path):
    with pytest.raises(LoadError, match="no articles"):
        load_file(write(tmp_path / "empty.json", "[]"))


# --- .jsonl -------------------------------------------------------------------------------


def test_jsonl_good_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"text": "Article un."}),
        '{"text": "cassé",',
        json.dumps({"text": "Article deux.", "date": "2025-01-02"}),
        json.dumps({"title": "sans texte"}),
        "",
        json.dumps({"content": "Article trois."}),
    ]
    result = load_file(write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n"))
    assert [a.text for a in result.articles] == ["Article un.", "Article deux.", "Article trois."]
    assert result.articles[1].date == "2025-01-02"
    assert len(result.errors) == 2
    assert result.errors[0].startswith("line 2:") and "invalid JSON" in result.errors[0]
    assert result.errors[1].startswith("line 4:") and "text" in result.errors[1]


def test_jsonl_with_only_bad_lines_is_refused_with_the_reasons(tmp_path):
    f = write(tmp_path / "bad.jsonl", "{oops\n" + json.dumps({"title": "t"}) + "\n")
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert "line 1" in str(info.value) and "line 2" in str(info.value)


# --- files that yield nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["empty.txt", "empty.md", "empty.html", "empty.json", "empty.jsonl"]
)
def test_empty_file_is_refused_naming_it(tmp_path, name):
    f = write(tmp_path / name, b"")
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert str(f) in str(info.value)
    assert info.value.path == str(f)


def test_whitespace_only_file_is_refused_naming_it(tmp_path):
    f = write(tmp_path / "blank.txt", " \n\t\r\n  \n")
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert str(f) in str(info.value)
    assert "whitespace" in str(info.value)


def test_marker_only_file_is_refused(tmp_path):
    f = write(tmp_path / "marker.txt", "date 2025-09-19\n")
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert str(f) in str(info.value)


def test_binary_file_is_refused_naming_it(tmp_path):
    rng = random.Random(0)
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(3000))
    f = write(tmp_path / "photo.txt", data)
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert str(f) in str(info.value)
    assert "binary" in str(info.value)


def test_error_uses_the_display_name(tmp_path):
    f = write(tmp_path / "empty.txt", b"")
    with pytest.raises(LoadError) as info:
        load_file(f, display="corpus/empty.txt")
    assert str(info.value).startswith("corpus/empty.txt:")


@pytest.mark.parametrize("name", ["report.pdf", "notes.docx", "README"])
def test_unsupported_extension_is_refused(tmp_path, name):
    f = write(tmp_path / name, "Du texte tout à fait lisible.")
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert "unsupported" in str(info.value)
    assert str(f) in str(info.value)


def test_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(LoadError) as info:
        load_file(tmp_path / "nope.txt")
    assert "nope.txt" in str(info.value)


# --- discover -----------------------------------------------------------------------------


def _tree(root: Path) -> None:
    for rel in (
        "b.txt",
        "a.md",
        "sub/c.json",
        "sub/deeper/d.html",
        "sub/deeper/e.jsonl",
        "image.png",
        "sub/notes.docx",
        ".hidden.txt",
        ".git/config.txt",
        "sub/.cache/x.txt",
        ".dossier/index.json",
    ):
        write(root / rel, "x")


def test_discover_is_recursive_sorted_and_skips_hidden(tmp_path):
    _tree(tmp_path)
    found = [(p.relative_to(tmp_path).as_posix(), ok) for p, ok in discover([tmp_path])]
    assert found == [
        ("a.md", True),
        ("b.txt", True),
        ("image.png", False),
        ("sub/c.json", True),
        ("sub/deeper/d.html", True),
        ("sub/deeper/e.jsonl", True),
        ("sub/notes.docx", False),
    ]


def test_discover_same_order_every_time(tmp_path):
    _tree(tmp_path)
    assert list(discover([tmp_path])) == list(discover([tmp_path]))


def test_discover_file_argument_and_no_duplicates(tmp_path):
    _tree(tmp_path)
    found = list(discover([tmp_path / "b.txt", tmp_path]))
    paths = [p.absolute() for p, _ in found]
    assert found[0] == (tmp_path / "b.txt", True)
    assert len(paths) == len(set(paths)) == 7


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_discover_symlink_loop_does_not_hang(tmp_path):
    _tree(tmp_path)
    os.symlink(tmp_path, tmp_path / "sub" / "loop", target_is_directory=True)
    os.symlink(tmp_path / "sub", tmp_path / "sub" / "deeper" / "up", target_is_directory=True)
    out: list = []

    def walk():
        out.extend(itertools.islice(discover([tmp_path]), 1000))

    worker = threading.Thread(target=walk, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "discover() is stuck in the symlink loop"
    rel = [p.relative_to(tmp_path).as_posix() for p, _ in out]
    # The links themselves are listed once (the indexer notes they are not followed), and
    # nothing under them.
    assert len(rel) == len(set(rel)) == 9
    assert {"sub/loop", "sub/deeper/up"} <= set(rel)
    assert not any("loop/" in r or "/up/" in r for r in rel)


def test_deeply_nested_json_is_one_failed_file_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LoadError, match="nested too deeply"):
        load_file(path)


def test_cp1252_fallback_is_reported(tmp_path):
    path = tmp_path / "ancien.txt"
    path.write_bytes("L’été à Orléans.".encode("cp1252"))
    load = load_file(path)
    assert load.articles[0].text == "L’été à Orléans."
    assert any("Windows-1252" in w for w in load.warnings)


def test_markdown_title_is_only_a_leading_heading(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("Texte d'abord.\n\n```\n# un commentaire\n```\n", encoding="utf-8")
    assert load_file(path).articles[0].title is None
