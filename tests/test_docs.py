"""The documentation: the README's configuration table is KEYS, the Sphinx docs build without a
warning and cover every public name, names added since 0.1.0 say so, and the version is one
version everywhere."""

from __future__ import annotations

import configparser
import importlib.metadata
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import flask_camunda_telemetry
from docs._ext.config_keys import README, readme_table
from flask_camunda_telemetry import TelemetryExt

ROOT = Path(__file__).resolve().parent.parent

#: The public names of 0.1.0: a name added since carries ``.. versionadded::`` in its docstring.
RELEASED_NAMES = frozenset({
    "AlreadyInitializedError", "ApplicationServer", "AuthenticationRequired", "AuthorizationDenied",
    "ConfigurationError", "Count", "Database", "DatabaseUnavailableError", "Internals", "Jdk", "LicenseKey",
    "LicenseKeyError", "NotInitializedError", "Product", "TelemetryData", "TelemetryDataSchema", "TelemetryError",
    "TelemetryExt", "UnknownMetricError", "parse_license_key",
})  # fmt: skip
#: The public methods of TelemetryExt in 0.1.0.
RELEASED_METHODS = frozenset({
    "init_app", "state", "command", "authorizer", "count_command", "mark_occurrence", "data", "flush", "reset",
})  # fmt: skip


def test_the_readmes_configuration_table_is_generated_from_keys() -> None:
    text = README.read_text()
    block = readme_table()
    start = text.find(block[0])
    assert start >= 0, f"README.rst lost the line {block[0]!r} that starts the configuration table"
    found = text[start:].splitlines()[: len(block)]
    assert found == block, "README.rst's configuration table is not config.KEYS: run python docs/_ext/config_keys.py"


def test_the_readme_is_a_front_page_whose_test_command_ci_runs() -> None:
    """At most 300 lines (the manual is docs/), and its command that runs the tests is the one
    .ci/run runs (with pip's ``-q``)."""
    text = README.read_text()
    assert len(text.splitlines()) <= 300, "README.rst is a front page: move the details to docs/"
    (command,) = (line.strip() for line in text.splitlines() if "-m pytest" in line and "pip install" in line)
    ci = (ROOT / ".ci" / "run").read_text()
    assert command.replace(" pip install ", " pip install -q ") in ci.splitlines(), (
        f".ci/run no longer runs the README's test command {command!r}"
    )


def test_the_readme_is_valid_restructuredtext() -> None:
    core = pytest.importorskip("docutils.core")
    core.publish_doctree(README.read_text(), settings_overrides={"halt_level": 2, "report_level": 2})


def release(version: str) -> tuple[int, ...]:
    """``0.2.0`` and ``0.2.0.dev1`` as ``(0, 2, 0)``."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split(".dev")[0]))


def test_the_version_is_one_everywhere() -> None:
    """setup.cfg's version is what is installed (what the docs and the User-Agent print) and
    the first of CHANGES.rst, released on a date (a ``.devN`` version: "Unreleased"); every
    ``versionadded``/``versionchanged`` note names a version CHANGES.rst lists, none later."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    version = setup["metadata"]["version"]
    installed = importlib.metadata.version("flask-camunda-telemetry")
    assert installed == version, f"setup.cfg says {version}, {installed} is installed: pip install -e ."
    sections = re.findall(r"^Version (\S+)\n-+\n\n(.*)$", (ROOT / "CHANGES.rst").read_text(), re.MULTILINE)
    assert sections, "CHANGES.rst has no 'Version X' section"
    (latest, status), listed = sections[0], {v for v, _ in sections}
    assert release(latest) == release(version), f"CHANGES.rst's first section is {latest}, setup.cfg says {version}"
    if ".dev" in version:
        assert status == "Unreleased", f"{version} is a development version: CHANGES.rst should say 'Unreleased'"
    else:
        assert re.fullmatch(r"Released \d{4}-\d{2}-\d{2}", status), f"{version}: say 'Released YYYY-MM-DD'"
    sources = [*(ROOT / "flask_camunda_telemetry").rglob("*.py"), *(ROOT / "docs").rglob("*.rst")]
    notes = {
        (path.relative_to(ROOT).as_posix(), noted)
        for path in sources
        for noted in re.findall(r"\.\. version(?:added|changed):: (\S+)", path.read_text())
    }
    wrong = sorted((where, noted) for where, noted in notes if noted not in listed or release(noted) > release(version))
    assert wrong == [], f"notes naming a version CHANGES.rst does not list, or one after {version}: {wrong}"


def test_new_public_names_say_when_they_were_added() -> None:
    unmarked = [
        name
        for name in set(flask_camunda_telemetry.__all__) - RELEASED_NAMES
        if ".. versionadded::" not in (inspect.getdoc(getattr(flask_camunda_telemetry, name)) or "")
    ]
    methods = {name for name, _ in inspect.getmembers(TelemetryExt, inspect.isfunction) if not name.startswith("_")}
    unmarked += [
        f"TelemetryExt.{name}"
        for name in sorted(methods - RELEASED_METHODS)
        if ".. versionadded::" not in (inspect.getdoc(getattr(TelemetryExt, name)) or "")
    ]
    assert unmarked == [], f"add '.. versionadded:: <version>' to the docstrings of {unmarked}"


def test_the_docs_build_without_a_warning_and_cover_every_public_name(tmp_path: Path) -> None:
    """``sphinx-build -W`` (the docs extra): every warning fails the build."""
    if subprocess.run([sys.executable, "-c", "import sphinx"], capture_output=True).returncode:
        if os.environ.get("CI") == "true":
            pytest.fail("Sphinx is missing: pip install -e '.[docs]'")
        pytest.skip("Sphinx is missing: pip install -e '.[docs]'")
    out = tmp_path / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr + build.stdout
    api = (out / "api.html").read_text()
    undocumented = [n for n in flask_camunda_telemetry.__all__ if f'id="flask_camunda_telemetry.{n}"' not in api]
    assert undocumented == [], f"add these to docs/api.rst: {undocumented}"
    configuration = (out / "configuration.html").read_text()
    assert all(key.name in configuration for key in flask_camunda_telemetry.config.KEYS)
