"""The package as users get it: the wheel's contents, the sdist that can run the tests, and an
import that does nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_camunda_telemetry"
#: What the sdist carries besides the package: enough to run the tests and build the docs.
SDIST_FILES = ("CHANGES.rst", "LICENSE", "README.rst", "setup.cfg", "pyproject.toml", "MANIFEST.in", ".ci/run")
SDIST_FOLDERS = ("flask_camunda_telemetry", "tests", "docs", "example_app", "benchmarks")
#: Never shipped: what a working tree makes (caches, builds, databases, virtual environments).
LEFT_OUT = ("__pycache__", ".pyc", "_build", ".sqlite", ".hypothesis", ".pytest_cache", ".mypy_cache", "instance")


def tree_files(folder: Path) -> set[str]:
    """The files under ``folder`` an sdist should carry, relative to the project root."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.endswith(LEFT_OUT) for part in p.relative_to(ROOT).parts)
    }


def test_wheel_contains_every_module_the_page_files_and_py_typed(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("flask_camunda_telemetry-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {".py", ".typed", ".html", ".css", ".js", ".svg"}  # modules, and the page's templates and files
    files = [p for p in PACKAGE.rglob("*") if p.suffix in shipped and "__pycache__" not in p.parts]
    expected = {p.relative_to(ROOT).as_posix() for p in files}
    assert "flask_camunda_telemetry/pages/static/telemetry.css" in expected
    assert expected <= names, expected - names
    strays = sorted(n for n in names if not n.startswith(("flask_camunda_telemetry/", "flask_camunda_telemetry-")))
    assert strays == [], f"the wheel carries more than the package: {strays[:10]}"
    assert any(name.endswith(".dist-info/licenses/LICENSE") or name.endswith(".dist-info/LICENSE") for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    for requirement in ("flask>=", "flask-sqlalchemy>=", "marshmallow>=", "sqlalchemy>="):
        assert f"Requires-Dist: {requirement}" in metadata


def test_import_starts_no_thread_and_touches_nothing(tmp_path: Path) -> None:
    code = (
        "import threading, sys\n"
        "import flask_camunda_telemetry as t\n"
        "from flask_camunda_telemetry import TelemetryExt\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert sorted(t.__all__) == sorted(set(t.__all__))\n"
        "assert all(hasattr(t, name) for name in t.__all__)\n"
        "import os; assert os.listdir('.') == [], os.listdir('.')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_sdist_carries_what_runs_the_tests_and_builds_the_docs(tmp_path: Path) -> None:
    """``python -m build --sdist``: tests (conftest, support, data), docs, the example apps, the
    benchmarks, CHANGES and LICENSE are in it, and the unpacked tree collects the whole suite."""
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (sdist,) = (tmp_path / "dist").glob("flask_camunda_telemetry-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    (unpacked,) = (p for p in tmp_path.iterdir() if p.name.startswith("flask_camunda_telemetry-"))
    shipped = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    expected = set(SDIST_FILES).union(*(tree_files(ROOT / folder) for folder in SDIST_FOLDERS))
    for needed in ("tests/conftest.py", "tests/support/databases.py", "tests/data/seed_example.json",
                   "docs/conf.py", "docs/_ext/config_keys.py", "example_app/engine.py"):
        assert needed in expected, needed  # the expectation itself is not empty
    assert expected <= shipped, sorted(expected - shipped)
    junk = sorted(name for name in shipped if any(part.endswith(LEFT_OUT) for part in name.split("/")))
    assert junk == [], junk
    collect = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=unpacked, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert collect.returncode == 0, collect.stdout[-3000:] + collect.stderr[-3000:]
    modules = {line.split("::")[0] for line in collect.stdout.splitlines() if "::" in line}
    assert modules == {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").glob("test_*.py")}
