"""The collector app the process and browser tests serve (gunicorn, waitress, flask run).

Settings come from ``CAMUNDA_TELEMETRY_COLLECTOR_*`` environment variables, as a deployed app
would read them. For the tests only:

* ``COLLECTOR_APP_READER_TOKEN``: the dashboard and the API need ``Authorization: Bearer <it>``
  (an ``authorize`` hook: 401 without a token, 403 with a wrong one);
* a report's receipt time may be set with the ``X-Test-Received-At`` header (ISO), so a test
  can fill the collector with reports spread over days.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, request

from flask_camunda_telemetry import AuthenticationRequired
from flask_camunda_telemetry.collector import TelemetryCollector
from flask_camunda_telemetry.collector.state import get_collector_state, utc_now

from .reports import RECEIVED_AT_HEADER

__all__ = ["create_app", "make_collector_app", "stored_reports"]


def _received_at() -> dt.datetime:
    given = request.headers.get(RECEIVED_AT_HEADER)
    if given is None:
        return utc_now()
    return dt.datetime.fromisoformat(given).astimezone(dt.UTC).replace(tzinfo=None)


def create_app() -> Flask:
    app = Flask("collector_under_test", instance_path=os.environ.get("COLLECTOR_APP_INSTANCE_PATH"))
    for key, value in os.environ.items():
        if key.startswith("CAMUNDA_TELEMETRY_COLLECTOR_"):
            app.config[key] = value
    reader_token = os.environ.get("COLLECTOR_APP_READER_TOKEN")

    def authorize() -> bool:
        given = request.headers.get("Authorization")
        if given is None:
            raise AuthenticationRequired("Send 'Authorization: Bearer <reader token>'.")
        return given == f"Bearer {reader_token}"

    TelemetryCollector(app, authorize=authorize if reader_token else None)
    get_collector_state(app).clock = _received_at
    return app


def make_collector_app(database_url: str | None, instance: Path, **config: Any) -> Flask:
    """A collector app for in-process tests (``app.test_client()``); ``config`` are full keys."""
    app = Flask("collector", instance_path=str(instance))
    app.config.update(TESTING=True)
    if database_url is not None:
        app.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"] = database_url
    app.config.update(config)
    TelemetryCollector(app)
    return app


def stored_reports(database_url: str, table: str = "telemetry_collector_report") -> list[dict[str, Any]]:
    """Every stored report row, read directly (document parsed), oldest first."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return []
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)  # typed columns: datetimes on SQLite
            rows = conn.execute(sa.select(reflected).order_by(reflected.c.id)).mappings().all()
    finally:
        engine.dispose()
    return [dict(row) for row in rows]
