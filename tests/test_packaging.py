"""The product ships alone: its wheel and its imports hold no simulator and no test fake."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEIGHBOURS = ("heroku_sim", "loopback", "tests")


def test_importing_the_product_never_imports_the_simulator():
    code = (
        "import sys, heroku_monitor, heroku_monitor.cli, heroku_monitor.service, "
        "heroku_monitor.web, heroku_monitor.web.demo\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NEIGHBOURS!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_wheel_holds_the_product_and_its_files_only(tmp_path: Path):
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
    assert "license" not in done.stderr.lower()  # an SPDX string, not the table setuptools drops


def test_the_wheel_installs_the_heroku_monitor_console_script(tmp_path: Path):
    """`heroku-monitor` is `python app.py`: the wheel's entry point calls `cli.entry`."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(points).decode()
    assert "[console_scripts]" in text
    assert "heroku-monitor = heroku_monitor.cli:entry" in text
    script = Path(sys.executable).with_name("heroku-monitor")
    if script.exists():  # the project's own venv: `pip install -e .` made it
        shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and "Watch Heroku apps" in shown.stdout
