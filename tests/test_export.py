"""`cait export articles`: CSV, JSON lines and Parquet round-trip through their readers, the
filters, --with-text, empty results, formulas kept as text, and unwritable files as one line."""

from __future__ import annotations

import csv
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from cli import app
from common.vocabulary import THEMES
from db.models import Source
from db.session import session_scope
from reports import export
from tests.test_reports import MONDAY, add_article

runner = CliRunner()

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-2+3", "@SUM(A1)",
            "\t=1+1"]


@pytest.fixture
def stored(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    ids = {}
    with session_scope(engine) as s:
        src = Source(name="=cmd|' /C calc'!A0", url="https://wire.example/feed")
        s.add(src)
        s.flush()
        ids["chips"] = add_article(s, 1, MONDAY, {"chips"}, title="华为昇腾 export story",
                                   body="Full text, with \"quotes\", commas\nand lines.",
                                   source_id=src.id)
        ids["talent"] = add_article(s, 2, MONDAY + timedelta(days=8), {"talent", "data"})
        ids["other"] = add_article(s, 3, MONDAY + timedelta(days=1), {"chips"}, china=False)
        for n, title in enumerate(FORMULAS, start=10):
            ids[title] = add_article(s, n, MONDAY + timedelta(days=20), set(), title=title)
    return ids


def run(*args: str) -> str:
    result = runner.invoke(app, ["export", "articles", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_round_trip_bom_and_theme_columns(stored: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    assert "wrote 7 articles" in run("--format", "csv", "--output", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")   # the byte-order mark Excel needs
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["id"]) for r in rows] == sorted(i for k, i in stored.items() if k != "other")
    first = rows[0]
    assert first["title"] == "华为昇腾 export story" and first["source"].startswith("'=cmd")
    assert first["chips"] == "True" and float(first["chips_score"]) == pytest.approx(0.9)
    assert first["chips_evidence"] == "chips" and first["talent"] == "False"
    assert first["china_ai"] == "True" and first["url"] == "https://news.example/1"
    assert first["date"] == "2026-03-02T09:00:00+00:00"       # UTC, ISO 8601
    assert {f"{t}{suffix}" for t in THEMES for suffix in ("", "_score", "_evidence")} <= set(
        first)
    assert "text" not in first and "summary" not in first


def test_csv_cells_never_become_formulas(stored: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    run("--output", str(out))
    with out.open(encoding="utf-8-sig", newline="") as f:
        titles = {int(r["id"]): r["title"] for r in csv.DictReader(f)}
    for formula in FORMULAS:
        assert titles[stored[formula]] == "'" + formula
    assert titles[stored["talent"]] == "Story 2"              # plain text is left alone


def test_jsonl_round_trip_is_nested(stored: dict[str, int]) -> None:
    lines = run("--format", "jsonl", "--all").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 8
    by_id = {r["id"]: r for r in records}
    chips = by_id[stored["chips"]]
    assert chips["themes"]["chips"] == {"assigned": True, "score": 0.9, "evidence": ["chips"]}
    assert chips["themes"]["talent"]["assigned"] is False
    assert chips["source"] == "=cmd|' /C calc'!A0"          # JSON keeps data as it is
    assert chips["source_url"] == "https://wire.example/feed"
    assert by_id[stored["other"]]["china_ai"] is False
    assert set(by_id[stored["talent"]]) >= {"id", "title", "url", "date", "published_at",
                                            "first_seen_at", "china_ai_score", "model_version"}


def test_parquet_round_trip(stored: dict[str, int], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "a.parquet"
    run("--format", "parquet", "--output", str(out), "--with-text")
    table = pq.read_table(out).to_pylist()
    assert len(table) == 7
    first = table[0]
    assert first["id"] == stored["chips"] and first["chips"] is True
    assert first["chips_evidence"] == ["chips"] and first["date"].isoformat().startswith(
        "2026-03-02T09:00:00")
    assert first["date"].utcoffset() == timedelta(0)
    assert first["text"] == "Full text, with \"quotes\", commas\nand lines."
    assert first["title"] == "华为昇腾 export story"


def test_filters(stored: dict[str, int]) -> None:
    def ids(*args: str) -> set[int]:
        return {json.loads(line)["id"] for line in run("--format", "jsonl", *args).splitlines()}

    assert ids("--theme", "talent") == {stored["talent"]}
    assert ids("--theme", "talent", "--theme", "chips") == {stored["talent"], stored["chips"]}
    assert ids("--theme", "chips", "--all") == {stored["chips"], stored["other"]}
    assert ids("--since", "2026-03-05", "--until", "2026-03-20") == {stored["talent"]}
    assert ids("--until", "2026-03-05", "--all") == {stored["chips"], stored["other"]}


def test_with_text(stored: dict[str, int]) -> None:
    plain = json.loads(run("--format", "jsonl").splitlines()[0])
    full = json.loads(run("--format", "jsonl", "--with-text").splitlines()[0])
    assert "text" not in plain
    assert full["text"] == "Full text, with \"quotes\", commas\nand lines."
    assert "summary" in full
    rows = list(csv.DictReader(run("--with-text").lstrip("\ufeff").splitlines(keepends=True)))
    assert rows[0]["text"] == "Full text, with \"quotes\", commas\nand lines."


def test_empty_result(stored: dict[str, int], tmp_path: Path) -> None:
    assert run("--format", "jsonl", "--since", "2030-01-01") == ""
    header = run("--since", "2030-01-01").lstrip("\ufeff")
    assert header.splitlines() == [",".join(export.columns(False))]
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "empty.parquet"
    run("--format", "parquet", "-o", str(out), "--since", "2030-01-01")
    assert pq.read_table(out).num_rows == 0


def test_pages_of_a_few_rows_give_every_article_once(stored: dict[str, int],
                                                     engine: Engine,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "BATCH", 2)
    with session_scope(engine) as s:
        ids = [r["id"] for r in export.records(s, export.ExportFilter(china_ai_only=False))]
    assert ids == sorted(stored.values())


@pytest.mark.parametrize("where", ["/nonexistent/dir/x.csv", "{tmp}", "/proc/x.parquet"])
def test_unwritable_output_is_one_line(stored: dict[str, int], tmp_path: Path,
                                       where: str) -> None:
    target = where.format(tmp=tmp_path)  # a directory, a missing one, a read-only place
    fmt = "parquet" if target.endswith(".parquet") else "csv"
    result = runner.invoke(app, ["export", "articles", "--format", fmt, "--output", target])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"cannot write {target}" in lines[0]


def test_parquet_without_pyarrow_names_the_extra(stored: dict[str, int], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)   # an environment without it
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    result = runner.invoke(app, ["export", "articles", "--format", "parquet", "-o",
                                 str(tmp_path / "x.parquet")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: --format parquet needs pyarrow: pip install 'china-ai-tracker[parquet]'"]
    bad = runner.invoke(app, ["export", "articles", "--format", "xlsx"])
    assert bad.exit_code == 1 and "csv, jsonl or parquet" in bad.output
