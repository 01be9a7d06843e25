"""`cait demo`: the whole pipeline offline on the bundled snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import app
from db.models import Article, ArticleLink
from db.session import make_engine, session_scope

runner = CliRunner()


@pytest.mark.slow
def test_demo_runs_offline_and_shows_a_story(tmp_path: Path, model_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIT_MODEL_DIR", str(model_dir))
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "followed 1 Related-News link(s)" in result.output
    assert "| chips |" in result.output and "**spike**" in result.output
    digests = list(tmp_path.glob("digest-*.html"))
    assert len(digests) == 1 and "Related-news chains" in digests[0].read_text()
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 92  # 90 + seed + 1 related
        related = s.scalars(select(ArticleLink).where(ArticleLink.followed.is_(True))).all()
        assert [link.anchor_text for link in related] == [
            "DeepSeek Raises Funding at $45B Valuation Amid AI Competition"]
    engine.dispose()
