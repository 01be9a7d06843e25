"""The theme_daily rollup that makes timelines fast, filled from existing articles.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "theme_daily",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("theme", sa.String(length=32), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "theme", name=op.f("pk_theme_daily")),
    )
    dated = "COALESCE(a.published_at, a.first_seen_at)"
    day = (f"to_char({dated}, 'YYYY-MM-DD')" if op.get_bind().dialect.name == "postgresql"
           else f"date({dated})")
    relevant = ("FROM articles a JOIN article_themes r ON r.article_id = a.id "
                "AND r.theme = 'china_ai' AND r.assigned")
    op.execute(f"INSERT INTO theme_daily (day, theme, articles) "
               f"SELECT {day}, '*', count(*) {relevant} "
               f"WHERE a.duplicate_of IS NULL GROUP BY {day}")
    op.execute(f"INSERT INTO theme_daily (day, theme, articles) "
               f"SELECT {day}, t.theme, count(*) {relevant} "
               f"JOIN article_themes t ON t.article_id = a.id AND t.theme <> 'china_ai' "
               f"AND t.assigned WHERE a.duplicate_of IS NULL GROUP BY {day}, t.theme")


def downgrade() -> None:
    op.drop_table("theme_daily")
