"""The Docker image and compose file: what the image holds runs, and compose starts real commands.

Docker is not on every machine that runs the tests, so the image is checked by reading the
Dockerfile: its COPY lines are applied to a temporary directory (the image's /app), and cait is
imported and initialised from there alone. When `docker compose` is installed, `docker compose
config` must accept the compose file too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _copies() -> list[tuple[list[str], str]]:
    """The Dockerfile's COPY lines as (sources, destination), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    copies = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].upper() == "COPY":
            args = [w for w in words[1:] if not w.startswith("--")]
            copies.append((args[:-1], args[-1]))
    return copies


def _image_tree(target: Path) -> None:
    """Lay out /app as the Dockerfile's COPY lines would (WORKDIR /app)."""
    for sources, dest in _copies():
        for source in sources:
            origin = ROOT / source
            into = target / dest if not dest.endswith("/") and len(sources) == 1 \
                else target / dest / Path(source).name
            into.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, into, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, into)


def _installed_top_level() -> set[str]:
    """Every top-level module and package the project installs (pyproject's lists)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    modules = {f"{name}.py" for name in setuptools["py-modules"]}
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    return modules | packages


def test_the_image_copies_every_module_the_package_installs(tmp_path: Path) -> None:
    _image_tree(tmp_path)
    missing = sorted(name for name in _installed_top_level() if not (tmp_path / name).exists())
    assert missing == [], f"the Dockerfile does not copy {missing}"


@pytest.mark.slow
def test_cait_imports_initialises_and_finds_its_data_in_the_image_tree(tmp_path: Path) -> None:
    app = tmp_path / "app"
    _image_tree(app)
    # Every project module imports from the image tree itself (an editable install of a
    # checkout elsewhere would otherwise hide a module the Dockerfile forgot).
    check = (
        "import importlib, pkgutil, sys\n"
        "from pathlib import Path\n"
        "root = Path.cwd().resolve()\n"
        f"names = {sorted(_installed_top_level())!r}\n"
        "for name in names:\n"
        "    module = importlib.import_module(name.removesuffix('.py'))\n"
        "    if hasattr(module, '__path__'):\n"
        "        for info in pkgutil.walk_packages(module.__path__, module.__name__ + '.'):\n"
        "            if not info.name.endswith('__main__'):  # that one runs cait\n"
        "                importlib.import_module(info.name)\n"
        "outside = [m.__name__ for m in list(sys.modules.values())\n"
        "           if m.__name__.split('.')[0] in {n.removesuffix('.py') for n in names}\n"
        "           and getattr(m, '__file__', None)\n"
        "           and not Path(m.__file__).resolve().is_relative_to(root)]\n"
        "assert not outside, outside\n"
        "from cli.demo import ARTICLE_FILES\n"
        "missing = [str(p) for p in ARTICLE_FILES if not p.exists()]\n"
        "assert not missing, f'cait demo needs {missing}'\n"
    )
    env = {**os.environ, "PYTHONPATH": "", "CAIT_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'cait.db'}"}
    done = subprocess.run([sys.executable, "-c", check], cwd=app, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    init = subprocess.run([sys.executable, "-m", "cli", "init"], cwd=app, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0 and "empty →" in init.stdout, init.stderr


def test_compose_file_runs_commands_the_cli_has() -> None:
    import yaml
    from typer.main import get_command

    from cli import app

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "worker"} <= set(services)
    for name, service in services.items():
        assert ("image" in service) != ("build" in service), f"{name}: image or build"
        environment = service.get("environment", {})
        assert isinstance(environment, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items())
        for volume in service.get("volumes", []):
            named = volume.split(":")[0]
            assert named.startswith((".", "/")) or named in compose["volumes"], volume
    assert "healthcheck" in services["db"] and compose["volumes"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["migrate"]["condition"] == \
        "service_completed_successfully"
    assert "container_name" not in services["worker"]  # `--scale worker=3` needs this
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for name in ("migrate", "worker"):
        program, command = services[name]["command"][:2]
        assert program == "cait" and command in commands
    assert services["worker"]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg")


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True,
                          timeout=30).returncode == 0


@pytest.mark.skipif(not _has_compose(), reason="docker compose is not installed here")
def test_docker_compose_accepts_the_compose_file() -> None:
    done = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
