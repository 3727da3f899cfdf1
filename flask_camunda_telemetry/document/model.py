"""The internal objects behind the ``/telemetry/data`` document.

They mirror Camunda's ``TelemetryData`` tree; :mod:`.schemas` turns them into JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Count:
    """The value of one entry of ``commands`` or ``metrics``."""

    count: int


@dataclass(frozen=True)
class Database:
    """The connected database system; both values are ``None`` until it has been reached."""

    vendor: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class ApplicationServer:
    """The WSGI server that serves the app (Camunda's servlet container)."""

    vendor: str | None
    version: str | None


@dataclass(frozen=True)
class Jdk:
    """The language runtime. Camunda reports the JVM; here it is the Python interpreter."""

    version: str
    vendor: str


@dataclass(frozen=True)
class LicenseKey:
    """A parsed license key (see :func:`~flask_camunda_telemetry.parse_license_key`)."""

    customer: str | None
    type: str | None
    valid_until: dt.date | None
    unlimited: bool
    features: dict[str, str]
    raw: str | None


@dataclass(frozen=True)
class Internals:
    """``product.internals``: where the installation runs and what it counted.

    ``commands`` by command name; ``metrics`` by the name the document writes (internal or
    public, per ``CAMUNDA_TELEMETRY_METRIC_NAMES``); ``camunda_integration`` and ``webapps`` as
    configured; ``data_collection_start_date``: when the counts shown began.
    """

    database: Database
    application_server: ApplicationServer | None
    license_key: LicenseKey | None
    camunda_integration: list[str]
    data_collection_start_date: dt.datetime
    commands: dict[str, Count]
    metrics: dict[str, Count]
    webapps: list[str]
    jdk: Jdk


@dataclass(frozen=True)
class Product:
    """``product``: name, version and edition (``community`` or ``enterprise``) of the engine."""

    name: str
    version: str
    edition: str
    internals: Internals


@dataclass(frozen=True)
class TelemetryData:
    """The document ``GET /telemetry/data`` answers: the installation id (one per database) and
    the product."""

    installation: str | None
    product: Product
