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

from flask import Flask, request

from flask_camunda_telemetry import AuthenticationRequired
from flask_camunda_telemetry.collector import TelemetryCollector, get_collector_state
from flask_camunda_telemetry.collector.state import utc_now

from .reports import RECEIVED_AT_HEADER

__all__ = ["create_app"]


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
