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
from .extension import TelemetryExt

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
