"""The lifetime counts in Prometheus' format, written by ``prometheus_client`` (the ``prometheus`` extra).

The series:

* ``camunda_command_executions_total{command}``: a counter per command;
* ``camunda_engine_metric_total{metric}``: Camunda's four engine metrics, by internal name;
* ``camunda_telemetry_info{installation, product, version, edition, database, database_version,
  application_server, runtime}``: always 1, the installation and where it runs;
* ``camunda_telemetry_collection_start_timestamp_seconds``: when the counts began (Unix time).

The counters are the lifetime totals of the app's scope (:meth:`.TelemetryState.lifetime`):
a report never lowers them, only ``flask telemetry reset`` does, which Prometheus reads as a
counter reset. In ``cluster`` scope every process answers the same totals, so a scrape of any
worker is right. This module is imported only when ``CAMUNDA_TELEMETRY_PROMETHEUS_URL`` is set or a
collector is asked for; it never touches ``prometheus_client``'s global registry.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Response, current_app, request
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from .document.counts import Counts
from .document.environment import python_runtime
from .document.metrics import INTERNAL_NAMES
from .exceptions import DatabaseUnavailableError
from .state import TelemetryState, get_state
from .web.guards import admit, refusal_response
from .web.responses import handle_exception

__all__ = ["TelemetryMetrics"]

log = logging.getLogger("flask_camunda_telemetry")

#: Family names; a counter's samples carry ``_total``, the info's ``_info``.
COMMAND_SERIES = "camunda_command_executions"
METRIC_SERIES = "camunda_engine_metric"
INFO_SERIES = "camunda_telemetry"
START_SERIES = "camunda_telemetry_collection_start_timestamp_seconds"
INFO_LABELS = (
    "installation",
    "product",
    "version",
    "edition",
    "database",
    "database_version",
    "application_server",
    "runtime",
)


@dataclass(frozen=True)
class Scrape:
    """What one scrape reports: lifetime counts (metrics by internal name, and the start date)
    and the info labels."""

    counts: Counts
    info: Mapping[str, str]


def read_scrape(state: TelemetryState) -> Scrape:
    """Read everything a scrape reports; raises DatabaseUnavailableError when the database is down."""
    installation = state.store.installation_id()
    counts = state.lifetime()
    database = state.store.database()
    server = state.application_server
    runtime = python_runtime()
    config = state.config
    values = (
        installation,
        config.product_name,
        config.product_version,
        config.edition,
        database.vendor,
        database.version,
        server.version if server is not None else None,
        f"{runtime.vendor} {runtime.version}",
    )
    info = {label: value or "" for label, value in zip(INFO_LABELS, values, strict=True)}
    return Scrape(counts, info)


def families(scrape: Scrape | None) -> list[Metric]:
    """The four families; empty ones (for :meth:`TelemetryMetrics.describe`) without a scrape."""
    commands = CounterMetricFamily(
        COMMAND_SERIES,
        "Executions of each command since the collection start (lifetime total; only a reset lowers it).",
        labels=["command"],
    )
    metrics = CounterMetricFamily(
        METRIC_SERIES, "Camunda's engine metrics by internal name, since the collection start.", labels=["metric"]
    )
    info = InfoMetricFamily(INFO_SERIES, "The installation and where it runs.", labels=INFO_LABELS)
    start = GaugeMetricFamily(START_SERIES, "When the counts began, in seconds since the Unix epoch.")
    if scrape is not None:
        counts = scrape.counts
        for name in sorted(counts.commands):
            commands.add_metric([name], counts.commands[name])
        for name in INTERNAL_NAMES:
            metrics.add_metric([name], counts.metrics.get(name, 0))
        info.add_metric([scrape.info[label] for label in INFO_LABELS], {})
        start.add_metric([], counts.start.timestamp())
    return [commands, metrics, info, start]


class TelemetryMetrics:
    """A ``prometheus_client`` collector of one app's lifetime counts.

    Register it on a registry of your own (``registry.register(collector)``), or on
    prometheus_flask_exporter's (``metrics.registry``). With the database down, a scrape gets
    none of these series (and the outage is logged, once), so the host's other series are still
    served; with ``raise_on_outage`` the :class:`~.DatabaseUnavailableError` propagates instead.

    .. versionadded:: 0.2.0
    """

    def __init__(self, state: TelemetryState, *, raise_on_outage: bool = False) -> None:
        self.state = state
        self.raise_on_outage = raise_on_outage

    def describe(self) -> list[Metric]:
        """The families without samples: registering reads no database."""
        return families(None)

    def collect(self) -> list[Metric]:
        """The four families with the app's lifetime counts, read now (in the app's single
        flight, bounded by ``DB_TIMEOUT``); none while the database is down."""
        if self.state.app() is None:  # the app is gone: nothing to report
            return []
        try:
            scrape = self.state.read("prometheus", lambda: read_scrape(self.state))
        except DatabaseUnavailableError as exc:
            if self.raise_on_outage:
                raise
            log.debug("telemetry series left out of this scrape: %s", exc)  # the store logged it once
            return []
        return families(scrape)


def _scrape(state: TelemetryState) -> Response:
    stop = admit(("GET", "HEAD"), state.ext.authorize, refusal_response)
    if stop is not None:
        return stop
    state.observe_server(request.environ)
    # The route's own registry, made per scrape (a few microseconds): nothing shared between
    # threads, apps or forked workers, and prometheus_client's global registry is never used.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemetryMetrics(state, raise_on_outage=True))
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = current_app.response_class(encode(registry), status=200)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response


def serve_prometheus_metrics() -> Response:
    """The view of ``CAMUNDA_TELEMETRY_PROMETHEUS_URL``: text format, or OpenMetrics when the
    scraper asks for it; guarded by the ``authorize`` hook; errors as Camunda-shaped JSON
    (503 with the database down)."""
    try:
        return _scrape(get_state())
    except Exception as exc:  # noqa: BLE001 - every failure answers JSON, as the other routes do
        return handle_exception(exc)
