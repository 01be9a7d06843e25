"""Full-text search (FTS5 on SQLite, a GIN index on PostgreSQL) and stored weekly digests.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_DOCUMENT = "coalesce(title, '') || ' ' || coalesce(text, coalesce(summary, ''))"


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("week", name=op.f("uq_digests_week")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_fts ON articles "
                   f"USING gin (to_tsvector('simple', {PG_DOCUMENT}))")
        return
    # A table of its own (not external-content) keeps triggers simple and the index robust.
    op.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, tokenize='unicode61')")
    op.execute("INSERT INTO articles_fts(rowid, title, body) "
               "SELECT id, coalesce(title, ''), coalesce(text, coalesce(summary, '')) FROM articles")
    op.execute("""CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, body)
        VALUES (new.id, coalesce(new.title, ''), coalesce(new.text, coalesce(new.summary, '')));
    END""")
    op.execute("""CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        DELETE FROM articles_fts WHERE rowid = old.id;
    END""")
    op.execute("""CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text, summary
        ON articles BEGIN
        UPDATE articles_fts SET title = coalesce(new.title, ''),
               body = coalesce(new.text, coalesce(new.summary, '')) WHERE rowid = new.id;
    END""")


def downgrade() -> None:
    op.drop_table("digests")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        return
    for trigger in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS articles_fts")
