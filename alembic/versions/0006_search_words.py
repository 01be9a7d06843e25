"""Search that splits Chinese: `articles.search_words` in the full-text index.

Neither FTS5's unicode61 tokenizer nor PostgreSQL's parser splits Chinese into words, so
`华为 昇腾` could never match. Each article now carries its words as the one tokenizer
(`common.text.index_words`) splits them, when it holds Chinese, and the index reads them
beside the title and body: a third FTS5 column on SQLite; on PostgreSQL a stored generated
column `search_vector` (with the GIN index), so that neither matching nor ranking
re-parses article text (the expression index of 0003 recomputed the tsvector of every row
that ranking touched: 1 s for 232 hits). PostgreSQL's document also has its ASCII
punctuation turned into spaces, so that it splits `01.ai`, `Qwen2.5` and `a@b.com` into the
words FTS5 and the query parser see (its own parser keeps hosts and version numbers whole). bench/search_bench.py measured
this against trigram indexes (bench/README.md).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BODY = "coalesce(text, coalesce(summary, ''))"
OLD_PG_DOCUMENT = f"coalesce(title, '') || ' ' || {BODY}"
PG_DOCUMENT = (f"regexp_replace(coalesce(title, '') || ' ' || {BODY} || ' ' || "
               f"coalesce(search_words, ''), '[[:punct:]]+', ' ', 'g')")
BATCH = 500


def _backfill() -> None:
    from db.models import search_words  # the rule new rows get from now on

    bind = op.get_bind()
    articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("title", sa.Text),
                        sa.column("text", sa.Text), sa.column("summary", sa.Text),
                        sa.column("search_words", sa.Text))
    last = 0
    while True:  # in batches by id: a million articles are never in memory at once
        rows = bind.execute(sa.select(articles.c.id, articles.c.title, articles.c.text,
                                      articles.c.summary)
                            .where(articles.c.id > last).order_by(articles.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        for article_id, title, text, summary in rows:
            found = search_words(title, text or summary)
            if found:
                bind.execute(articles.update().where(articles.c.id == article_id)
                             .values(search_words=found))
        last = rows[-1][0]


def _sqlite_fts(columns: Sequence[tuple[str, str]]) -> None:
    """(Re)create articles_fts and its triggers for (column, source expression) pairs."""
    for trigger in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS articles_fts")
    names = ", ".join(name for name, _ in columns)
    op.execute(f"CREATE VIRTUAL TABLE articles_fts USING fts5({names}, tokenize='unicode61')")
    values = ", ".join(expr for _, expr in columns)
    op.execute(f"INSERT INTO articles_fts(rowid, {names}) SELECT id, {values} FROM articles")
    new = ", ".join(expr.replace("coalesce(", "coalesce(new.") for _, expr in columns)
    op.execute(f"""CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, {names}) VALUES (new.id, {new});
    END""")
    op.execute("""CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
    END""")
    sources = ", ".join(dict.fromkeys(
        c for c in ("title", "text", "summary", "search_words") if any(
            c in expr for _, expr in columns)))
    assignments = ", ".join(
        f"{name} = {expr.replace('coalesce(', 'coalesce(new.')}" for name, expr in columns)
    op.execute(f"""CREATE TRIGGER articles_fts_update AFTER UPDATE OF {sources}
        ON articles BEGIN
        UPDATE articles_fts SET {assignments} WHERE rowid = new.id;
    END""")


def upgrade() -> None:
    op.add_column("articles", sa.Column("search_words", sa.Text(), nullable=True))
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        op.execute(f"ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS "
                   f"AS (to_tsvector('simple', {PG_DOCUMENT})) STORED")
        op.execute("CREATE INDEX ix_articles_fts ON articles USING gin (search_vector)")
        return
    _sqlite_fts([("title", "coalesce(title, '')"), ("body", BODY),
                 ("words", "coalesce(search_words, '')")])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        op.execute("ALTER TABLE articles DROP COLUMN search_vector")
        op.execute(f"CREATE INDEX ix_articles_fts ON articles "
                   f"USING gin (to_tsvector('simple', {OLD_PG_DOCUMENT}))")
    else:
        _sqlite_fts([("title", "coalesce(title, '')"), ("body", BODY)])
    # SQLite ≥ 3.35 drops a column in place once no trigger names it (a batch copy of the
    # table would lose the FTS triggers and trip over the views)
    op.drop_column("articles", "search_words")
