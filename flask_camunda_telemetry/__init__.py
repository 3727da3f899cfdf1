"""flask-camunda-telemetry: Camunda 7's ``GET /telemetry/data`` for Flask apps.

The names listed in ``__all__`` are the package's API; everything else is internal and may move.
They are loaded when first used (:pep:`562`), so that importing the collector, or the CLI's
entry point, loads nothing of the extension it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .exceptions import (
    AlreadyInitializedError,
    AuthenticationRequired,
    AuthorizationDenied,
    ConfigurationError,
    DatabasePermissionError,
    DatabaseUnavailableError,
    InvalidCountError,
    LicenseKeyError,
    NotInitializedError,
    ReportRefusedError,
    TableMissingError,
    TelemetryError,
    UnknownMetricError,
)

if TYPE_CHECKING:
    from .document.license import parse_license_key
    from .document.model import (
        ApplicationServer,
        Count,
        Database,
        Internals,
        Jdk,
        LicenseKey,
        Product,
        TelemetryData,
    )
    from .document.schemas import TelemetryDataSchema
    from .extension import TelemetryExt

#: Where each name that is loaded on first use lives.
_LAZY = {
    "TelemetryExt": ".extension",
    "TelemetryDataSchema": ".document.schemas",
    "parse_license_key": ".document.license",
    **dict.fromkeys(
        ("ApplicationServer", "Count", "Database", "Internals", "Jdk", "LicenseKey", "Product", "TelemetryData"),
        ".document.model",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AlreadyInitializedError",
    "ApplicationServer",
    "AuthenticationRequired",
    "AuthorizationDenied",
    "ConfigurationError",
    "Count",
    "Database",
    "DatabasePermissionError",
    "DatabaseUnavailableError",
    "Internals",
    "InvalidCountError",
    "Jdk",
    "LicenseKey",
    "LicenseKeyError",
    "NotInitializedError",
    "Product",
    "ReportRefusedError",
    "TableMissingError",
    "TelemetryData",
    "TelemetryDataSchema",
    "TelemetryError",
    "TelemetryExt",
    "UnknownMetricError",
    "parse_license_key",
]
