"""The benchmark's engine-like app, built in one of several modes.

The app has 40 routes shaped like Camunda's REST API: for each of ten resources a list query,
a count, a get-by-id and an update (``POST`` with a JSON body). Each view does the same small
amount of work in every mode; only the counting differs:

``bare``
    Flask and nothing else: the limit.
``handwritten``
    The cheapest correct per-endpoint counter: a ``before_request`` hook that increments a dict
    under a lock (and a ``GET /counts`` view to read it): the near-limit.
``prometheus``
    prometheus_flask_exporter's ``PrometheusMetrics(app, group_by="endpoint")``, the peer users
    pick today (its default request-duration histogram and request counter).
``ext-process`` / ``ext-cluster``
    This extension, ``CAMUNDA_TELEMETRY_SCOPE`` ``process`` or ``cluster``; every view is named
    with ``@telemetry.command(...)``.

Under gunicorn the app is made by :func:`from_env` (``BENCH_MODE``, ``BENCH_DATABASE_URL``,
``BENCH_INSTANCE``, ``BENCH_FLUSH_INTERVAL``). The prometheus mode then runs in
prometheus_client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set, as its
documentation requires for several workers.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, request

from flask_camunda_telemetry import TelemetryExt

__all__ = [
    "COUNT_TABLE",
    "MODES",
    "PROPERTY_TABLE",
    "RESOURCES",
    "Call",
    "create_app",
    "from_env",
    "request_mix",
]

MODES = ("bare", "handwritten", "prometheus", "ext-process", "ext-cluster")

#: Table names used by the benchmark, so that it never touches a real installation's tables.
PROPERTY_TABLE = "bench_telemetry_property"
COUNT_TABLE = "bench_telemetry_count"

RESOURCES = (
    "process-definition",
    "process-instance",
    "task",
    "external-task",
    "deployment",
    "decision-definition",
    "job",
    "incident",
    "execution",
    "variable-instance",
)


@dataclass(frozen=True)
class Call:
    """One request of the fixed mix: method, path and JSON body (``b""`` for none)."""

    method: str
    path: str
    body: bytes = b""


def _camel(resource: str) -> str:
    return "".join(part.capitalize() for part in resource.split("-"))


def request_mix() -> list[Call]:
    """One request per route (40: 30 GET, 10 POST with a JSON body), in a fixed order."""
    calls: list[Call] = []
    for i, resource in enumerate(RESOURCES):
        base = f"/engine-rest/{resource}"
        body = json.dumps({"variables": {"amount": {"value": 100 + i, "type": "Integer"}}, "businessKey": f"k{i}"})
        calls += [
            Call("GET", base),
            Call("GET", f"{base}/count"),
            Call("GET", f"{base}/id-{i}"),
            Call("POST", f"{base}/id-{i}/update", body.encode()),
        ]
    return calls


def _views(resource: str) -> list[tuple[str, str, str, Callable[..., Any], str]]:
    """(rule, endpoint, method, view, command name) for one resource's four routes."""
    camel = _camel(resource)
    ep = resource.replace("-", "_")

    def query() -> list[dict[str, Any]]:
        first = int(request.args.get("firstResult", 0))
        return [{"id": f"{resource}-{first + n}", "name": f"{camel} {n}", "suspended": False} for n in range(3)]

    def count() -> dict[str, int]:
        return {"count": 3}

    def get(item_id: str) -> dict[str, Any]:
        return {"id": item_id, "name": camel, "suspended": False}

    def update(item_id: str) -> dict[str, Any]:
        body = request.get_json(silent=True)
        variables = body.get("variables", {}) if isinstance(body, dict) else {}
        return {"id": item_id, "updated": sorted(variables)}

    base = f"/engine-rest/{resource}"
    return [
        (base, f"{ep}_query", "GET", query, f"Query{camel}sCmd"),
        (f"{base}/count", f"{ep}_count", "GET", count, f"Count{camel}sCmd"),
        (f"{base}/<item_id>", f"{ep}_get", "GET", get, f"Get{camel}Cmd"),
        (f"{base}/<item_id>/update", f"{ep}_update", "POST", update, f"Update{camel}Cmd"),
    ]


def _add_handwritten_counter(app: Flask) -> dict[str, int]:
    lock = threading.Lock()
    counts: dict[str, int] = {}

    @app.before_request
    def count_endpoint() -> None:
        endpoint = request.endpoint
        if endpoint is not None:
            with lock:
                counts[endpoint] = counts.get(endpoint, 0) + 1

    @app.get("/counts")
    def read_counts() -> dict[str, int]:
        with lock:
            return dict(counts)

    app.extensions["bench_counts"] = counts
    return counts


def _add_prometheus(app: Flask) -> Any:
    from prometheus_client import CollectorRegistry
    from prometheus_flask_exporter import PrometheusMetrics

    # Own registry: several apps (one per mode) live in the benchmark's process.
    metrics = PrometheusMetrics(app, group_by="endpoint", registry=CollectorRegistry(auto_describe=True))
    app.extensions["bench_prometheus"] = metrics
    return metrics


def create_app(
    mode: str,
    *,
    database_url: str | None = None,
    instance_path: str | None = None,
    flush_interval: float = 10.0,
    extra_routes: int = 0,
    telemetry_options: Mapping[str, Any] | None = None,
) -> Flask:
    """The engine-like app in ``mode`` (one of :data:`MODES`).

    ``extra_routes`` adds that many ``GET /extra/<n>`` routes (for the read-cost test: as many
    endpoints for prometheus as the extension has commands). ``telemetry_options`` are more
    options of the extension in the ``ext-*`` modes (``prometheus_url="/telemetry/metrics"``).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    app = Flask(f"bench_{mode.replace('-', '_')}", instance_path=instance_path)
    telemetry: TelemetryExt | None = None
    if mode.startswith("ext-"):
        telemetry = TelemetryExt(
            scope=mode.removeprefix("ext-"),
            database_uri=database_url,
            flush_interval=flush_interval,
            property_table=PROPERTY_TABLE,
            count_table=COUNT_TABLE,
            **(telemetry_options or {}),
        )
    for resource in RESOURCES:
        for rule, endpoint, method, view, command in _views(resource):
            if telemetry is not None:
                view = telemetry.command(command)(view)
            app.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=[method])
    for n in range(extra_routes):
        app.add_url_rule(f"/extra/{n}", endpoint=f"extra_{n}", view_func=lambda: {"ok": True})
    if mode == "handwritten":
        _add_handwritten_counter(app)
    elif mode == "prometheus":
        _add_prometheus(app)
    elif telemetry is not None:
        telemetry.init_app(app)
        app.extensions["bench_telemetry"] = telemetry
    return app


def from_env() -> Flask:
    """The app for gunicorn: ``gunicorn 'benchmarks.bench_app:from_env()'`` (from the repository root)."""
    mode = os.environ.get("BENCH_MODE", "bare")
    if mode == "prometheus" and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        app = create_app("bare")
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics(app, group_by="endpoint")
        return app
    return create_app(
        mode,
        database_url=os.environ.get("BENCH_DATABASE_URL") or None,
        instance_path=os.environ.get("BENCH_INSTANCE") or None,
        flush_interval=float(os.environ.get("BENCH_FLUSH_INTERVAL", "10")),
    )
