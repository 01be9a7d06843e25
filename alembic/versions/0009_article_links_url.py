"""An index on article_links.url: storing a page's related links looks up which other articles
listed the same links (`collectors.site_lists`: a site-wide list is stored skipped).

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_article_links_url", "article_links", ["url"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_article_links_url", table_name="article_links")
