"""flask-camunda-telemetry: Camunda 7's ``GET /telemetry/data`` for Flask apps."""

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
from .exceptions import (
    AlreadyInitializedError,
    AuthenticationRequired,
    AuthorizationDenied,
    ConfigurationError,
    DatabaseUnavailableError,
    LicenseKeyError,
    NotInitializedError,
    ReportRefusedError,
    TelemetryError,
    UnknownMetricError,
)
from .extension import TelemetryExt

__all__ = [
    "AlreadyInitializedError",
    "ApplicationServer",
    "AuthenticationRequired",
    "AuthorizationDenied",
    "ConfigurationError",
    "Count",
    "Database",
    "DatabaseUnavailableError",
    "Internals",
    "Jdk",
    "LicenseKey",
    "LicenseKeyError",
    "NotInitializedError",
    "Product",
    "ReportRefusedError",
    "TelemetryData",
    "TelemetryDataSchema",
    "TelemetryError",
    "TelemetryExt",
    "UnknownMetricError",
    "parse_license_key",
]
