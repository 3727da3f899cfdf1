"""An engine-like Flask app for tests, built the way a host app would use the extension."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, abort, request
from flask.views import MethodView
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

from flask_camunda_telemetry import AuthenticationRequired, AuthorizationDenied, TelemetryExt


def make_app(database_url: str | None, instance: Path, ext: TelemetryExt | None = None, **config: Any) -> Flask:
    """Routes: a named command, a class-based view, an unnamed view, a raising view, a path
    parameter, a 404 from the view. Returns the app; the extension is ``app.extensions``'s."""
    ext = ext or TelemetryExt()
    app = Flask("engine", instance_path=str(instance))
    app.config.update(TESTING=True, CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.14.0")
    if database_url is not None:
        app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = database_url
    app.config.update(config)

    @app.post("/process-definition/<key>/start")
    @ext.command("StartProcessInstanceCmd")
    def start(key: str) -> dict[str, str]:
        return {"key": key}

    @ext.command("FetchExternalTasksCmd")
    class FetchAndLock(MethodView):
        def post(self) -> list[str]:
            return []

    class GetDeploymentsCmd(MethodView):
        def get(self) -> list[str]:
            return []

    app.add_url_rule("/external-task/fetchAndLock", view_func=FetchAndLock.as_view("fetch_and_lock"))
    app.add_url_rule("/deployment", view_func=GetDeploymentsCmd.as_view("deployments"))

    @app.get("/process-instance")
    def query_process_instances() -> list[str]:
        return []

    @app.get("/process-instance/<instance_id>")
    def get_process_instance(instance_id: str) -> dict[str, str]:
        if instance_id == "missing":
            abort(404)
        return {"id": instance_id}

    @app.get("/fail")
    def fail() -> str:
        raise RuntimeError("the view failed")

    ext.init_app(app)
    return app


def host_app(instance: Path, **config: Any) -> tuple[Flask, SQLAlchemy]:
    """A host app with its own model and a view using its database, and ``db = SQLAlchemy(app)``."""
    app = Flask("host", instance_path=str(instance))
    app.config.update(TESTING=True, **config)
    db = SQLAlchemy(app)

    class Item(db.Model):  # type: ignore[name-defined, misc]
        id: Mapped[int] = mapped_column(primary_key=True)

    @app.get("/items")
    def items() -> dict[str, int]:
        return {"items": db.session.query(Item).count()}

    return app, db


def admin_by_header() -> bool:
    """An ``authorize`` hook: the user named in ``X-User`` may read if it is ``admin``; no
    header is unauthenticated (401), another user is denied (403)."""
    user = request.headers.get("X-User")
    if user is None:
        raise AuthenticationRequired()
    if user != "admin":
        raise AuthorizationDenied(user)
    return True


#: Reporting settings for tests: consent from the start, reports only when asked, short timeouts.
REPORTING = {
    "CAMUNDA_TELEMETRY_INITIALIZE": True,
    "CAMUNDA_TELEMETRY_REPORT_DELAY": 3600,  # tests that want the thread to report set 0
    "CAMUNDA_TELEMETRY_REPORT_INTERVAL": 3600,
    "CAMUNDA_TELEMETRY_REPORT_TIMEOUT": 2,
    "CAMUNDA_TELEMETRY_REPORT_RETRIES": 0,
    "CAMUNDA_TELEMETRY_FLUSH_INTERVAL": 3600,
}


def reporting_app(
    database_url: str, instance: Path, report_url: str, ext: TelemetryExt | None = None, **config: Any
) -> Flask:
    """:func:`make_app` reporting to ``report_url``, with :data:`REPORTING` unless overridden."""
    settings = {**REPORTING, "CAMUNDA_TELEMETRY_REPORT_URL": report_url, **config}
    return make_app(database_url, instance, ext, **settings)
