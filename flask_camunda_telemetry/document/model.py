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
    name: str
    version: str
    edition: str
    internals: Internals


@dataclass(frozen=True)
class TelemetryData:
    installation: str | None
    product: Product
