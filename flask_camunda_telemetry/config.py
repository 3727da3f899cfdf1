"""The ``CAMUNDA_TELEMETRY_*`` config keys: defaults, validation, and the frozen result.

Every key is documented in README.rst ("Configuration"). ``init_app`` calls
:func:`load_config` once; nothing reads ``app.config`` after that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from .exceptions import ConfigurationError
from .license import parse_license_key
from .model import LicenseKey

__all__ = ["DEFAULTS", "PREFIX", "TelemetryConfig", "load_config"]

PREFIX = "CAMUNDA_TELEMETRY_"

#: Every key (without the prefix) and its default.
DEFAULTS: dict[str, Any] = {
    "URL_PREFIX": "",
    "PRODUCT_NAME": "Camunda BPM Runtime",
    "PRODUCT_VERSION": "7.22.0",
    "EDITION": None,
    "LICENSE_KEY": None,
    "INTEGRATIONS": (),
    "WEBAPPS": (),
    "SCOPE": "cluster",
    "FLUSH_INTERVAL": 10.0,
    "METRIC_NAMES": "internal",
    "DATABASE_URI": None,
    "BIND_KEY": None,
    "PROPERTY_TABLE": "camunda_telemetry_property",
    "COUNT_TABLE": "camunda_telemetry_count",
    "CREATE_TABLES": True,
    "EXCLUDED_ENDPOINTS": (),
    "REDACT_LICENSE": False,
    "OPENAPI_URL": None,
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PATH_PREFIX = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


@dataclass(frozen=True)
class TelemetryConfig:
    """The validated configuration of one app."""

    url_prefixes: tuple[str, ...]
    product_name: str
    product_version: str
    edition: Literal["community", "enterprise"]
    license_key: LicenseKey | None
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
    excluded_endpoints: frozenset[str]
    redact_license: bool
    openapi_url: str | None


def _str(key: str, value: object, *, allow_none: bool = False, allow_empty: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ConfigurationError(key, value, "expected a non-empty string" + (" or None" if allow_none else ""))
    return value


def _choice(key: str, value: object, choices: Iterable[str]) -> Any:
    options = tuple(choices)
    if value not in options:
        raise ConfigurationError(key, value, "expected one of " + ", ".join(repr(c) for c in options))
    return value


def _bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigurationError(key, value, "expected True or False")


def _names(key: str, value: object) -> tuple[str, ...]:
    """A list of names, or one comma-separated string (handy for environment variables)."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise ConfigurationError(key, value, "expected a list of non-empty strings or a comma-separated string")
    return tuple(dict.fromkeys(value))


def _interval(key: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not 0 < number <= 86400:
        raise ConfigurationError(key, value, "expected a number of seconds greater than 0 and at most 86400")
    return number


def _url_prefix(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PATH_PREFIX.fullmatch(value):
        raise ConfigurationError(
            key, value, "expected '' or a path such as '/engine-rest' (leading '/', no trailing '/'), or None"
        )
    return value


def _url_prefixes(key: str, value: object) -> tuple[str, ...]:
    """One prefix, several (a list), or None for no routes at all."""
    if isinstance(value, (list, tuple)):
        prefixes = tuple(_url_prefix(key, v) for v in value)
        if None in prefixes or len(set(prefixes)) != len(prefixes):
            raise ConfigurationError(key, value, "expected distinct path prefixes such as ['', '/engine-rest']")
        return prefixes  # type: ignore[return-value]
    prefix = _url_prefix(key, value)
    return () if prefix is None else (prefix,)


def _table(key: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(key, value, "expected a table name of letters, digits and '_' (at most 63)")
    return value


def _edition(key: str, value: object, version: str) -> Literal["community", "enterprise"]:
    if value is None:
        return "enterprise" if "-ee" in version else "community"
    return _choice(key, value, ("community", "enterprise"))  # type: ignore[no-any-return]


def load_config(config: MutableMapping[str, Any], options: Mapping[str, Any]) -> TelemetryConfig:
    """Fill in the defaults with ``setdefault`` (options first, then :data:`DEFAULTS`) and validate.

    ``options`` are the extension's keyword options, named like the keys in lower case
    (``scope="process"`` for ``CAMUNDA_TELEMETRY_SCOPE``); values in ``app.config`` win.
    """
    for name, value in options.items():
        if name.upper() not in DEFAULTS:
            raise ConfigurationError(
                f"TelemetryExt({name}=...)", value, "unknown option; valid ones are " + ", ".join(
                    sorted(k.lower() for k in DEFAULTS)
                )
            )
        config.setdefault(PREFIX + name.upper(), value)
    for name, value in DEFAULTS.items():
        config.setdefault(PREFIX + name, value)

    def get(name: str) -> Any:
        return config[PREFIX + name]

    def key(name: str) -> str:
        return PREFIX + name

    version = _str(key("PRODUCT_VERSION"), get("PRODUCT_VERSION"))
    edition = _edition(key("EDITION"), get("EDITION"), version)
    raw_license = _str(key("LICENSE_KEY"), get("LICENSE_KEY"), allow_none=True)
    return TelemetryConfig(
        url_prefixes=_url_prefixes(key("URL_PREFIX"), get("URL_PREFIX")),
        product_name=_str(key("PRODUCT_NAME"), get("PRODUCT_NAME")),
        product_version=version.replace("-ee", ""),
        edition=edition,
        license_key=parse_license_key(raw_license) if raw_license else None,
        integrations=_names(key("INTEGRATIONS"), get("INTEGRATIONS")),
        webapps=_names(key("WEBAPPS"), get("WEBAPPS")),
        scope=_choice(key("SCOPE"), get("SCOPE"), ("cluster", "process")),
        flush_interval=_interval(key("FLUSH_INTERVAL"), get("FLUSH_INTERVAL")),
        metric_names=_choice(key("METRIC_NAMES"), get("METRIC_NAMES"), ("internal", "public")),
        database_uri=_str(key("DATABASE_URI"), get("DATABASE_URI"), allow_none=True),
        bind_key=_str(key("BIND_KEY"), get("BIND_KEY"), allow_none=True),
        property_table=_table(key("PROPERTY_TABLE"), get("PROPERTY_TABLE")),
        count_table=_table(key("COUNT_TABLE"), get("COUNT_TABLE")),
        create_tables=_bool(key("CREATE_TABLES"), get("CREATE_TABLES")),
        excluded_endpoints=frozenset(_names(key("EXCLUDED_ENDPOINTS"), get("EXCLUDED_ENDPOINTS"))),
        redact_license=_bool(key("REDACT_LICENSE"), get("REDACT_LICENSE")),
        openapi_url=_url_prefix(key("OPENAPI_URL"), get("OPENAPI_URL")),
    )
