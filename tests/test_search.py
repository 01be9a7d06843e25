"""Search: the query language on SQLite and PostgreSQL alike, Chinese and mixed queries,
malformed queries as one line, and the results through the CLI (id, full URL, formats)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from cli import app
from db.session import session_scope
from reports.query import AllOf, AnyOf, Query, QueryError, Term, parse, to_fts5, to_tsquery
from reports.search import search
from tests.test_reports import MONDAY, add_article

runner = CliRunner()

# (title, body): what each query in the table must and must not find
ARTICLES = {
    "huawei-en": ("Huawei ships Ascend 910C accelerators",
                  "Huawei said its Ascend chips are made by SMIC on a 7nm process."),
    "smic-en": ("SMIC expands capacity", "The foundry faces export-controls on tools."),
    "huawei-zh": ("华为发布昇腾芯片", "华为公司今天发布了新一代昇腾人工智能芯片。"),
    "huawei-only-zh": ("华为手机销量上升", "华为的智能手机在国内市场表现良好。"),
    "mixed": ("Huawei 华为 unveils Ascend", "华为在深圳发布昇腾910C，Huawei says."),
    "qwen": ("阿里巴巴开源通义千问大模型", "阿里云发布通义千问新版本，开放模型权重。"),
    "phrase": ("Export controls tighten", "New export controls on chips were announced."),
    "split": ("Controls on export", "Officials discuss export of chips and new controls."),
    "dotted": ("01.ai and Qwen2.5 compared", "Kai-Fu Lee's 01.ai trails Qwen2.5 on tests."),
}


@pytest.fixture
def searchable(engine: Engine) -> dict[str, int]:
    ids = {}
    with session_scope(engine) as s:
        for n, (key, (title, body)) in enumerate(ARTICLES.items()):
            ids[key] = add_article(s, n, MONDAY, {"chips"}, title=title, body=body)
    return ids


def found(engine: Engine, ids: dict[str, int], query: str) -> set[str]:
    with session_scope(engine) as s:
        hits = {h.id for h in search(s, query, limit=100)}
    return {key for key, i in ids.items() if i in hits}


@pytest.mark.parametrize(("query", "expected"), [
    ("Huawei", {"huawei-en", "mixed"}),
    ("huawei", {"huawei-en", "mixed"}),
    ("SMIC", {"huawei-en", "smic-en"}),
    ("Huawei OR SMIC", {"huawei-en", "smic-en", "mixed"}),
    ("华为", {"huawei-zh", "huawei-only-zh", "mixed"}),
    ("昇腾", {"huawei-zh", "mixed"}),
    ("华为 昇腾", {"huawei-zh", "mixed"}),
    ("华为昇腾", {"huawei-zh", "mixed"}),                 # an unspaced run: every word
    ("Huawei 华为", {"mixed"}),
    ("华为 -昇腾", {"huawei-only-zh"}),
    ("Huawei -SMIC", {"mixed"}),
    ("chips -\"export controls\"", {"huawei-en", "split"}),
    ("\"export controls\"", {"phrase", "smic-en"}),      # export-controls: adjacent words
    ("export controls", {"phrase", "split", "smic-en"}),
    ("\"华为 昇腾\"", set()),                              # not next to each other anywhere
    ("\"发布昇腾\"", {"huawei-zh", "mixed"}),
    ("千问", {"qwen"}),                                   # a word inside 通义千问
    ("模型", {"qwen"}),                                   # and inside 大模型
    ("910C", {"huawei-en", "mixed"}),                     # Latin inside a Chinese run
    ("01.ai", {"dotted"}),
    ("Qwen2.5", {"dotted"}),
    ("华为 OR SMIC -手机", {"huawei-en", "smic-en", "huawei-zh", "mixed"}),
])
def test_query_forms_mean_the_same_on_both_databases(engine: Engine,
                                                     searchable: dict[str, int], query: str,
                                                     expected: set[str]) -> None:
    assert found(engine, searchable, query) == expected


def test_articles_stored_by_the_collectors_are_found_in_chinese(engine: Engine) -> None:
    """The Core INSERT the collectors use fills search_words too (a column default)."""
    from collectors.dedup import NearDuplicateIndex
    from collectors.store import NewArticle, store_articles

    with session_scope(engine) as s:
        stored = store_articles(s, [NewArticle(
            "https://x.example/1", "https://x.example/1", "中芯国际扩产", None,
            "中芯国际宣布扩大先进工艺产能。", None, None, MONDAY, None)],
            NearDuplicateIndex(), MONDAY)
        assert [h.id for h in search(s, "中芯国际 产能")] == stored.new_ids
        words = s.scalar(text("SELECT search_words FROM articles"))
        assert words and {"中芯", "产能"} <= set(words.split())


def test_ranking_and_snippets(engine: Engine, searchable: dict[str, int]) -> None:
    with session_scope(engine) as s:
        hits = search(s, "Huawei")
    assert {h.id for h in hits} == {searchable["huawei-en"], searchable["mixed"]}
    assert all(h.snippet for h in hits)


def test_originals_only_leaves_out_near_duplicates_inside_the_limit(
        engine: Engine, searchable: dict[str, int], db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The list behind a timeline point counts what the point counts: near-duplicates are
    left out by the query itself, so `limit` rows are still `limit` originals."""
    copy, original = searchable["huawei-en"], searchable["mixed"]
    with session_scope(engine) as s:
        s.execute(text("UPDATE articles SET duplicate_of = :o WHERE id = :c"),
                  {"o": original, "c": copy})
    with session_scope(engine) as s:
        assert {h.id for h in search(s, "Huawei")} == {copy, original}
        assert [h.id for h in search(s, "Huawei", originals_only=True)] == [original]
        newest = search(s, originals_only=True, limit=len(searchable) - 1)
        assert len(newest) == len(searchable) - 1 and copy not in {h.id for h in newest}
    monkeypatch.setenv("DATABASE_URL", db_url)
    listed = runner.invoke(app, ["search", "Huawei", "--no-duplicates", "--json"])
    assert listed.exit_code == 0 and [h["id"] for h in json.loads(listed.output)] == [original]


@pytest.mark.parametrize(("query", "message"), [
    ('"export controls', "unbalanced quote"),
    ('Huawei "', "unbalanced quote"),
    ("Huawei -", "lone '-'"),
    ("-", "lone '-'"),
    ("OR Huawei", "OR needs a term on each side"),
    ("Huawei OR", "OR needs a term on each side"),
    ("Huawei OR OR SMIC", "OR needs a term on each side"),
    ("Huawei OR -SMIC", "cannot be a side of OR"),
    ("-Huawei", "besides the -excluded"),
    ("***", "nothing to search for"),
    ('""', "no words"),
])
def test_malformed_queries_are_one_line(engine: Engine, query: str, message: str,
                                        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QueryError, match=message), session_scope(engine) as s:
        search(s, query)
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = runner.invoke(app, ["search", "--", query])  # `--`: -Huawei is no option
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "SQL" not in lines[0], result.output


def test_the_parser_builds_one_tree() -> None:
    assert parse("chips Huawei OR SMIC -\"export controls\"") == Query(
        (Term(("chips",)), AnyOf((Term(("huawei",)), Term(("smic",))))),
        (Term(("export", "controls")),))
    assert parse("华为昇腾") == Query((AllOf((Term(("华为",)), Term(("昇腾",)))),), ())
    assert parse("gpt-4o") == Query((Term(("gpt", "4o")),), ())
    assert parse("or") == Query((Term(("or",)),), ())     # only upper-case OR is the operator
    tree = parse("a OR b c -d")
    assert to_fts5(tree) == '("a" OR "b") AND "c" NOT ("d")'.replace(
        '("a" OR "b") AND "c"', '(("a" OR "b") AND "c")')
    assert to_tsquery(tree) == "(('a') | ('b')) & ('c') & !('d')"


def test_user_text_never_reaches_sql_unquoted(engine: Engine,
                                              searchable: dict[str, int]) -> None:
    with session_scope(engine) as s:
        for hostile in ["x' OR '1'='1", "Huawei'); DROP TABLE articles; --x", "NEAR(a b)",
                        "a:b ^c d* {title}:x", "\\' \\\" x", "huawei AND smic NOT x"]:
            try:
                search(s, hostile)
            except QueryError:
                pass  # a parse error is one line; what matters is that no SQL ran on it
        assert s.scalar(text("SELECT count(*) FROM articles")) == len(ARTICLES)
    # FTS5's own operators typed by a user are words, not operators
    assert to_fts5(parse("huawei AND smic")) == '"huawei" AND "and" AND "smic"'


def test_cli_search_shows_ids_and_full_urls(engine: Engine, searchable: dict[str, int],
                                            db_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["search", "华为 昇腾"])
    assert result.exit_code == 0, result.output
    for key in ("huawei-zh", "mixed"):
        assert f"https://news.example/{key_number(key)}" in result.output
        assert f" {searchable[key]} " in result.output
    as_json = json.loads(runner.invoke(app, ["search", "Huawei", "--json"]).output)
    assert as_json == json.loads(runner.invoke(app, ["search", "Huawei", "--format",
                                                     "json"]).output)
    assert set(as_json[0]) == {"id", "title", "source", "date", "url", "themes", "china_ai",
                               "snippet"}
    rows = list(csv.DictReader(io.StringIO(
        runner.invoke(app, ["search", "Huawei", "--format", "csv"]).output)))
    assert {int(r["id"]) for r in rows} == {searchable["huawei-en"], searchable["mixed"]}
    assert set(rows[0]) == set(as_json[0])
    assert rows[0]["url"].startswith("https://news.example/")


def key_number(key: str) -> int:
    return list(ARTICLES).index(key)
