"""The CLI: every command has help with an example, errors are one line, init/status work."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli import app
from config import documented_settings

README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


def _all_commands() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*prefix, name])
        else:
            paths.append(prefix)

    walk(get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`cait {' '.join(path)} --help` shows no example"


def test_every_switch_reads_well_both_ways() -> None:
    """No `--no-no-discover`: a boolean switch is named for what it turns on."""
    for path in _all_commands():
        command = get_command(app)
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        for param in command.params:
            names = [*param.opts, *param.secondary_opts]
            assert not any(n.startswith("--no-no-") for n in names), (path, names)
            if getattr(param, "is_flag", False) and param.secondary_opts and not param.hidden:
                assert not param.opts[0].startswith("--no-"), (path, names)


def test_sources_add_check_switch_and_the_old_no_discover(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    help_text = runner.invoke(app, ["sources", "add", "--help"]).output
    assert "--check" in help_text and "--no-check" in help_text
    assert "discover" not in help_text
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    # port 9 on loopback: nothing listens, so a check would fail; neither form fetches
    for flag, name in (("--no-check", "a"), ("--no-discover", "b")):
        result = runner.invoke(app, ["sources", "add", f"http://127.0.0.1:9/{name}", "--name",
                                     name, flag])
        assert result.exit_code == 0 and "added feed source" in result.output, result.output


# --format that names a file format, not a way to show rows
DOCUMENT_FORMATS = {("digest",): "md | html", ("sources", "export"): "opml | toml",
                    ("export", "articles"): "csv | jsonl | parquet"}


def test_output_flags_have_one_form() -> None:
    """--format table|csv|json|md (or table|json) everywhere, --json its shorthand."""
    for path in _all_commands():
        command = get_command(app)
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        options = {opt: param for param in command.params for opt in param.opts}
        if "--json" in options:
            assert "--format" in options, f"cait {' '.join(path)}: --json without --format"
        if "--format" in options:
            shown = options["--format"].help
            if tuple(path) in DOCUMENT_FORMATS:
                assert shown == DOCUMENT_FORMATS[tuple(path)]
            else:
                assert shown in ("table | csv | json | md", "table | json"), (path, shown)
                assert "--json" in options, \
                    f"cait {' '.join(path)}: no --json shorthand"


def test_sources_list_and_status_in_every_format(sqlite_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["sources", "add", "https://x.example/f", "--name", "a|b*",
                               "--tag", "t1", "--tag", "t2", "--no-check"]).exit_code == 0
    out = {f: runner.invoke(app, ["sources", "list", "--format", f]) for f in
           ("table", "csv", "json", "md")}
    assert all(r.exit_code == 0 for r in out.values())
    assert runner.invoke(app, ["sources", "list", "--json"]).output == out["json"].output
    assert json.loads(out["json"].output)[0]["tags"] == ["t1", "t2"]
    assert out["csv"].output.splitlines()[1].startswith("a|b*,feed,https://x.example/f,True,t1;t2")
    assert out["md"].output.splitlines()[2].startswith("| a\\|b\\* | feed |")
    status = [json.loads(runner.invoke(app, ["status", *args]).output)["counts"]
              for args in (["--json"], ["--format", "json"])]
    assert status[0] == status[1] and status[0]["sources"] == 1
    bad = runner.invoke(app, ["status", "--format", "csv"])
    assert bad.exit_code == 1 and bad.output == "error: --format must be table or json, not " \
        "'csv'\n"


HEAVY = ("alembic", "sklearn", "scipy", "trafilatura", "numpy", "httpx", "sqlalchemy",
         "matplotlib", "lxml")


@pytest.mark.parametrize("args", [["--help"], ["sources", "--help"], ["collect", "--help"],
                                  ["classify", "--help"]], ids=" ".join)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    """`cait --help` starts in well under half a second: the heavy libraries (0.2 s for
    Alembic alone, a second with scikit-learn) load only in the commands that use them."""
    probe = ("import runpy, sys\n"
             f"sys.argv = ['cait', *{args!r}]\n"
             "try:\n"
             "    runpy.run_module('cli', run_name='__main__')\n"
             "except SystemExit as stop:\n"
             "    assert stop.code in (0, None), stop.code\n"
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})),\n"
             "      file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=README.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    missing = [name for name, _, _ in documented_settings() if name not in readme]
    assert missing == []


def test_every_command_is_shown_in_the_readme() -> None:
    readme = README.read_text()
    shown = set(re.findall(r"\bcait ([a-z][a-z-]+)", readme))
    top_level = {path[0] for path in _all_commands()}
    assert top_level - shown == set()


def test_status_on_uninitialised_database_is_one_clear_line(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "not initialised: run `cait init`" in result.output
    assert "Traceback" not in result.output


def test_unreachable_database_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert result.output.startswith("error: database error:")
    assert "Traceback" not in result.output


def test_bad_setting_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIT_HOST_CONCURRENCY", "many")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 1
    assert "CAIT_HOST_CONCURRENCY must be a number" in result.output


def test_init_then_status(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["init"])
    assert "up to date" in again.output
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["schema_up_to_date"] is True
    assert report["counts"]["articles"] == 0
    assert report["model_version"] is None


def test_collect_with_nothing_due_loads_no_model(tmp_path: Path) -> None:
    """`cait collect` with nothing due and nothing untagged neither imports scikit-learn nor
    loads (nor trains) a model, and starts no parser process (issue 18); nor does it import
    what only parsing, hashing or migrating needs (trafilatura, lxml, the feed parsers,
    NumPy, Alembic, tldextract): the command starts in under a second."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIT_")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cait.db'}",
                "CAIT_DATA_DIR": str(tmp_path), "CAIT_MODEL_DIR": str(tmp_path / "models")})
    init = subprocess.run([sys.executable, "-m", "cli", "init"], cwd=README.parent, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    probe = ("import multiprocessing, sys\n"
             "from cli import app\n"
             "try:\n"
             "    app(['collect', '--json'])\n"
             "except SystemExit as stop:\n"
             "    assert stop.code in (0, None), stop.code\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy',\n"
             "    'trafilatura', 'lxml', 'feedparser', 'fastfeedparser', 'numpy', 'alembic',\n"
             "    'tldextract'}),\n"
             "      len(multiprocessing.active_children()), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=README.parent, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tagged"] == 0
    assert done.stderr.strip().splitlines()[-1] == "[] 0"
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
