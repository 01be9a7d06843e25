"""`cait classify`, `label`, `train`, `eval`, `explain` through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from db.models import Article, Label, ModelVersion
from db.session import make_engine, session_scope

runner = CliRunner()
DEV = Path(__file__).resolve().parents[1] / "bench" / "data" / "dev.jsonl"


@pytest.fixture
def env(tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No database configured on purpose; models come from the shared model directory."""
    monkeypatch.setenv("CAIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAIT_MODEL_DIR", str(model_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def test_classify_input_without_database(env: Path) -> None:
    lines = [
        json.dumps({"id": 1, "title": "Huawei Ascend chips face export controls",
                    "text": "US export controls keep Nvidia chips out of China; Huawei's Ascend "
                            "AI accelerators fill the gap."}),
        "{broken json",
        json.dumps({"id": "empty", "title": "", "text": ""}),
        json.dumps({"id": 3, "title": "通义千问开源", "text": "阿里巴巴开源大模型权重" * 50}),
        json.dumps({"id": 4, "title": "huge", "text": "chips " * 500_000}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": 6, "title": 7, "text": "x"}),
    ]
    source = env / "in.jsonl"
    source.write_text("\n".join(lines) + "\n\n")
    out = env / "out.jsonl"
    result = runner.invoke(app, ["classify", "--input", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7  # one line per input line, in order (blank lines are not inputs)
    assert [r.get("id") for r in rows] == [1, None, "empty", 3, 4, None, 6]
    good = [r for r in rows if "error" not in r]
    for row in good:
        assert set(row) == {"id", "themes", "scores", "china_ai", "china_ai_score"}
        assert set(row["scores"]) == {"chips", "data", "talent", "open_source"}
        assert all(0.0 <= v <= 1.0 for v in row["scores"].values())
        assert isinstance(row["china_ai"], bool)
    assert rows[0]["themes"] == ["chips"] and rows[0]["china_ai"] is True
    assert rows[3]["themes"] == ["open_source"]
    assert rows[2]["themes"] == [] and rows[2]["china_ai"] is False
    assert "not valid JSON" in rows[1]["error"] and "JSON object" in rows[5]["error"]
    assert "must be strings" in rows[6]["error"]
    assert not (env / "cait.db").exists()  # no database was created


def test_classify_missing_input_file_is_one_line(env: Path) -> None:
    result = runner.invoke(app, ["classify", "--input", str(env / "nope.jsonl")])
    assert result.exit_code == 1 and "no such file" in result.output


def test_eval_on_a_gold_file_and_explain(env: Path) -> None:
    result = runner.invoke(app, ["eval", "--input", str(DEV), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert set(scores["themes"]) == {"chips", "data", "talent", "open_source"}
    assert 0.0 <= scores["macro_f1"] <= 1.0 and "china_ai" in scores
    as_csv = runner.invoke(app, ["eval", "--format", "csv"])
    assert as_csv.exit_code == 0 and as_csv.output.splitlines()[0] == \
        "theme,precision,recall,f1,support,f1_before"
    assert len(as_csv.output.splitlines()) == 5
    explained = runner.invoke(app, ["explain", "--text", "Huawei Ascend chips and export "
                                                          "controls on Nvidia"])
    assert explained.exit_code == 0 and "chips" in explained.output
    assert "terms:chips" in explained.output


def test_label_train_and_tag_in_the_database(env: Path, db_url: str, model_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    own_models = env / "models"
    shutil.copytree(model_dir, own_models)  # `cait train` must not change the shared one
    monkeypatch.setenv("CAIT_MODEL_DIR", str(own_models))
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        s.add(Article(url="u", canonical_url="https://x.cn/a", title="China's chip push",
                      text="SMIC and Huawei expand AI chip output under export controls."))
    tagged = runner.invoke(app, ["classify"])
    assert tagged.exit_code == 0, tagged.output
    assert "tagged 1 articles" in tagged.output
    with session_scope(engine) as s:
        article_id = s.scalars(select(Article.id)).one()
    suggested = runner.invoke(app, ["label", "--suggest", "5"])
    assert suggested.exit_code == 0, suggested.output
    assert "least certain" in suggested.output and "China's" in suggested.output
    bad = runner.invoke(app, ["label", str(article_id), "--theme", "hardware"])
    assert bad.exit_code == 1 and "unknown theme" in bad.output
    missing = runner.invoke(app, ["label", "999999", "--theme", "chips"])
    assert missing.exit_code == 1 and "no article with id 999999" in missing.output
    ok = runner.invoke(app, ["label", str(article_id), "--theme", "chips", "--not", "data",
                             "--china-ai", "yes", "--author", "ana"])
    assert ok.exit_code == 0 and "3 labels added" in ok.output
    labels_file = env / "labels.jsonl"
    labels_file.write_text(json.dumps({"article_id": article_id, "labels": ["chips"],
                                       "not": ["talent"]}) + "\n")
    assert runner.invoke(app, ["label", "--import", str(labels_file)]).exit_code == 0
    trained = runner.invoke(app, ["train"])
    assert trained.exit_code == 0, trained.output
    assert "1 from human labels" in trained.output
    for step in ("training a new model", "cross-validating the theme model",
                 "cross-validating the China-AI relevance model", "fitting both models"):
        assert step in trained.stderr  # progress, not silence, while it trains
    with session_scope(engine) as s:
        assert len(s.scalars(select(Label)).all()) == 5
        current = s.scalars(select(ModelVersion).where(ModelVersion.is_current.is_(True))).all()
        assert len(current) == 1 and current[0].metrics["examples"] > 150
    retag = runner.invoke(app, ["classify"])
    assert "tagged 1 articles" in retag.output  # the new model version re-tags it
    assert "China's" not in runner.invoke(app, ["label", "--suggest", "5"]).output  # labelled
    gold = env / "gold.jsonl"
    gold.write_text(json.dumps({"id": "g1", "title": "Huawei Ascend chips",
                                "text": "Huawei ships Ascend AI chips to Chinese cloud firms.",
                                "labels": ["chips"], "china_ai": True}) + "\n")
    compared = runner.invoke(app, ["eval", "--input", str(gold)])
    assert compared.exit_code == 0, compared.output
    assert "F1 before" in compared.output and "before (tfidf-terms-" in compared.output
    assert runner.invoke(app, ["explain", str(article_id)]).exit_code == 0
    status = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert status["model_version"] == current[0].version
    engine.dispose()


@pytest.mark.parametrize(("row", "message"), [
    ({"article_id": True, "china_ai": False}, "article_id must be a positive integer"),
    ({"article_id": 1, "china_ai": "no"}, "china_ai must be true or false"),
    ({"article_id": 1, "labels": 5}, "'labels' must be a list"),
    ({"article_id": 10**30, "labels": ["chips"]}, "article_id must be a positive integer"),
    # beyond PostgreSQL's INTEGER ids: refused in one line, not by the database
    ({"article_id": 2**31, "labels": ["chips"]}, "article_id must be a positive integer"),
    ({"article_id": 1, "labels": ["hardware"]}, "unknown theme"),
    ({"article_id": 1, "lables": ["chips"]}, "unknown field"),
    ({"article_id": 1}, "nothing to label"),
])
def test_bad_label_rows_are_refused_in_one_line(env: Path, db_url: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                row: dict[str, object], message: str) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        s.add(Article(url="u", canonical_url="https://x.cn/a", title="t", text="x"))
    labels_file = env / "labels.jsonl"
    labels_file.write_text(json.dumps(row) + "\n")
    result = runner.invoke(app, ["label", "--import", str(labels_file)])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    with session_scope(engine) as s:
        assert s.scalars(select(Label)).all() == []  # nothing half-imported
    engine.dispose()


def test_deeply_nested_input_line_is_one_error_line(env: Path) -> None:
    items = env / "items.jsonl"
    items.write_text("[" * 100_000 + "\n" + json.dumps({"id": 2, "title": "t", "text": "x"})
                     + "\n")
    out = env / "tags.jsonl"
    result = runner.invoke(app, ["classify", "--input", str(items), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert "error" in rows[0] and rows[1]["id"] == 2 and "themes" in rows[1]


def test_a_model_saved_by_another_scikit_learn_is_one_line(env: Path, model_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import joblib

    own_models = env / "models"
    shutil.copytree(model_dir, own_models)
    monkeypatch.setenv("CAIT_MODEL_DIR", str(own_models))
    [saved] = sorted(own_models.glob("*.joblib"))
    bundle = joblib.load(saved)
    bundle["sklearn"] = "0.0.1"
    joblib.dump(bundle, saved)
    (own_models / "current.txt").write_text(saved.name + "\n")
    items = env / "items.jsonl"
    items.write_text(json.dumps({"id": 1, "title": "t", "text": "x"}) + "\n")
    result = runner.invoke(app, ["classify", "--input", str(items)])
    assert result.exit_code == 1 and "run `cait train`" in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_first_explain_says_it_trains_the_default_model(tmp_path: Path) -> None:
    """The first use trains the default model (seconds): it says so on stderr, step by step;
    the next use loads it and says nothing."""
    env = {**os.environ, "CAIT_DATA_DIR": str(tmp_path), "CAIT_MODEL_DIR": str(tmp_path / "m")}
    env.pop("DATABASE_URL", None)
    args = [sys.executable, "-m", "cli", "explain", "--text", "Huawei ships Ascend chips"]
    first = subprocess.run(args, cwd=DEV.parents[2], env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0].startswith("no model yet: training the default model from the")
    assert "first use only" in lines[0]
    assert any("cross-validating" in line for line in lines[1:])
    assert "chips" in first.stdout
    second = subprocess.run(args, cwd=DEV.parents[2], env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0 and second.stderr == "" and second.stdout == first.stdout
