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

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from collectors.dedup import simhash  # the rule the collectors apply from now on
    from db.migrate import rehash_recent

    rehash_recent(op.get_bind(), simhash)


def downgrade() -> None:
    pass
