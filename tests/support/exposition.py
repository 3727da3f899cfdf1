"""Prometheus expositions read back with prometheus_client's own parsers, and the app serving them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from flask_camunda_telemetry import TelemetryExt

from .apps import make_app

__all__ = ["METRICS_URL", "OPENMETRICS_ACCEPT", "Exposition", "prometheus_app", "scrape"]

METRICS_URL = "/telemetry/metrics"
#: The Accept header Prometheus 2.x sends.
OPENMETRICS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@dataclass(frozen=True)
class Exposition:
    """One scrape: the raw text, each family's type, and every sample as ``(name, labels, value)``."""

    text: str
    content_type: str
    types: dict[str, str]
    samples: list[tuple[str, dict[str, str], float]]

    @classmethod
    def parse(cls, text: str, content_type: str) -> Exposition:
        parser = parse_openmetrics if content_type.startswith("application/openmetrics-text") else parse_text
        families = list(parser(text))
        return cls(
            text,
            content_type,
            {family.name: family.type for family in families},
            [(s.name, dict(s.labels), float(s.value)) for family in families for s in family.samples],
        )

    def by_label(self, sample: str, label: str) -> dict[str, float]:
        """``{label value: value}`` of the samples named ``sample``."""
        return {labels[label]: value for name, labels, value in self.samples if name == sample}

    def only(self, sample: str) -> tuple[dict[str, str], float]:
        """The labels and value of the one sample named ``sample``."""
        (found,) = [(labels, value) for name, labels, value in self.samples if name == sample]
        return found

    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples}


def scrape(client: FlaskClient, accept: str | None = None, **environ: Any) -> Exposition:
    """GET the metrics route (asserting a 200) and parse the answer in the format it came in."""
    headers = {"Accept": accept} if accept else {}
    response = client.get(METRICS_URL, headers=headers, environ_overrides=environ)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return Exposition.parse(response.get_data(as_text=True), response.headers["Content-Type"])


def prometheus_app(database_url: str, instance: Path, ext: TelemetryExt | None = None, **config: Any) -> Flask:
    """The test app (:func:`.apps.make_app`) serving the metrics route at :data:`METRICS_URL`."""
    return make_app(database_url, instance, ext, **{"CAMUNDA_TELEMETRY_PROMETHEUS_URL": METRICS_URL, **config})
