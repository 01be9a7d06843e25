"""Run Alembic migrations from code (`cait init`, tests) and report the schema's revision.

Alembic is imported by the functions that migrate or compare (0.3 s): every command checks the
schema's revision first, and `current_revision` reads it with SQLAlchemy alone (issue 18).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["configure_logger"] = False
    cfg.attributes["engine"] = engine
    return cfg


def _with_connection(engine: Engine, action: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest)."""
    _with_connection(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _with_connection(engine, "downgrade", revision)


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    return ScriptDirectory.from_config(cfg).get_current_head()


VERSION_TABLE = "alembic_version"  # Alembic's default; alembic/env.py keeps it


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, None for a database never migrated (what Alembic's
    `MigrationContext.get_current_revision` says for this linear history)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Leave out what the models cannot describe — the FTS5 table, PostgreSQL's generated
    `articles.search_vector` and its GIN index (migrations 0003, 0006) — so drift checks
    report real drift only."""
    return not (name or "").startswith(("articles_fts", "ix_articles_fts", "search_vector"))


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the models and the migrated database (empty means none)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "include_object": include_object})
        return list(compare_metadata(ctx, Base.metadata))


# Near-duplicates are only looked for among the last 30 days' originals
# (`collectors.store.NEAR_DUPLICATE_WINDOW`): older SimHashes are never compared again.
SIMHASH_WINDOW = timedelta(days=30)
REHASH_BATCH = 500


def rehash_recent(bind: Connection, simhash: Callable[[str | None], int | None]) -> None:
    """Work out anew, by the rule `simhash`, the SimHash of every article first seen in the
    last `SIMHASH_WINDOW` that has one, from its text or else its summary: what a migration
    that changes the rule does (0005, 0011). In batches by id, so that a large table is never
    in memory at once."""
    articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("text", sa.Text),
                        sa.column("summary", sa.Text), sa.column("simhash", sa.BigInteger),
                        sa.column("first_seen_at", sa.DateTime))
    since = datetime.now(UTC).replace(tzinfo=None) - SIMHASH_WINDOW
    update = (articles.update().where(articles.c.id == sa.bindparam("row_id"))
              .values(simhash=sa.bindparam("value")))
    last = 0
    while True:
        rows = bind.execute(sa.select(articles.c.id, articles.c.text, articles.c.summary)
                            .where(articles.c.simhash.is_not(None),
                                   articles.c.first_seen_at >= since, articles.c.id > last)
                            .order_by(articles.c.id).limit(REHASH_BATCH)).all()
        if not rows:
            return
        bind.execute(update, [{"row_id": article_id, "value": simhash(body or summary)}
                              for article_id, body, summary in rows])
        last = rows[-1][0]
