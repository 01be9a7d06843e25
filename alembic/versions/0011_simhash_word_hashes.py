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

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from collectors.dedup import simhash  # the rule the collectors apply from now on
    from db.migrate import rehash_recent

    rehash_recent(op.get_bind(), simhash)


def downgrade() -> None:
    pass
