"""A small engine-like Flask app that uses flask-camunda-telemetry.

Run it with ``flask --app example_app run`` (SQLite in the instance folder, no set-up), or under
gunicorn: ``gunicorn -w 4 'example_app:create_app()'``. Settings come from ``CAMUNDA_TELEMETRY_*``
and ``SQLALCHEMY_DATABASE_URI`` environment variables (``FLASK_`` prefixed ones too).

It serves the counts for Prometheus at ``/telemetry/metrics``, which needs the ``prometheus``
extra (``pip install -e '.[prometheus]'``; the ``test`` extra has it too).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .engine import engine, telemetry

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("EXAMPLE_APP_INSTANCE_PATH"))
    app.config.update(
        CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.22.0",
        CAMUNDA_TELEMETRY_INTEGRATIONS=["flask-engine"],
        CAMUNDA_TELEMETRY_WEBAPPS=["cockpit"],
        CAMUNDA_TELEMETRY_URL_PREFIX=["", "/engine-rest"],
        CAMUNDA_TELEMETRY_OPENAPI_URL="/telemetry/openapi.json",
        CAMUNDA_TELEMETRY_PROMETHEUS_URL="/telemetry/metrics",
    )
    for key, value in os.environ.items():
        if key.startswith("CAMUNDA_TELEMETRY_") or key == "SQLALCHEMY_DATABASE_URI":
            app.config[key] = value
    app.config.from_prefixed_env()
    app.config.update(config or {})
    app.register_blueprint(engine)
    telemetry.init_app(app)
    return app
