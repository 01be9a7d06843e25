"""Shared fixtures: real databases (SQLite file, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from db import migrate
from db.session import make_engine, scratch_schema
from tests.server import LoopbackServer

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
DATA = Path(__file__).resolve().parent / "data"

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="TEST_DATABASE_URL is not set: PostgreSQL tests skipped")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cait.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    with scratch_schema(PG_URL, f"cait_test_{uuid.uuid4().hex[:10]}") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty database."""
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _release_cli_engines() -> Iterator[None]:
    """The CLI keeps one engine per database URL for its process; in the test process every
    PostgreSQL test has its own schema, so each would keep its idle connections until the end
    of the run (and a full run passed PostgreSQL's 100 clients). Dispose them per test."""
    yield
    from db.session import dispose_engines

    dispose_engines()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests: everything is one loopback host, so politeness is lifted."""
    return load_settings(environ={}, data_dir=tmp_path, host_concurrency=8, parse_processes=0,
                         host_delay_seconds=0.0, allow_private_networks=True,
                         total_timeout=5.0, read_timeout=2.0, connect_timeout=2.0)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding the default model, trained once per test session."""
    from classify.train import default_model

    directory = tmp_path_factory.mktemp("models")
    default_model(directory)
    return directory


@pytest.fixture(scope="session")
def default_classifier(model_dir: Path):  # type: ignore[no-untyped-def]
    from classify.train import default_model

    return default_model(model_dir)


@pytest.fixture
def cli_env(db_url: str, settings: Settings, model_dir: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
    """`cait` commands on the test database and data directory, with loopback politeness
    lifted and private addresses allowed (everything is on 127.0.0.1), initialised."""
    from typer.testing import CliRunner

    from cli import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CAIT_HOST_DELAY_SECONDS", "0")
    monkeypatch.setenv("CAIT_HOST_CONCURRENCY", "8")
    monkeypatch.setenv("CAIT_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.setenv("CAIT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CAIT_MODEL_DIR", str(model_dir))
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
