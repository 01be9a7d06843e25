"""The house rules the tools can hold: import layers of the top-level modules, settings read.

import-linter (`lint-imports`, run by .ci/run) holds the layers between the packages; it takes
no single modules, so the rule for `worker.py`, `pipeline.py` and `config.py` is checked here.
"""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from config import Settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "web", "common", "collectors", "classify", "reports", "db")
# What each top-level module may import of the project (anything else is a layer break).
ALLOWED = {
    "config.py": {"common"},
    "pipeline.py": {"common", "config", "db", "collectors", "classify", "reports"},
    "worker.py": {"common", "config", "db", "collectors", "classify", "reports", "pipeline"},
}
PROJECT = {*PACKAGES, "config", "pipeline", "worker"}


def _project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PROJECT


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_top_level_modules_keep_their_layer(module: str) -> None:
    imported = _project_imports(ROOT / module) - {module.removesuffix(".py")}
    assert imported <= ALLOWED[module], f"{module} imports {sorted(imported - ALLOWED[module])}"


@pytest.mark.parametrize("package", ["collectors", "classify", "reports", "db", "common"])
def test_packages_never_import_the_drivers(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        drivers = _project_imports(path) & {"cli", "web", "worker", "pipeline"}
        assert not drivers, f"{path.relative_to(ROOT)} imports {sorted(drivers)}"


def test_every_setting_is_read_somewhere() -> None:
    code = "\n".join(p.read_text(encoding="utf-8")
                     for package in (*PACKAGES, ".") for p in sorted(
                         (ROOT / package).glob("**/*.py" if package != "." else "*.py"))
                     if p.name != "config.py" and ".venv" not in p.parts
                     and "tests" not in p.relative_to(ROOT).parts)
    unread = [f.metadata["env"] for f in fields(Settings)
              # read through effective_* and parse_process_count
              if f.name not in ("data_dir", "database_url", "model_dir", "parse_processes")
              and not re.search(rf"\.{f.name}\b", code)]
    assert unread == []
