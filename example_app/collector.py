"""An example collector: receives the example engine's reports and shows the fleet.

Run it with ``flask --app example_app.collector run --port 5001`` (SQLite in the instance folder,
no set-up) and point the engine at it::

    CAMUNDA_TELEMETRY_REPORT_URL=http://127.0.0.1:5001/collector/pings flask --app example_app run

The dashboard is at http://127.0.0.1:5001/collector/. Settings come from
``CAMUNDA_TELEMETRY_COLLECTOR_*`` environment variables (``FLASK_`` prefixed ones too), e.g.
``CAMUNDA_TELEMETRY_COLLECTOR_TOKENS=s3cret`` to accept only senders with that bearer token.

Who may read the dashboard and the API is the ``authorize`` hook's decision. This example sets
one when ``EXAMPLE_COLLECTOR_PASSWORD`` is set: the browser then asks for a password (any user
name). Any hook works the same way: return True to allow, False to refuse (403), or raise
``AuthenticationRequired`` (401; ``challenge`` picks the ``WWW-Authenticate`` header).
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from flask import Flask, request

from flask_camunda_telemetry import AuthenticationRequired
from flask_camunda_telemetry.collector import TelemetryCollector

__all__ = ["create_app", "password_hook"]


def password_hook(password: str) -> Any:
    """An ``authorize`` hook: HTTP Basic authentication with one password."""

    def authorize() -> bool:
        given = request.authorization
        if given is None or given.password is None:
            raise AuthenticationRequired("Log in to read the telemetry collector.",
                                         challenge='Basic realm="telemetry collector", charset="UTF-8"')
        return hmac.compare_digest(given.password.encode(), password.encode())

    return authorize


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("EXAMPLE_APP_INSTANCE_PATH"))
    for key, value in os.environ.items():
        if key.startswith("CAMUNDA_TELEMETRY_COLLECTOR_"):
            app.config[key] = value
    app.config.from_prefixed_env()
    app.config.update(config or {})
    password = os.environ.get("EXAMPLE_COLLECTOR_PASSWORD")
    TelemetryCollector(app, authorize=password_hook(password) if password else None)
    return app
