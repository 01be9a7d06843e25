"""Initial schema: sources, articles, links, themes, labels, model versions, fetch log, theme_weekly.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 19:06:21.817966
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import theme_weekly_v1

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_model_versions_version'))
    )
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('full_text', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('last_modified', sa.Text(), nullable=True),
    sa.Column('last_content_hash', sa.String(length=64), nullable=True),
    sa.Column('last_fetched_at', sa.DateTime(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('last_new_article_at', sa.DateTime(), nullable=True),
    sa.Column('next_fetch_at', sa.DateTime(), nullable=True),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('failure_score', sa.Float(), nullable=False),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('name', name=op.f('uq_sources_name'))
    )
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sources_next_fetch_at'), ['next_fetch_at'], unique=False)

    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('canonical_url', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('author', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('simhash', sa.BigInteger(), nullable=True),
    sa.Column('discovered_via', sa.String(length=16), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('parent_article_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of'], ['articles.id'], name=op.f('fk_articles_duplicate_of_articles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_article_id'], ['articles.id'], name=op.f('fk_articles_parent_article_id_articles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_articles_source_id_sources'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('canonical_url', name=op.f('uq_articles_canonical_url'))
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index('ix_articles_content_hash', ['content_hash'], unique=False)
        batch_op.create_index('ix_articles_first_seen_at', ['first_seen_at'], unique=False)
        batch_op.create_index('ix_articles_published_at', ['published_at'], unique=False)
        batch_op.create_index('ix_articles_source_id', ['source_id'], unique=False)

    op.create_table('fetch_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('new_articles', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_fetch_log_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fetch_log'))
    )
    with op.batch_alter_table('fetch_log', schema=None) as batch_op:
        batch_op.create_index('ix_fetch_log_source_started', ['source_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fetch_log_started_at'), ['started_at'], unique=False)

    op.create_table('article_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_article_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('anchor_text', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('block', sa.Text(), nullable=True),
    sa.Column('followed', sa.Boolean(), nullable=False),
    sa.Column('skip_reason', sa.Text(), nullable=True),
    sa.Column('to_article_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['from_article_id'], ['articles.id'], name=op.f('fk_article_links_from_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_article_id'], ['articles.id'], name=op.f('fk_article_links_to_article_id_articles'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_links')),
    sa.UniqueConstraint('from_article_id', 'url', 'kind', name='uq_article_links_from_url_kind')
    )
    with op.batch_alter_table('article_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_links_from_article_id'), ['from_article_id'], unique=False)

    op.create_table('article_themes',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('theme', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('assigned', sa.Boolean(), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_themes_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'theme', name=op.f('pk_article_themes'))
    )
    with op.batch_alter_table('article_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_themes_model_version'), ['model_version'], unique=False)
        batch_op.create_index('ix_article_themes_theme_assigned', ['theme', 'assigned'], unique=False)

    op.create_table('labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('theme', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Boolean(), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_labels_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labels'))
    )
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_labels_article_id'), ['article_id'], unique=False)


    op.execute(theme_weekly_v1(op.get_bind().dialect.name))

def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS theme_weekly")
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labels_article_id'))

    op.drop_table('labels')
    with op.batch_alter_table('article_themes', schema=None) as batch_op:
        batch_op.drop_index('ix_article_themes_theme_assigned')
        batch_op.drop_index(batch_op.f('ix_article_themes_model_version'))

    op.drop_table('article_themes')
    with op.batch_alter_table('article_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_links_from_article_id'))

    op.drop_table('article_links')
    with op.batch_alter_table('fetch_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_log_started_at'))
        batch_op.drop_index('ix_fetch_log_source_started')

    op.drop_table('fetch_log')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_source_id')
        batch_op.drop_index('ix_articles_published_at')
        batch_op.drop_index('ix_articles_first_seen_at')
        batch_op.drop_index('ix_articles_content_hash')

    op.drop_table('articles')
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sources_next_fetch_at'))

    op.drop_table('sources')
    op.drop_table('model_versions')
