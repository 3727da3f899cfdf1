"""The ``CAMUNDA_TELEMETRY_COLLECTOR_*`` config keys, declared once in :data:`KEYS`.

``init_app`` calls :func:`load_config` once; nothing reads ``app.config`` after that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields
from typing import Any

from ..exceptions import ConfigurationError
from ..settings import Key, load_keys, parse_bool, parse_count, parse_names, parse_seconds, parse_url_path
from ..storage.engines import database_keys

PREFIX = "CAMUNDA_TELEMETRY_COLLECTOR_"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,50}")
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 b64token


def _prefix(key: str, value: object) -> str:
    if value is None:
        raise ConfigurationError(key, value, "expected '' or a path such as '/collector'")
    path = parse_url_path(key, value)
    assert path is not None
    return path


def _table_prefix(key: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(key, value, "expected a name of letters, digits and '_' (at most 51)")
    return value


def _tokens(key: str, value: object) -> tuple[str, ...]:
    tokens = parse_names(key, value)
    bad = [t for t in tokens if not _TOKEN.fullmatch(t)]
    if bad:
        raise ConfigurationError(key, value, "expected bearer tokens of letters, digits and -._~+/ (RFC 6750)")
    return tokens


#: Every key, in the order the docs list them.
KEYS: tuple[Key, ...] = (
    Key("URL_PREFIX", "/collector", _prefix,
        "Where the routes are mounted: ``/collector`` gives ``/collector/pings``, ``/collector/`` (the "
        "dashboard) and ``/collector/api/...``."),
    Key("TOKENS", (), _tokens,
        "Bearer tokens a sender must present (``Authorization: Bearer <token>``); a list or a comma-separated "
        "string. Empty accepts anonymous reports, as Camunda's own service did."),
    Key("MAX_BODY", 256 * 1024, parse_count(1024, 64 * 1024 * 1024),
        "The largest report body accepted, in bytes (1 KiB to 64 MiB); a larger one gets 413."),
    *database_keys("``camunda_telemetry_collector.sqlite`` in the instance folder"),
    Key("TABLE_PREFIX", "telemetry_collector", _table_prefix,
        "The tables are ``<prefix>_report``, ``<prefix>_count``, ``<prefix>_installation``, ``<prefix>_usage`` "
        "and ``<prefix>_declined``."),
    Key("CREATE_TABLES", True, parse_bool, "Create missing tables on first use."),
    Key("DB_TIMEOUT", 5.0, parse_seconds(0.5, 3600),
        "Seconds any wait on the collector's database may last (0.5 to 3600): connect, locks, statements, and "
        "the retries of a lock conflict, together. A report, an API call or a page answers 503 after it (a "
        "sender keeps its counts and sends them again)."),
    Key("RESEND_WINDOW", 3600, parse_seconds(0, 7 * 86400, integer=True, allow_zero=True),
        "Seconds (0 to 604,800) within which the same document from the same installation, sent with neither a "
        "report id nor a start date (Camunda 7.14 to 7.18), is one report sent again, not another; 0 stores "
        "each one. See \"Exactly once\"."),
    Key("ACTIVE_DAYS", 30, parse_count(1, 3650),
        "An installation that reported within this many days counts as active on the dashboard."),
    Key("PAGE_SIZE", 50, parse_count(1, 1000),
        "Installations per page of the dashboard's list, and reports shown on an installation's page."),
)


@dataclass(frozen=True)
class CollectorConfig:
    """The validated configuration of one collector app: one attribute per key of :data:`KEYS`.

    .. versionadded:: 0.2.0
    """

    url_prefix: str
    tokens: tuple[str, ...]
    max_body: int
    database_uri: str | None
    bind_key: str | None
    table_prefix: str
    create_tables: bool
    db_timeout: float
    resend_window: int
    active_days: int
    page_size: int


if {f.name for f in fields(CollectorConfig)} != {k.field for k in KEYS}:  # pragma: no cover - a typo in KEYS
    raise AssertionError("CollectorConfig and KEYS disagree")


def load_config(config: MutableMapping[str, Any], options: Mapping[str, Any]) -> CollectorConfig:
    """Fill in the defaults with ``setdefault`` (options first, then :data:`KEYS`) and validate."""
    return CollectorConfig(**load_keys(PREFIX, KEYS, config, options, "TelemetryCollector"))
