"""Recompute recent SimHashes: a shingle's bits now come from its words' hashes.

A SimHash hashed each three-word shingle's text with BLAKE2b, most of its time; it now hashes
each distinct word once and mixes the three words' values (`collectors.dedup`, issue 18).
The two kinds of value cannot be compared, and near-duplicates are only looked for among the
last 30 days' originals (`collectors.store.NEAR_DUPLICATE_WINDOW`), so only those rows are
recomputed, as 0005 did; older values are never compared again. The downgrade leaves the
values: a SimHash only decides near-duplicates among new arrivals.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WINDOW = timedelta(days=30)
BATCH = 1000


def upgrade() -> None:
    from collectors.dedup import simhash  # the rule the collectors apply from now on

    bind = op.get_bind()
    articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("text", sa.Text),
                        sa.column("summary", sa.Text), sa.column("simhash", sa.BigInteger),
                        sa.column("first_seen_at", sa.DateTime))
    since = datetime.now(UTC).replace(tzinfo=None) - WINDOW
    rows = bind.execute(sa.select(articles.c.id, articles.c.text, articles.c.summary)
                        .where(articles.c.simhash.is_not(None),
                               articles.c.first_seen_at >= since)
                        .order_by(articles.c.id)).all()
    update = (articles.update().where(articles.c.id == sa.bindparam("row_id"))
              .values(simhash=sa.bindparam("value")))
    for start in range(0, len(rows), BATCH):
        bind.execute(update, [{"row_id": article_id, "value": simhash(text or summary)}
                              for article_id, text, summary in rows[start:start + BATCH]])


def downgrade() -> None:
    pass
