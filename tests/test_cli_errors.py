"""``flask telemetry ...`` and ``flask telemetry-collector ...`` against an app whose config is
wrong: one line naming the key, a non-zero exit, no traceback. A real ``flask`` process loads a
small app module, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
#: An engine app with a bad extension key, and a collector app with a bad collector key.
APPS = {
    "bad_engine": """
from flask import Flask
from flask_camunda_telemetry import TelemetryExt

app = Flask(__name__)
app.config["CAMUNDA_TELEMETRY_SCOPE"] = "galaxy"
TelemetryExt(app)
""",
    "bad_collector": """
from flask import Flask
from flask_camunda_telemetry.collector import TelemetryCollector

app = Flask(__name__)
app.config["CAMUNDA_TELEMETRY_COLLECTOR_PAGE_SIZE"] = 0
TelemetryCollector(app)
""",
    "plain": """
from flask import Flask

app = Flask(__name__)
""",
}


def flask(tmp_path: Path, app: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / f"{app}.py").write_text(APPS[app])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMUNDA_TELEMETRY_", "FLASK_"))}
    return subprocess.run(
        [str(BIN / "flask"), "--app", app, *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["telemetry", "show"],
        ["telemetry", "init-db"],
        ["telemetry", "reset", "--yes"],
        ["telemetry", "openapi"],
        ["telemetry", "report", "--dry-run"],
        ["telemetry", "status"],
    ],
)
def test_a_bad_key_is_one_line_naming_it(tmp_path: Path, args: list[str]) -> None:
    result = flask(tmp_path, "bad_engine", *args)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "Error: CAMUNDA_TELEMETRY_SCOPE = 'galaxy' is invalid: expected one of 'cluster', 'process'. "
        "Fix it in app.config before calling init_app."
    ]
    assert result.stdout == ""
    assert not (tmp_path / "instance").exists()  # nothing was done


@pytest.mark.parametrize("args", [["telemetry-collector", "init-db"], ["telemetry-collector", "prune", "400d"]])
def test_a_bad_collector_key_is_one_line_naming_it(tmp_path: Path, args: list[str]) -> None:
    result = flask(tmp_path, "bad_collector", *args)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: CAMUNDA_TELEMETRY_COLLECTOR_PAGE_SIZE = 0 is invalid: ")


def test_an_app_without_the_extension_is_told_so(tmp_path: Path) -> None:
    result = flask(tmp_path, "plain", "telemetry", "show")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "Error: TelemetryExt is not initialized on app 'plain': did you forget to call init_app(app)?"
    ]


def test_help_needs_no_app(tmp_path: Path) -> None:
    result = flask(tmp_path, "bad_engine", "telemetry", "--help")
    assert result.returncode == 0, result.stderr
    assert "init-db" in result.stdout and "Traceback" not in result.stderr
