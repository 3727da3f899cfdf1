"""``flask telemetry init-db | show | reset``, run as real commands next to real servers."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

from .support.processes import assert_served, counts, drive, flask_cli, serve, server_env, wait_for_counts
from .support.serving_app import ALL_METRICS, expected_counts, mixed_traffic

VENDORS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}


def test_show_before_any_request(database_url: str, tmp_path: Path) -> None:
    """Outside a request no WSGI server is known: application-server is null. The installation
    id made by init-db is the one the document and a server later report."""
    env = server_env(database_url)
    made = flask_cli(env, "telemetry", "init-db")
    assert made.returncode == 0, made.stderr
    found = re.fullmatch(
        r"Tables camunda_telemetry_property, camunda_telemetry_count ready; installation id ([0-9a-f-]{36})\.\n",
        made.stdout,
    )
    assert found, made.stdout
    installation = found.group(1)

    shown = flask_cli(env, "telemetry", "show")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    internals = doc["product"]["internals"]
    assert doc["installation"] == installation
    assert internals["application-server"] is None
    assert counts(doc) == ({}, dict.fromkeys(ALL_METRICS, 0))
    assert internals["database"]["vendor"] == VENDORS[database_url.split(":")[0].split("+")[0]]
    assert internals["jdk"] == {"vendor": platform.python_implementation(), "version": platform.python_version()}

    with serve("waitress", env, tmp_path) as server:
        served, _ = server.telemetry()
    assert served["installation"] == installation
    assert served["product"]["internals"]["data-collection-start-date"] == internals["data-collection-start-date"]
    assert served["product"]["internals"]["application-server"]["vendor"] == "waitress"


def test_show_prints_the_document_the_endpoint_serves(database_url: str, tmp_path: Path) -> None:
    """After traffic on 4 gunicorn workers, ``show`` prints the endpoint's document, key for key,
    except application-server. ``reset`` without ``--yes`` asks, and changes nothing on "n"."""
    env = server_env(database_url)
    with serve("gunicorn", env, tmp_path) as server:
        requests = mixed_traffic(40)
        assert_served(server, drive(server, requests))
        served = wait_for_counts(server, expected_counts(requests))

        shown = flask_cli(env, "telemetry", "show")
        assert shown.returncode == 0, shown.stderr
        doc = json.loads(shown.stdout)
        assert doc["product"]["internals"]["application-server"] is None
        assert served["product"]["internals"]["application-server"]["vendor"] == "gunicorn"
        served["product"]["internals"]["application-server"] = None
        assert doc == served

        refused = flask_cli(env, "telemetry", "reset", input="n\n")
        assert refused.returncode == 1
        assert "Reset the telemetry counts of every instance?" in refused.stdout
        assert "Aborted" in refused.stderr
        assert flask_cli(env, "telemetry", "show").stdout == shown.stdout
