"""Keyword tokens (index.text), result fusion (index.fusion) and settings (app.settings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.settings import BY_NAME, resolve
from index.errors import ConfigError
from index.fusion import DEFAULT_FUSION, RRF_K, Candidate, Fusion, FusionMethod, fuse, fusion_for
from index.keyword import KeywordIndex
from index.text import coverage, guess_language, query_terms, query_tokens, tokens

ROOT = Path(__file__).resolve().parent.parent

FR = (
    "La France a annoncé ce vendredi la suspension de sa coopération antiterroriste avec le "
    "Mali, en riposte à l’arrestation d’un agent diplomatique dans la capitale malienne."
)
EN = (
    "The government said on Tuesday that the schools would stay closed until the end of the "
    "week because of the floods, and that pupils should work from home."
)


# --- index.text ---------------------------------------------------------------------------


def test_guess_language_french_and_english_paragraphs():
    assert guess_language(FR) == "fr"
    assert guess_language(EN) == "en"


def test_guess_language_on_shipped_articles():
    assert guess_language((ROOT / "corpus/2025-09-19-france-mali.txt").read_text("utf-8")) == "fr"
    news = ROOT / "tests/data/news"
    assert guess_language((news / "2025-03-14-lyon-tram-strike.txt").read_text("utf-8")) == "fr"
    assert (
        guess_language((news / "2024-01-09-somerset-levels-flooding.txt").read_text("utf-8"))
        == "en"
    )


def test_french_tokens_meet_with_and_without_accents():
    assert tokens("arrêté", "fr") == tokens("arrete", "fr")
    assert tokens("arrêté", "fr") == ["arret"]
    toks = tokens("L’Élysée a été créé à Besançon, où il gèle", "fr")
    assert all(t.isascii() for t in toks), toks
    assert "besancon" in toks


def test_french_oe_ligature_meets_its_spelling_with_o_e():
    assert tokens("œuvre", "fr") == tokens("oeuvre", "fr")
    assert tokens("Lyon Cœur de Ville", "fr") == tokens("Lyon Coeur de Ville", "fr")
    assert set(query_tokens("coeur de ville")) <= set(tokens("Lyon Cœur de Ville", "fr"))


def test_french_tokens_stem_inflections_together():
    assert tokens("arrêté", "fr") == tokens("arrêtés", "fr") == tokens("arrêtée", "fr")


def test_french_tokens_drop_stop_words_and_elisions():
    toks = tokens("L’agent a été arrêté par la police", "fr")
    assert toks == ["agent", "arret", "polic"]
    assert "l" not in toks and "la" not in toks and "par" not in toks


def test_english_tokens_stem():
    assert tokens("arrested", "en") == tokens("arrest", "en") == ["arrest"]
    assert "the" not in tokens("the agent", "en")


def test_query_tokens_drop_question_and_stop_words_of_both_languages():
    toks = query_tokens("why was the agent arrested?")
    assert "arrest" in toks
    assert "agent" in toks
    for word in ("why", "the", "was"):
        assert word not in toks
    assert len(toks) == len(set(toks))


def test_query_tokens_french_question():
    toks = query_tokens("Pourquoi l’agent a-t-il été arrêté ?")
    assert "agent" in toks and "arret" in toks
    assert "pourquoi" not in toks and "l" not in toks


def test_query_of_only_question_words_has_no_tokens():
    assert query_tokens("what is the") == []
    assert query_tokens("Pourquoi ? Comment ? Quand ?") == []


def test_coverage_is_the_share_of_query_words_in_the_text():
    terms = query_terms("why was the agent arrested in Bamako?")
    assert len(terms) == 3  # agent, arrested, Bamako
    assert coverage(terms, "The agent was arrested in Bamako last week.", "en") == 1.0
    assert coverage(terms, "The agent was arrested last week.", "en") == pytest.approx(2 / 3)
    assert coverage(terms, "Nothing relevant here.", "en") == 0.0


def test_coverage_french_text_accents_and_stems():
    terms = query_terms("Pourquoi l'agent a-t-il été arrete a Bamako ?")
    assert coverage(terms, "L’agent a été arrêté à Bamako.", "fr") == 1.0


def test_coverage_of_empty_query_is_zero():
    assert coverage([], "Some text.", "en") == 0.0


# --- index.fusion -------------------------------------------------------------------------

CANDS = [
    Candidate("a", dense=0.9, keyword=0.0),
    Candidate("b", dense=0.5, keyword=10.0),
    Candidate("c", dense=0.7, keyword=5.0),
    Candidate("d", dense=0.1, keyword=2.0),
]


def ranked(results):
    return [c.chunk_id for c, _ in results]


def scores(results):
    return {c.chunk_id: s for c, s in results}


def test_dense_orders_by_cosine():
    out = fuse(CANDS, Fusion(method=FusionMethod.DENSE))
    assert ranked(out) == ["a", "c", "b", "d"]
    assert scores(out) == {"a": 0.9, "c": 0.7, "b": 0.5, "d": 0.1}


def test_keyword_orders_by_bm25_and_drops_zero_scores():
    out = fuse(CANDS, Fusion(method=FusionMethod.KEYWORD))
    assert ranked(out) == ["b", "c", "d"]
    assert scores(out) == {"b": 10.0, "c": 5.0, "d": 2.0}


def test_rrf_hand_computed():
    # Dense ranks: a1 c2 b3 d4. Keyword ranks (zero scores unranked): b1 c2 d3.
    assert RRF_K == 60
    out = fuse(CANDS, Fusion(method=FusionMethod.RRF))
    expected = {
        "a": 1 / 61,
        "b": 1 / 63 + 1 / 61,
        "c": 1 / 62 + 1 / 62,
        "d": 1 / 64 + 1 / 63,
    }
    got = scores(out)
    assert set(got) == set(expected)
    for cid, value in expected.items():
        assert got[cid] == pytest.approx(value, abs=1e-12), cid
    assert ranked(out) == ["b", "c", "d", "a"]


def test_weighted_hand_computed():
    out = fuse(CANDS, Fusion(method=FusionMethod.WEIGHTED, dense_weight=0.7))
    # 0.7 * cos + 0.3 * bm25 / 10
    expected = {"a": 0.63, "b": 0.35 + 0.3, "c": 0.49 + 0.15, "d": 0.07 + 0.06}
    got = scores(out)
    for cid, value in expected.items():
        assert got[cid] == pytest.approx(value, abs=1e-12), cid
    assert ranked(out) == ["b", "c", "a", "d"]


def test_zscore_hand_computed_and_blind_to_each_sides_scale():
    out = fuse(CANDS, Fusion(method=FusionMethod.ZSCORE, dense_weight=0.5))
    # dense: mean 0.55, sd 0.2958; keyword: mean 4.25, sd 3.7666 (population)
    assert scores(out)["a"] == pytest.approx(
        0.5 * 0.35 / 0.295804 + 0.5 * -4.25 / 3.766630, abs=1e-5
    )
    assert ranked(out) == ["b", "c", "a", "d"]
    # BM25 scores ten times larger, cosines squeezed into E5's band: the same ranking, where
    # the weighted fusion follows the larger side.
    rescaled = [Candidate(c.chunk_id, 0.8 + c.dense / 10, c.keyword * 10) for c in CANDS]
    assert ranked(fuse(rescaled, Fusion(method=FusionMethod.ZSCORE, dense_weight=0.5))) == [
        "b",
        "c",
        "a",
        "d",
    ]
    squeezed = [Candidate(c.chunk_id, 0.8 + c.dense / 10, c.keyword) for c in CANDS]
    assert ranked(fuse(squeezed, Fusion(FusionMethod.WEIGHTED, dense_weight=0.7)))[0] == "b"


def test_default_fusion_leans_dense_when_the_keyword_side_is_weak():
    # A: the dense side's clear best; K: the keyword side's.
    cands = [Candidate("A", 0.9, 1.0), Candidate("K", 0.5, 9.0), Candidate("x", 0.4, 0.0)]
    default = Fusion()
    assert default.method is FusionMethod.ZSCORE
    # The best keyword hit holds most of the question's words: the keyword side leads...
    assert ranked(fuse(cands, default, keyword_cover=0.8))[0] == "K"
    # ...under a third of them (another language, only a name in common): the dense side does.
    assert ranked(fuse(cands, default, keyword_cover=0.2))[0] == "A"
    assert fuse(cands, default, keyword_cover=0.2) == fuse(
        cands, Fusion(dense_weight=0.7, weak_keyword_weight=None)
    )
    # No question term anywhere: dense order.
    no_kw = [Candidate(c.chunk_id, c.dense, 0.0) for c in cands]
    assert ranked(fuse(no_kw, default, keyword_cover=0.0)) == ["A", "K", "x"]


def test_cross_lingual_weight_applies_only_to_a_cross_lingual_question():
    cands = [Candidate("A", 0.9, 1.0), Candidate("K", 0.5, 9.0), Candidate("x", 0.4, 0.0)]
    e5 = fusion_for("multilingual-e5-small")
    assert ranked(fuse(cands, e5, keyword_cover=0.8, cross_lingual=False))[0] == "K"
    assert ranked(fuse(cands, e5, keyword_cover=0.8, cross_lingual=True))[0] == "A"
    # MiniLM's default has no such rule.
    assert fuse(cands, Fusion(), 0.8, cross_lingual=True) == fuse(cands, Fusion(), 0.8)


def test_each_embedding_model_gets_its_own_default_fusion(tmp_path):
    from index import Index

    e5 = fusion_for("multilingual-e5-small")
    assert fusion_for("intfloat/multilingual-e5-small") == e5
    assert fusion_for("/models/Multilingual-E5-Small") == e5
    assert fusion_for("all-MiniLM-L6-v2") == DEFAULT_FUSION == Fusion()
    # E5's cosines crowd above 0.7: MiniLM's floor of 0.2 would cut nothing.
    assert e5.min_similarity > 0.7 > DEFAULT_FUSION.min_similarity
    with Index(tmp_path / "e5", embed_model="multilingual-e5-small") as idx:
        assert idx.fusion == e5
    with Index(tmp_path / "minilm") as idx:
        assert idx.fusion == DEFAULT_FUSION
    mine = Fusion(FusionMethod.RRF)
    with Index(tmp_path / "mine", embed_model="multilingual-e5-small", fusion=mine) as idx:
        assert idx.fusion is mine


def test_weighted_without_keyword_hits_is_scaled_dense():
    cands = [Candidate("x", 0.4, 0.0), Candidate("y", 0.8, 0.0)]
    out = fuse(cands, Fusion(method=FusionMethod.WEIGHTED, dense_weight=0.7))
    assert ranked(out) == ["y", "x"]
    assert scores(out)["y"] == pytest.approx(0.56)
    assert scores(out)["x"] == pytest.approx(0.28)


def test_fuse_ties_keep_candidate_order():
    cands = [Candidate("p", 0.5, 1.0), Candidate("q", 0.5, 1.0), Candidate("r", 0.5, 1.0)]
    for method in FusionMethod:
        assert ranked(fuse(cands, Fusion(method=method))) == ["p", "q", "r"], method


def test_fuse_empty():
    for method in FusionMethod:
        assert fuse([], Fusion(method=method)) == []


def test_fusion_floor():
    floor = Fusion()  # MiniLM's
    assert floor.passes(similarity=0.25, coverage=0.0)
    assert floor.passes(similarity=0.0, coverage=0.5)
    assert not floor.passes(similarity=0.19, coverage=0.49)


@pytest.mark.parametrize("value", ["rrf", "RRF", "Weighted", "dense", "keyword"])
def test_fusion_method_parse(value):
    assert FusionMethod.parse(value).value == value.lower()


def test_fusion_method_parse_unknown_lists_valid_values():
    with pytest.raises(ConfigError) as info:
        FusionMethod.parse("nope")
    message = str(info.value)
    assert "nope" in message
    for valid in ("dense", "keyword", "rrf", "weighted"):
        assert valid in message


def _news_chunks() -> list[tuple[str, str, str, str]]:
    """Paragraphs of the shipped news test articles, as (chunk id, doc id, text, language)."""
    out = []
    for path in sorted((ROOT / "tests" / "data" / "news").glob("*")):
        for n, text in enumerate(p for p in path.read_text(encoding="utf-8").split("\n\n") if p):
            out.append((f"{path.name}:{n}", path.name, text, guess_language(text)))
    return out


@pytest.mark.parametrize("block", [1 << 20, 37])
def test_keyword_index_scores_are_bm25s_own_and_survive_saving(tmp_path, monkeypatch, block):
    # KeywordIndex builds bm25s's score matrix itself, in less memory: it must give what
    # bm25s's own `index` gives on the same token numbers, for every chunk and query, when
    # the chunks come back from its spill files in one block or in many.
    import bm25s

    from index import keyword

    monkeypatch.setattr(keyword._Spill, "BLOCK", block)
    chunks = _news_chunks()
    assert len(chunks) > 50
    mine = KeywordIndex.from_chunks(chunks, spill=tmp_path)
    assert not list(tmp_path.iterdir())  # the spill files are gone
    vocab: dict[str, int] = {}
    numbers = [[vocab.setdefault(t, len(vocab)) for t in tokens(c[2], c[3])] for c in chunks]
    theirs = bm25s.BM25()
    theirs.index((numbers, vocab), show_progress=False)
    assert mine.bm25.vocab_dict == theirs.vocab_dict
    queries = [c[2].split(".")[0] for c in chunks[::7]] + ["Pourquoi l'agent a-t-il été arrêté ?"]
    mine.save(tmp_path, 3)
    loaded = KeywordIndex.load(tmp_path, 3)
    for query in queries:
        terms = [t for t in query_tokens(query) if t in vocab]
        expected = theirs.get_scores(terms)
        assert expected.max() > 0, query
        np.testing.assert_allclose(mine.scores(query), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(loaded.scores(query), expected, rtol=1e-5, atol=1e-6)
    assert KeywordIndex.from_chunks([]).scores("anything").size == 0


# --- app.settings -------------------------------------------------------------------------


def toml(tmp_path: Path, body: str) -> Path:
    (tmp_path / "dossier.toml").write_text(body, encoding="utf-8")
    return tmp_path


def test_defaults_without_flags_env_or_file(tmp_path):
    values = resolve({}, env={}, cwd=tmp_path)
    assert values == {name: s.default for name, s in BY_NAME.items()}
    assert values["top_k"] == 5
    assert values["index_dir"] == ".dossier"


def test_toml_beats_default(tmp_path):
    toml(tmp_path, 'top_k = 3\nindex_dir = "from-toml"\n')
    values = resolve({}, env={}, cwd=tmp_path)
    assert values["top_k"] == 3
    assert values["index_dir"] == "from-toml"
    assert values["embed_model"] == BY_NAME["embed_model"].default


def test_env_beats_toml(tmp_path):
    toml(tmp_path, 'top_k = 3\nindex_dir = "from-toml"\n')
    values = resolve({}, env={"DOSSIER_TOP_K": "7", "DOSSIER_INDEX_DIR": "from-env"}, cwd=tmp_path)
    assert values["top_k"] == 7
    assert values["index_dir"] == "from-env"


def test_flag_beats_env_and_toml(tmp_path):
    toml(tmp_path, 'top_k = 3\nindex_dir = "from-toml"\n')
    values = resolve(
        {"top_k": 9, "index_dir": "from-flag"},
        env={"DOSSIER_TOP_K": "7", "DOSSIER_INDEX_DIR": "from-env"},
        cwd=tmp_path,
    )
    assert values["top_k"] == 9
    assert values["index_dir"] == "from-flag"


def test_flag_left_at_none_falls_through(tmp_path):
    toml(tmp_path, "top_k = 3\n")
    values = resolve({"top_k": None}, env={"DOSSIER_TOP_K": "7"}, cwd=tmp_path)
    assert values["top_k"] == 7


def test_empty_env_value_is_ignored(tmp_path):
    toml(tmp_path, "top_k = 3\n")
    assert resolve({}, env={"DOSSIER_TOP_K": ""}, cwd=tmp_path)["top_k"] == 3


def test_env_top_k_is_an_int(tmp_path):
    assert resolve({}, env={"DOSSIER_TOP_K": "12"}, cwd=tmp_path)["top_k"] == 12


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "2.5"])
def test_bad_top_k_in_env_names_the_variable(tmp_path, bad):
    with pytest.raises(ConfigError) as info:
        resolve({}, env={"DOSSIER_TOP_K": bad}, cwd=tmp_path)
    message = str(info.value)
    assert "DOSSIER_TOP_K" in message
    assert bad in message


def test_bad_top_k_in_toml_names_the_file(tmp_path):
    toml(tmp_path, 'top_k = "many"\n')
    with pytest.raises(ConfigError) as info:
        resolve({}, env={}, cwd=tmp_path)
    assert "dossier.toml" in str(info.value)
    assert "top_k" in str(info.value)


def test_unknown_key_in_toml_is_refused(tmp_path):
    toml(tmp_path, "top_k = 3\ntopk = 4\n")
    with pytest.raises(ConfigError) as info:
        resolve({}, env={}, cwd=tmp_path)
    message = str(info.value)
    assert "topk" in message
    assert "top_k" in message  # lists the known settings
    assert "dossier.toml" in message


def test_invalid_toml_is_refused(tmp_path):
    toml(tmp_path, "top_k = = 3\n")
    with pytest.raises(ConfigError, match="TOML"):
        resolve({}, env={}, cwd=tmp_path)


def test_minmax_spreads_crowded_cosines_before_weighing_them():
    # E5-like cosines (all between 0.80 and 0.86): weighted fusion lets the keyword side
    # decide; min-max fusion lets the clearly better dense match win.
    candidates = [
        Candidate("dense-best", 0.86, 1.0),
        Candidate("keyword-best", 0.80, 4.0),
        Candidate("other", 0.81, 0.0),
    ]
    weighted = fuse(candidates, Fusion(FusionMethod.WEIGHTED, dense_weight=0.7))
    minmax = fuse(candidates, Fusion(FusionMethod.MINMAX, dense_weight=0.7))
    assert weighted[0][0].chunk_id == "keyword-best"
    assert minmax[0][0].chunk_id == "dense-best"
    assert [round(s, 3) for _, s in minmax] == [0.775, 0.3, 0.117]
    assert FusionMethod.parse("MinMax") is FusionMethod.MINMAX
    same = [Candidate("a", 0.8, 0.0), Candidate("b", 0.8, 0.0)]
    assert [c.chunk_id for c, _ in fuse(same, Fusion(FusionMethod.MINMAX))] == ["a", "b"]
