"""The product ships alone: its wheel and its imports hold no simulator and no test fake."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.processes import clean_env

ROOT = Path(__file__).resolve().parent.parent
NEIGHBOURS = ("heroku_sim", "loopback", "tests")


def test_importing_the_product_never_imports_the_simulator():
    code = (
        "import sys, heroku_monitor, heroku_monitor.cli, heroku_monitor.service, "
        "heroku_monitor.web, heroku_monitor.web.demo\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NEIGHBOURS!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The project's wheel, built once for this module's tests from a copy of what it
    packages (no build folder left in the tree): the wheel, and pip's stderr."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "loopback.py"):
        shutil.copy(ROOT / name, source / name)
    for package in ("heroku_monitor", "heroku_sim"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return wheel, done.stderr


def test_the_wheel_holds_the_product_and_its_files_only(built: tuple[Path, str]):
    wheel, stderr = built
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.startswith("heroku_monitor-")}
    assert tops == {"heroku_monitor"}
    needed = (
        "web/templates/dashboard.html",
        "web/templates/timeline.svg",
        "web/static/style.css",
        "store/migrations/env.py",
        "store/migrations/script.py.mako",
    )
    for name in needed:
        assert f"heroku_monitor/{name}" in names
    assert "license" not in stderr.lower()  # an SPDX string, not the table setuptools drops


def test_the_wheel_installs_the_heroku_monitor_console_script(built: tuple[Path, str]):
    """`heroku-monitor` is `python app.py`: the wheel's entry point calls `cli.entry`."""
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        (points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(points).decode()
    assert "[console_scripts]" in text
    assert "heroku-monitor = heroku_monitor.cli:entry" in text
    script = Path(sys.executable).with_name("heroku-monitor")
    if script.exists():  # the project's own venv: `pip install -e .` made it
        shown = subprocess.run(
            [str(script), "--help"], env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0 and "Watch Heroku apps" in shown.stdout
