"""Recompute recent SimHashes with the one tokenizer (Chinese as words, dotted tokens whole).

Near-duplicates are only looked for among the last 30 days' originals
(`collectors.store.NEAR_DUPLICATE_WINDOW`), so only those rows are recomputed; older values
are never compared again. The downgrade leaves the values: the old tokenizer is gone, and a
SimHash only decides near-duplicates among new arrivals.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WINDOW = timedelta(days=30)


def upgrade() -> None:
    from collectors.dedup import simhash  # the rule the collectors apply from now on

    bind = op.get_bind()
    articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("text", sa.Text),
                        sa.column("summary", sa.Text), sa.column("simhash", sa.BigInteger),
                        sa.column("first_seen_at", sa.DateTime))
    since = datetime.now(UTC).replace(tzinfo=None) - WINDOW
    rows = bind.execute(sa.select(articles.c.id, articles.c.text, articles.c.summary)
                        .where(articles.c.simhash.is_not(None),
                               articles.c.first_seen_at >= since)).all()
    for article_id, text, summary in rows:
        bind.execute(articles.update().where(articles.c.id == article_id)
                     .values(simhash=simhash(text or summary)))


def downgrade() -> None:
    pass
