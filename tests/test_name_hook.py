"""The ``name_command`` hook: the host names the commands (or leaves endpoints uncounted)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.views import MethodView

from flask_camunda_telemetry import TelemetryExt

from .support.documents import counts, read

Namer = Callable[[str, Callable[..., Any] | None], str | None]


def _commands(app: Flask) -> dict[str, int]:
    return counts(read(app.test_client()))[0]


def _host(tmp_path: Path, telemetry: TelemetryExt, *, init: bool = True) -> Flask:
    """Routes: a plain view, a blueprint view, a class-based view, one named with
    ``@telemetry.command``, an excluded one, and static files."""
    app = Flask("host", instance_path=str(tmp_path), static_folder=str(tmp_path))
    (tmp_path / "x.txt").write_text("x")
    app.config.update(
        CAMUNDA_TELEMETRY_DATABASE_URI=f"sqlite:///{tmp_path / 't.sqlite'}",
        CAMUNDA_TELEMETRY_EXCLUDED_ENDPOINTS=["health"],
    )
    app.add_url_rule("/tasks", "query_tasks", lambda: [])
    app.add_url_rule("/health", "health", lambda: "ok")
    app.add_url_rule("/docs", "docs", lambda: "docs")

    class GetDeploymentsCmd(MethodView):
        def get(self) -> list[str]:
            return []

    app.add_url_rule("/deployment", view_func=GetDeploymentsCmd.as_view("deployments"))

    @app.post("/start")
    @telemetry.command("StartProcessInstanceCmd")
    def start() -> str:
        return ""

    engine = Blueprint("engine", __name__)
    engine.add_url_rule("/incidents", "query_incidents", lambda: [])
    app.register_blueprint(engine)
    if init:
        telemetry.init_app(app)
    return app


def _requests(app: Flask) -> None:
    client = app.test_client()
    for path in ("/tasks", "/tasks", "/health", "/docs", "/deployment", "/incidents"):
        assert client.get(path).status_code == 200
    assert client.post("/start").status_code == 200
    client.get("/static/x.txt").close()
    assert client.get("/telemetry/data").status_code == 200


def test_the_hook_names_each_endpoint_once_and_none_leaves_it_uncounted(tmp_path: Path) -> None:
    asked: list[tuple[str, Callable[..., Any] | None]] = []

    def name_command(endpoint: str, view: Callable[..., Any] | None) -> str | None:
        asked.append((endpoint, view))
        if endpoint == "docs":
            return None
        return endpoint.upper()

    app = _host(tmp_path, TelemetryExt(name_command=name_command))
    _requests(app)
    _requests(app)
    assert _commands(app) == {
        "QUERY_TASKS": 4, "DEPLOYMENTS": 2, "ENGINE.QUERY_INCIDENTS": 2, "StartProcessInstanceCmd": 2,
    }  # fmt: skip
    # once per endpoint, with its view; never for static files, the extension's routes, excluded
    # endpoints, or a view named with @telemetry.command
    assert sorted(endpoint for endpoint, _ in asked) == ["deployments", "docs", "engine.query_incidents", "query_tasks"]
    assert all(view is app.view_functions[endpoint] for endpoint, view in asked)


def test_the_decorator_sets_the_hook_and_the_default_name_is_the_fallback(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = _host(tmp_path, telemetry)  # initialized before the hook is set: it applies all the same

    @telemetry.command_namer
    def name_command(endpoint: str, view: Callable[..., Any] | None) -> str | None:
        return None if endpoint == "docs" else TelemetryExt.default_command_name(endpoint, view)

    _requests(app)
    assert _commands(app) == {
        "query_tasks": 2, "GetDeploymentsCmd": 1, "engine_query_incidents": 1, "StartProcessInstanceCmd": 1,
    }  # fmt: skip


def test_the_default_name_is_what_the_extension_derives(tmp_path: Path) -> None:
    app = _host(tmp_path, TelemetryExt())
    views = app.view_functions
    assert TelemetryExt.default_command_name("query_tasks", views["query_tasks"]) == "query_tasks"
    assert TelemetryExt.default_command_name("deployments", views["deployments"]) == "GetDeploymentsCmd"
    assert TelemetryExt.default_command_name("engine.query_incidents", None) == "engine_query_incidents"
    digest = hashlib.sha256(b"x" * 300).hexdigest()[:8]
    assert TelemetryExt.default_command_name("x" * 300, None) == "x" * 246 + "~" + digest  # made safe


@pytest.mark.parametrize("returned", ["Bad\nName", "N" * 300, ""])
def test_a_name_that_cannot_be_stored_is_made_safe_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, returned: str
) -> None:
    app = _host(tmp_path, TelemetryExt(name_command=lambda endpoint, view: returned))
    with caplog.at_level(logging.WARNING, "flask_camunda_telemetry"):
        _requests(app)
        _requests(app)
    commands = _commands(app)
    assert sum(commands.values()) == 12 and "StartProcessInstanceCmd" in commands
    (name,) = set(commands) - {"StartProcessInstanceCmd"}  # the four endpoints share the one name
    assert 0 < len(name) <= 255 and name.isprintable() and name.strip()
    warnings = [r for r in caplog.records if "name_command" in r.getMessage()]
    assert len(warnings) == 4 and all(r.levelno == logging.WARNING for r in warnings)


@pytest.mark.parametrize("failure", ["raises", "returns a number"])
def test_a_failing_hook_is_logged_once_per_endpoint_and_the_default_name_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    def name_command(endpoint: str, view: Callable[..., Any] | None) -> Any:
        if endpoint == "query_tasks":
            if failure == "raises":
                raise LookupError("no name for this one")
            return 42
        return "Named"

    app = _host(tmp_path, TelemetryExt(name_command=name_command))
    with caplog.at_level(logging.WARNING, "flask_camunda_telemetry"):
        _requests(app)  # every request succeeds (asserted inside)
        _requests(app)
    assert _commands(app) == {"query_tasks": 4, "Named": 6, "StartProcessInstanceCmd": 2}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "query_tasks" in errors[0].getMessage()
    if failure == "raises":
        assert errors[0].exc_info is not None and errors[0].exc_info[0] is LookupError
