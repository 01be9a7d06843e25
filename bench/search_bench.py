"""Search: words indexed by the one tokenizer (what cait does) against trigram indexes.

Loads the 859 real hand-labelled articles of `classify/anchors/articles.jsonl` (English and
Chinese, 253 with Chinese text) `--copies` times under distinct URLs (default 4: 3,436
articles), then for each query prints hits and median latency of:

- words   — cait's search (`reports.search.search`): FTS5 / tsvector over title, body and
            `search_words` (Chinese segmented by rjieba), the query parsed by `reports.query`;
- trigram — FTS5's trigram tokenizer on SQLite, pg_trgm's GIN index on PostgreSQL, every term
            matched as a case-insensitive substring (`LIKE` / `ILIKE '%term%'`), the same
            query tree (AND, OR, NOT) compiled to those conditions.

Also the time to build each index and its size. Run:
.venv/bin/python -m bench.search_bench [--copies 4] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from common.text import has_cjk
from db import migrate
from db.models import Article
from db.session import make_engine, session_scope
from reports.query import AllOf, AnyOf, Node, Term, parse
from reports.search import search

ARTICLES = Path(__file__).resolve().parents[1] / "classify" / "anchors" / "articles.jsonl"
QUERIES = ["Huawei", "SMIC", "Huawei OR SMIC", "华为", "昇腾", "华为 昇腾", "Huawei 华为",
           '"export controls"', "chips -Nvidia", "AI", "芯片", "大模型", "人工智能 开源",
           "DeepSeek OR 深度求索"]
RUNS = 5


def load(engine: Engine, copies: int) -> None:
    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]
    with session_scope(engine) as s:
        for copy in range(copies):
            for row in rows:  # the ORM insert fills search_words, as the collectors' does
                s.add(Article(url=f"{row['url']}#{copy}", canonical_url=f"{row['url']}#{copy}",
                              title=row["title"], text=row["text"]))
            s.flush()


def _like(node: Node, params: dict[str, str], column: str, op: str) -> str:
    if isinstance(node, Term):
        name = f"p{len(params)}"
        joiner = "" if all(has_cjk(w) for w in node.words) else " "
        params[name] = "%" + joiner.join(node.words) + "%"
        return f"{column} {op} :{name}"
    parts = node.terms if isinstance(node, AllOf) else node.options
    glue = " AND " if isinstance(node, AllOf) else " OR "
    assert isinstance(node, AllOf | AnyOf)
    return "(" + glue.join(_like(p, params, column, op) for p in parts) + ")"


def trigram_sql(query: str, dialect: str) -> tuple[str, dict[str, str]]:
    """The query tree as substring conditions on the trigram-indexed document."""
    tree = parse(query)
    params: dict[str, str] = {}
    if dialect == "sqlite":
        column, op, source = "doc", "LIKE", "articles_tri"
    else:
        column, op, source = "(coalesce(title, '') || ' ' || coalesce(text, ''))", "ILIKE", \
            "articles"
    where = [_like(n, params, column, op) for n in tree.include]
    where += [f"NOT {_like(n, params, column, op)}" for n in tree.exclude]
    key = "rowid" if dialect == "sqlite" else "id"
    return f"SELECT {key} FROM {source} WHERE " + " AND ".join(where), params


def build_trigram(engine: Engine) -> tuple[float, int]:
    started = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE VIRTUAL TABLE articles_tri USING "
                              "fts5(doc, tokenize='trigram case_sensitive 0')"))
            conn.execute(text("INSERT INTO articles_tri(rowid, doc) SELECT id, "
                              "coalesce(title, '') || ' ' || coalesce(text, '') FROM articles"))
        else:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(text("CREATE INDEX ix_articles_trgm ON articles USING gin "
                              "((coalesce(title, '') || ' ' || coalesce(text, '')) "
                              "gin_trgm_ops)"))
    return time.perf_counter() - started, size(engine, "trigram")


def size(engine: Engine, which: str) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            prefix = "articles_tri" if which == "trigram" else "articles_fts"
            return int(conn.execute(text(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE :p"),
                {"p": prefix + "%"}).scalar() or 0)
        index = "ix_articles_trgm" if which == "trigram" else "ix_articles_fts"
        return int(conn.execute(text("SELECT pg_relation_size(:i)"), {"i": index}).scalar())


def timed(action: Any) -> tuple[float, int]:
    times, hits = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        hits = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, hits


def run(engine: Engine, copies: int, label: str) -> None:
    migrate.upgrade(engine)
    started = time.perf_counter()
    load(engine, copies)
    load_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM articles")).scalar()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE articles"))
    words_size = size(engine, "words")
    tri_seconds, tri_size = build_trigram(engine)
    print(f"\n{label}: {count} articles; loading with search_words {load_seconds:.1f} s; "
          f"index words {words_size / 1e6:.1f} MB, trigram {tri_size / 1e6:.1f} MB "
          f"(built in {tri_seconds:.1f} s)")
    print("| query | words: hits | words: ms (top 20, ranked) | trigram: hits | "
          "trigram: ms (all ids) |")
    print("|---|---:|---:|---:|---:|")
    for query in QUERIES:
        def by_words(limit: int = 20, query: str = query) -> int:  # the CLI's default
            with session_scope(engine) as s:
                return len(search(s, query, limit=limit))

        sql, params = trigram_sql(query, engine.dialect.name)

        def by_trigram(sql: str = sql, params: dict[str, str] = params) -> int:
            with engine.connect() as conn:
                return len(conn.execute(text(sql), params).all())

        w_ms, _ = timed(by_words)
        w_hits = by_words(100_000)
        t_ms, t_hits = timed(by_trigram)
        print(f"| `{query}` | {w_hits} | {w_ms:.1f} | {t_hits} | {t_ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL to fill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        run(engine, args.copies, "SQLite")
        engine.dispose()
    if args.postgres:
        engine = make_engine(args.postgres)
        run(engine, args.copies, "PostgreSQL")
        engine.dispose()


if __name__ == "__main__":
    main()
