"""The ``CAMUNDA_TELEMETRY_*`` config keys, declared once in :data:`KEYS`, and the frozen result.

``init_app`` calls :func:`load_config` once; nothing reads ``app.config`` after that. The
README's configuration table and the docs' are generated from :data:`KEYS` (a test keeps the
README in step).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from .document.license import parse_license_key
from .document.model import LicenseKey
from .exceptions import ConfigurationError
from .settings import (
    Key,
    load_keys,
    parse_bool,
    parse_choice,
    parse_names,
    parse_optional_str,
    parse_route,
    parse_seconds,
    parse_str,
    parse_url_path,
    parse_url_paths,
)

__all__ = ["KEYS", "PREFIX", "TelemetryConfig", "load_config"]

PREFIX = "CAMUNDA_TELEMETRY_"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _table(key: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(key, value, "expected a table name of letters, digits and '_' (at most 63)")
    return value


def _license(key: str, value: object) -> LicenseKey | None:
    raw = parse_optional_str(key, value)
    return parse_license_key(raw) if raw else None


#: Every key, in the order the docs list them.
#:
#: .. versionadded:: 0.2.0
KEYS: tuple[Key, ...] = (
    Key("URL_PREFIX", "", parse_url_paths,
        'Where the routes are mounted: ``""`` gives ``/telemetry/data``, ``"/engine-rest"`` gives '
        "``/engine-rest/telemetry/data``. A list (or comma-separated string) mounts them at each prefix; "
        "``None`` mounts no routes.", attr="url_prefixes"),
    Key("PRODUCT_NAME", "Camunda BPM Runtime", parse_str, "``product.name``."),
    Key("PRODUCT_VERSION", "7.22.0", parse_str,
        "``product.version``; a ``-ee`` suffix is removed (and makes the edition ``enterprise``), as Camunda does."),
    Key("EDITION", None, parse_choice(None, "community", "enterprise"),
        '``"community"`` or ``"enterprise"``; ``None`` derives it from the version.'),
    Key("LICENSE_KEY", None, _license,
        "The raw license key, ``[signature;]customer=...;expiryDate=YYYY-MM-DD;camundaBPM=true;...``; parsed "
        "into ``license-key`` (``null`` without one). A malformed key fails ``init_app``."),
    Key("REDACT_LICENSE", False, parse_bool, "Write ``customer`` and ``raw`` of the license as ``null``."),
    Key("INTEGRATIONS", (), parse_names, "``camunda-integration``."),
    Key("WEBAPPS", (), parse_names, "``webapps``."),
    Key("SCOPE", "cluster", parse_choice("cluster", "process"),
        '``"cluster"``: the totals of every process and host sharing the database. ``"process"``: this '
        "process's own counts, as Camunda reports per node."),
    Key("FLUSH_INTERVAL", 10.0, parse_seconds(0.05, 86400),
        "Seconds between background flushes of the counts (0.05 to 86400). In cluster scope a read shows "
        "other processes' counts as of their last flush: at most this old."),
    Key("METRIC_NAMES", "internal", parse_choice("internal", "public"),
        "``\"internal\"``: the seed's metric names; ``\"public\"``: Camunda 7.17+'s REST names."),
    Key("DATABASE_URI", None, parse_optional_str,
        "The database; ``None`` uses ``db`` if given, then ``SQLALCHEMY_DATABASE_URI``, then the instance folder."),
    Key("BIND_KEY", None, parse_optional_str,
        "A Flask-SQLAlchemy bind: with ``db`` its engine, without ``db`` the URI in ``SQLALCHEMY_BINDS``."),
    Key("PROPERTY_TABLE", "camunda_telemetry_property", _table,
        'The property table (Camunda\'s layout). ``"ACT_GE_PROPERTY"`` shares Camunda\'s own.'),
    Key("COUNT_TABLE", "camunda_telemetry_count", _table, "The shared counts (cluster scope)."),
    Key("CREATE_TABLES", True, parse_bool, "Create missing tables on first use."),
    Key("EXCLUDED_ENDPOINTS", (), parse_names, "Endpoints never counted (health checks, ...)."),
    Key("OPENAPI_URL", None, parse_url_path, "Serve the OpenAPI description at this path."),
    Key("PROMETHEUS_URL", None, parse_route,
        "Serve the lifetime counts in Prometheus' format at this path (such as ``/telemetry/metrics``); "
        "needs the ``prometheus`` extra. ``None``: no route."),
)


@dataclass(frozen=True)
class TelemetryConfig:
    """The validated configuration of one app: one attribute per key of :data:`KEYS`."""

    url_prefixes: tuple[str, ...]
    product_name: str
    product_version: str
    edition: Literal["community", "enterprise"]
    license_key: LicenseKey | None
    redact_license: bool
    integrations: tuple[str, ...]
    webapps: tuple[str, ...]
    scope: Literal["cluster", "process"]
    flush_interval: float
    metric_names: Literal["internal", "public"]
    database_uri: str | None
    bind_key: str | None
    property_table: str
    count_table: str
    create_tables: bool
    excluded_endpoints: tuple[str, ...]
    openapi_url: str | None
    prometheus_url: str | None


if {f.name for f in fields(TelemetryConfig)} != {k.field for k in KEYS}:  # pragma: no cover - a typo in KEYS
    raise AssertionError("TelemetryConfig and KEYS disagree")


def load_config(config: MutableMapping[str, Any], options: Mapping[str, Any]) -> TelemetryConfig:
    """Fill in the defaults with ``setdefault`` (options first, then :data:`KEYS`) and validate.

    ``options`` are the extension's keyword options, named like the keys in lower case
    (``scope="process"`` for ``CAMUNDA_TELEMETRY_SCOPE``); values in ``app.config`` win.
    """
    values = load_keys(PREFIX, KEYS, config, options, "TelemetryExt")
    version: str = values["product_version"]
    if values["edition"] is None:
        values["edition"] = "enterprise" if "-ee" in version else "community"
    values["product_version"] = version.replace("-ee", "")
    return TelemetryConfig(**values)
