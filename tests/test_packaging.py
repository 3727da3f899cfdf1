"""The package as users get it: the wheel's contents, and an import that does nothing."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_camunda_telemetry"


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
