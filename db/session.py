"""Engines and sessions: one engine per process and URL, SQLite tuned for a long-running tool
(and PostgreSQL told to plan each statement for its parameters)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from common.errors import CaitError

_ENGINES: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, `cait status`) run while the worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgresql_settings(dbapi_connection: Any, _record: Any) -> None:
    # Every statement planned for its own parameters. Collection binds whole lists (the URLs
    # and hashes of a feed's entries) to one prepared statement; a plan made once for any
    # list, early in a pass when the table was small, scanned the whole table for each
    # source as it grew (issue 18: on a new database the lookups of 1,000 feeds took 3.6 s
    # with the cached plan, 1.9 s planned each time). PostgreSQL 12 and later.
    if getattr(getattr(dbapi_connection, "info", None), "server_version", 0) < 120000:
        return
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET outside any transaction lasts the session
    cursor = dbapi_connection.cursor()
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def make_engine(url: str) -> Engine:
    """A new engine for `url`; SQLite files get their directory created and the pragmas set."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database.startswith("file:"):  # the URI form (`?uri=true`): no directory named
            database = ""                  # "file:" is made; SQLite opens what exists
        if database and database != ":memory:":
            directory = Path(database).expanduser().parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # read-only filesystem, a file in the way
                raise CaitError(f"cannot create the data directory {directory}: "
                                f"{error.strerror or error}") from None
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgresql_settings)
    return engine


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections look in `schema` first (tests and benches run each
    in a fresh schema of one database)."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_schema(url: str, schema: str) -> Iterator[str]:
    """`url` with a new, empty PostgreSQL `schema` first on its search path
    (`with_search_path`), dropped afterwards: what tests and benches run in. A schema of that
    name left by a killed run is dropped first."""
    admin = make_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def get_engine(url: str) -> Engine:
    """The process-wide engine for `url` (created on first use)."""
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_url(url: str) -> str:
    """The URL with any password hidden, for display."""
    return make_url(url).render_as_string(hide_password=True)
