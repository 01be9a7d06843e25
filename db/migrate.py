"""Run Alembic migrations from code (`cait init`, tests) and report the schema's revision.

Alembic is imported by the functions that migrate or compare (0.3 s): every command checks the
schema's revision first, and `current_revision` reads it with SQLAlchemy alone (issue 18).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

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
