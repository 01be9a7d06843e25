"""Report latency on synthetic databases: timeline p50/p95 and digest time, SQLite and PostgreSQL.

Generates N articles (default 10k and 100k; add 1000000 with --sizes) over three years with
a realistic theme mix (about 70 % about China's AI; chips 35 %, talent 25 %, open_source
25 %, data 15 % of those, some with two themes; 3 % near-duplicates), then times
`build_timeline` (the CLI's query) and, as the baseline, a naive GROUP BY over all rows of
the same join, and one `build_digest`.

Run: .venv/bin/python -m bench.report_bench [--sizes 10000 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from common.vocabulary import RELEVANCE, THEMES
from db import migrate
from db.models import Article, ArticleTheme
from db.rollup import rebuild
from db.session import make_engine, scratch_schema, session_scope
from reports.digest import build_digest, last_complete_week
from reports.timeline import build_timeline

MIX = {"chips": 0.35, "talent": 0.25, "open_source": 0.25, "data": 0.15}
NAIVE = """SELECT t.theme, count(*) FROM articles a
JOIN article_themes r ON r.article_id = a.id AND r.theme = 'china_ai' AND r.assigned
JOIN article_themes t ON t.article_id = a.id AND t.theme <> 'china_ai' AND t.assigned
WHERE a.duplicate_of IS NULL GROUP BY t.theme"""


def generate(engine: Engine, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=3 * 365)
    batch_articles, batch_themes = [], []
    with engine.begin() as conn:
        for i in range(1, n + 1):
            when = start + timedelta(seconds=rng.uniform(0, 3 * 365 * 86400))
            batch_articles.append({
                "id": i, "url": f"https://s{i % 300}.example/{i}",
                "canonical_url": f"https://s{i % 300}.example/{i}", "title": f"Story {i}",
                "published_at": when, "first_seen_at":
                when, "discovered_via": "feed", "depth": 0,
                "duplicate_of": i - 1 if i > 1 and rng.random() < 0.03 else None})
            china = rng.random() < 0.7
            chosen = {rng.choices(list(MIX), weights=list(MIX.values()))[0]}
            if rng.random() < 0.2:
                chosen.add(rng.choice(THEMES))
            for theme in [*THEMES, RELEVANCE]:
                assigned = china if theme == RELEVANCE else theme in chosen
                batch_themes.append({"article_id": i, "theme": theme, "score": 0.9 if assigned
                                     else 0.1, "assigned": assigned, "model_version": "bench",
                                     "assigned_at": now, "evidence": []})
            if len(batch_articles) >= 5000:
                conn.execute(insert(Article.__table__), batch_articles)
                conn.execute(insert(ArticleTheme.__table__), batch_themes)
                batch_articles, batch_themes = [], []
        if batch_articles:
            conn.execute(insert(Article.__table__), batch_articles)
            conn.execute(insert(ArticleTheme.__table__), batch_themes)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def seed(engine: Engine, n: int) -> float:
    """`generate` N articles and rebuild the rollup; the seconds it took."""
    started = time.perf_counter()
    generate(engine, n)
    with session_scope(engine) as s:
        rebuild(s)  # bulk-loaded rows bypass the tagging pass that keeps the rollup
    if engine.dialect.name == "postgresql":
        # what autovacuum does after a bulk load in a running database; queried at once,
        # the tables would be planned without statistics (sequential scans for IN lists)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


@contextmanager
def bench_database(kind: str, n: int, postgres: str) -> Iterator[str]:
    """The URL of an empty, migrated database of `kind` (sqlite | postgresql) for N articles:
    a temporary SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            yield url
        return
    with scratch_schema(postgres, f"cait_bench_{n}") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


def each_database(sizes: list[int], databases: list[str], postgres: str
                  ) -> Iterator[tuple[str, int, str]]:
    """(kind, size, URL of an empty migrated database) for every size and kind asked for,
    smallest first, SQLite before PostgreSQL; each database is dropped when the loop moves on."""
    for n in sizes:
        for kind in ("sqlite", "postgresql"):
            if kind in databases:
                with bench_database(kind, n, postgres) as url:
                    yield kind, n, url


def measure(name: str, engine: Engine, n: int) -> None:
    gen_s = seed(engine, n)

    def timeline() -> object:
        with session_scope(engine) as s:
            return build_timeline(s)

    def naive() -> object:
        with engine.connect() as conn:
            return conn.execute(text(NAIVE)).all()

    def digest() -> object:
        with session_scope(engine) as s:
            return build_digest(s, last_complete_week(datetime.now(UTC)))

    repeat = 11 if n <= 100_000 else 5
    t50, t95 = timed(timeline, repeat)
    n50, n95 = timed(naive, repeat)
    d50, _ = timed(digest, 3)
    print(f"{name:10} {n:>9,} {gen_s:8.1f} {t50:10.0f} {t95:8.0f} {n50:10.0f} {n95:8.0f} "
          f"{d50 / 1000:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"{'database':10} {'articles':>9} {'gen s':>8} {'timeline':>10} {'p95':>8} "
          f"{'naive':>10} {'p95':>8} {'digest s':>9}")
    print(f"{'':10} {'':>9} {'':>8} {'p50 ms':>10} {'ms':>8} {'p50 ms':>10} {'ms':>8}")
    for kind, n, url in each_database(args.sizes, args.databases, args.postgres):
        engine = make_engine(url)
        try:
            measure(kind, engine, n)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
