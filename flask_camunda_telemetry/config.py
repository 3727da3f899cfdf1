"""The ``CAMUNDA_TELEMETRY_*`` config keys, declared once in :data:`KEYS`, and the frozen result.

``init_app`` calls :func:`load_config` once; nothing reads ``app.config`` after that. The
README's configuration table and the docs' are generated from :data:`KEYS` (a test keeps the
README in step).
"""

from __future__ import annotations

import enum
import importlib.util
import ipaddress
import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from .document.license import parse_license_key
from .document.model import LicenseKey
from .exceptions import ConfigurationError
from .settings import (
    Key,
    load_keys,
    parse_bool,
    parse_choice,
    parse_count,
    parse_names,
    parse_optional_bool,
    parse_optional_str,
    parse_route,
    parse_seconds,
    parse_str,
    parse_url_path,
    parse_url_paths,
)
from .storage.engines import database_keys

PREFIX = "CAMUNDA_TELEMETRY_"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)
#: Headers the report sets itself; REPORT_HEADERS may not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "transfer-encoding", "host", "user-agent", "connection",
     "telemetry-report-id"}
)


class Scope(enum.Enum):
    """Whose counts an app shows and reports (``CAMUNDA_TELEMETRY_SCOPE``).

    .. versionadded:: 0.2.0
    """

    #: the totals of every process and host sharing the database.
    CLUSTER = "cluster"
    #: this process's own counts, as Camunda reports per node.
    PROCESS = "process"


def _scope(key: str, value: object) -> Scope:
    try:
        return Scope(value)
    except ValueError:
        raise ConfigurationError(key, value, "expected one of " + ", ".join(repr(s.value) for s in Scope)) from None


def _table(key: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(key, value, "expected a table name of letters, digits and '_' (at most 63)")
    return value


def _license(key: str, value: object) -> LicenseKey | None:
    raw = parse_optional_str(key, value)
    return parse_license_key(raw) if raw else None


def _report_url(key: str, value: object) -> str | None:
    """None, an ``https://`` URL, or an ``http://`` URL to a loopback address; one that a
    request can carry as it is (printable ASCII in the path and query, a port other than 0)."""
    if value is None:
        return None
    expected = "expected an https:// URL, or http:// to a loopback address (127.0.0.1, [::1], localhost), or None"
    if not isinstance(value, str):
        raise ConfigurationError(key, value, expected)
    try:
        url = urlsplit(value)
        port = url.port  # raises ValueError for a bad port
    except ValueError:
        raise ConfigurationError(key, masked_url(value), expected) from None
    host = url.hostname or ""
    if url.scheme not in ("https", "http") or not host or (url.scheme == "http" and not _loopback(host)):
        raise ConfigurationError(key, masked_url(value), expected)
    if url.username is not None or url.password is not None:
        hidden = masked_url(url._replace(netloc="***@" + url.netloc.rpartition("@")[2]).geturl())
        raise ConfigurationError(key, hidden, "credentials do not belong in the URL; put them in REPORT_HEADERS")
    if _BLANK.search(value) or _UNPRINTABLE.search(url.path + url.query) or port == 0:
        raise ConfigurationError(key, masked_url(value), _SENDABLE)
    if importlib.util.find_spec("urllib3") is None:
        raise ConfigurationError(
            key, masked_url(value), "reporting needs urllib3: pip install 'flask-camunda-telemetry[reporting]'"
        )
    return value


#: Spaces and control characters anywhere in a URL (``urlsplit`` would drop TAB, CR and LF
#: silently), and, in its path and query, anything but printable ASCII (urllib3 refuses both;
#: a host name may be international: it is sent IDNA-encoded).
_BLANK = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
_SENDABLE = (
    "a request line carries printable ASCII only: percent-encode spaces, control and non-ASCII characters of "
    "the path and query (' ' as %20, '\u00e9' as %C3%A9), and give a port from 1 to 65535"
)


def masked_url(url: str) -> str:
    """``url`` with every query value replaced by ``***`` (a query may carry a token).

    .. versionadded:: 0.2.0
    """
    parts = urlsplit(url, allow_fragments=False)
    if not parts.query:
        return url
    query = "&".join(field.partition("=")[0] + ("=***" if "=" in field else "") for field in parts.query.split("&"))
    return url[: len(url) - len(parts.query)] + query


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: RFC 9110's field-value: visible ASCII, obs-text (Latin-1, less the C1 controls), spaces and
#: tabs, and no space or tab at either end. urllib3 raises for what is not Latin-1 and sends
#: control characters raw.
_FIELD_VALUE = re.compile(r"([\x21-\x7e\xa0-\xff]([\t\x20-\x7e\xa0-\xff]*[\x21-\x7e\xa0-\xff])?)?")


def _header_problem(name: object, text: object) -> str | None:
    """Why the header ``name: text`` cannot be sent, or None."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return "header names are tokens (letters, digits and !#$%&'*+-.^_`|~)"
    if name.lower() in RESERVED_HEADERS or name.lower() == "content-encoding":
        return f"the report sets {', '.join(sorted(RESERVED_HEADERS))} itself, and its body is never compressed"
    if not isinstance(text, str) or not _FIELD_VALUE.fullmatch(text):
        return (
            "header values are strings of Latin-1 characters without control characters (tabs and spaces inside "
            "only; RFC 9110)"
        )
    return None


def _headers(key: str, value: object) -> tuple[tuple[str, str], ...]:
    """A dict of header name -> value (or its JSON text, for an environment variable)."""
    expected = "expected a dict of header names to string values (or its JSON text)"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigurationError(key, "<hidden>", expected) from None
    if not isinstance(value, Mapping):
        raise ConfigurationError(key, "<hidden>", expected)
    headers = tuple(value.items())
    for name, text in headers:
        problem = _header_problem(name, text)
        if problem is not None:
            # the value may be a secret: only the header's name goes into the message
            raise ConfigurationError(key, f"<{name!s:.64} header>", f"{expected}: {problem}")
    return headers


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
    Key("SCOPE", "cluster", _scope,
        '``"cluster"``: the totals of every process and host sharing the database. ``"process"``: this '
        "process's own counts, as Camunda reports per node."),
    Key("FLUSH_INTERVAL", 10.0, parse_seconds(0.05, 86400),
        "Seconds between background flushes of the counts (0.05 to 86400). In cluster scope a read shows "
        "other processes' counts as of their last successful flush: at most this old while flushes succeed."),
    Key("METRIC_NAMES", "internal", parse_choice("internal", "public"),
        "``\"internal\"``: the seed's metric names; ``\"public\"``: Camunda 7.17+'s REST names."),
    *database_keys("``camunda_telemetry.sqlite`` in the instance folder"),
    Key("PROPERTY_TABLE", "camunda_telemetry_property", _table,
        'The property table (Camunda\'s layout). ``"ACT_GE_PROPERTY"`` shares Camunda\'s own.'),
    Key("COUNT_TABLE", "camunda_telemetry_count", _table, "The shared counts (cluster scope)."),
    Key("CREATE_TABLES", True, parse_bool, "Create missing tables on first use."),
    Key("DB_TIMEOUT", 5.0, parse_seconds(0.5, 3600),
        "Seconds any wait on the database may last (0.5 to 3600): connect, locks, statements, and the "
        "retries of a lock conflict, together. A read of the routes answers 503 after it; shutdown "
        "gives up on its last flush after it (and logs the counts it could not write). docs/scope.rst "
        "(\"Database outages\") has each backend's limits."),
    Key("EXCLUDED_ENDPOINTS", (), parse_names, "Endpoints never counted (health checks, ...)."),
    Key("OPENAPI_URL", None, parse_url_path, "Serve the OpenAPI description at this path."),
    Key("PROMETHEUS_URL", None, parse_route,
        "Serve the lifetime counts in Prometheus' format at this path (such as ``/telemetry/metrics``); "
        "needs the ``prometheus`` extra. ``None``: no route."),
    Key("REPORT_URL", None, _report_url,
        "The collector reports are sent to, with the owner's consent: ``https://``, or ``http://`` to a "
        "loopback address; no space or control character, the path and query percent-encoded (printable "
        "ASCII), a port from 1. ``None`` sends nothing, ever (Camunda 7.22's behaviour)."),
    Key("INITIALIZE", False, parse_optional_bool,
        "The consent written when the database holds none yet (Camunda's ``initializeTelemetry``); "
        "``None`` means undecided. Read only when ``REPORT_URL`` is set."),
    Key("REPORT_INTERVAL", 86400, parse_seconds(1, 366 * 86400),
        "Seconds between reports (1 to 31,622,400)."),
    Key("REPORT_DELAY", 300, parse_seconds(0, 7 * 86400, allow_zero=True),
        "Seconds from a process's start, or from consent given, to the first report (0 to 604,800)."),
    Key("REPORT_TIMEOUT", 15, parse_seconds(0.1, 300),
        "Connect timeout, and read timeout, of one attempt, in seconds (0.1 to 300); an attempt never "
        "lasts more than twice this."),
    Key("REPORT_RETRIES", 2, parse_count(0, 10),
        "Further attempts after a failed one (0 to 10), with exponential backoff and jitter."),
    Key("REPORT_HEADERS", {}, _headers,
        "Extra request headers, e.g. ``{\"Authorization\": \"Bearer ...\"}`` for the collector (a JSON "
        "object in an environment variable): values of Latin-1 text without control characters (RFC 9110); "
        "not the headers the report sets, nor ``Content-Encoding``. Never logged nor shown."),
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
    scope: Scope
    flush_interval: float
    metric_names: Literal["internal", "public"]
    database_uri: str | None
    bind_key: str | None
    property_table: str
    count_table: str
    create_tables: bool
    db_timeout: float
    excluded_endpoints: tuple[str, ...]
    openapi_url: str | None
    prometheus_url: str | None
    report_url: str | None
    initialize: bool | None
    report_interval: float
    report_delay: float
    report_timeout: float
    report_retries: int
    #: (name, value) pairs; kept out of the repr, as values may be secrets.
    report_headers: tuple[tuple[str, str], ...] = field(repr=False)


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
