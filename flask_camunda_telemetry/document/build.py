"""The document built from its parts: where every value of ``/telemetry/data`` is put.

The JSON keys themselves are written by :mod:`.schemas`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .counts import Counts
from .environment import python_runtime
from .metrics import INTERNAL_NAMES, output_name
from .model import ApplicationServer, Count, Database, Internals, LicenseKey, Product, TelemetryData


class DocumentSettings(Protocol):
    """What the document takes from the configuration (``config.TelemetryConfig`` has it all).

    .. versionadded:: 0.2.0
    """

    @property
    def product_name(self) -> str: ...
    @property
    def product_version(self) -> str: ...
    @property
    def edition(self) -> str: ...
    @property
    def license_key(self) -> LicenseKey | None: ...
    @property
    def redact_license(self) -> bool: ...
    @property
    def integrations(self) -> Sequence[str]: ...
    @property
    def webapps(self) -> Sequence[str]: ...
    @property
    def metric_names(self) -> str: ...


def build_document(
    config: DocumentSettings,
    *,
    installation: str,
    database: Database,
    application_server: ApplicationServer | None,
    counts: Counts,
) -> TelemetryData:
    """The document of one installation, showing ``counts``."""
    license_key = config.license_key
    if license_key is not None and config.redact_license:
        license_key = dataclasses.replace(license_key, customer=None, raw=None)
    internals = Internals(
        database=database,
        application_server=application_server,
        license_key=license_key,
        camunda_integration=list(config.integrations),
        data_collection_start_date=counts.start,
        commands={name: Count(n) for name, n in sorted(counts.commands.items())},
        metrics={
            output_name(name, config.metric_names): Count(counts.metrics.get(name, 0)) for name in INTERNAL_NAMES
        },
        webapps=list(config.webapps),
        jdk=python_runtime(),
    )
    product = Product(
        name=config.product_name, version=config.product_version, edition=config.edition, internals=internals
    )
    return TelemetryData(installation=installation, product=product)


@dataclass(frozen=True)
class Snapshot:
    """The document at one moment, with the counts it shows (metrics by internal name) and the
    exact start date it carries."""

    data: TelemetryData
    counts: Counts

    @property
    def start(self) -> dt.datetime:
        return self.counts.start
