"""Config keys declared once: :class:`Key` (name, default, parser, description) and the parsers.

A package's table of keys (``config.KEYS``; the collector's ``collector.config.KEYS``) is the
single place a key is declared: :func:`load_keys` fills the defaults into ``app.config`` with
``setdefault`` and parses each value once, and the docs' configuration tables are generated from
the same table. Every parser takes ``(key, value)`` and raises :class:`~.ConfigurationError`
naming the key and the value. Values may come from environment variables as strings: lists are
comma-separated, booleans ``true``/``false``, numbers decimal.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from .exceptions import ConfigurationError

_PATH_PREFIX = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


@dataclass(frozen=True)
class Key:
    """One config key: ``name`` without the prefix, its default, its parser and what it means."""

    name: str
    default: Any
    parse: Callable[[str, object], Any]
    doc: str
    #: the attribute of the frozen config it fills (default: ``name.lower()``).
    attr: str = ""

    @property
    def field(self) -> str:
        return self.attr or self.name.lower()


def parse_str(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(key, value, "expected a non-empty string")
    return value


def parse_optional_str(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(key, value, "expected a non-empty string or None")
    return value


def parse_choice(*choices: str | None) -> Callable[[str, object], Any]:
    def parse(key: str, value: object) -> Any:
        if value not in choices:
            raise ConfigurationError(key, value, "expected one of " + ", ".join(repr(c) for c in choices))
        return value

    return parse


def parse_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigurationError(key, value, "expected True or False")


def parse_optional_bool(key: str, value: object) -> bool | None:
    """True, False or None (from a string: ``true``/``false`` and ``null``/``none`` for None)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none")):
        return None
    try:
        return parse_bool(key, value)
    except ConfigurationError:
        raise ConfigurationError(key, value, "expected True, False or None") from None


def parse_count(low: int, high: int) -> Callable[[str, object], int]:
    """A whole number in ``[low, high]`` (or its decimal string)."""

    def parse(key: str, value: object) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            number = int(value)
        if number is None or not low <= number <= high:
            raise ConfigurationError(key, value, f"expected a whole number from {low} to {high}")
        return number

    return parse


def parse_names(key: str, value: object) -> tuple[str, ...]:
    """A list of names, or one comma-separated string (handy for environment variables)."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise ConfigurationError(key, value, "expected a list of non-empty strings or a comma-separated string")
    return tuple(dict.fromkeys(value))


def parse_seconds(
    low: float, high: float, *, integer: bool = False, allow_zero: bool = False
) -> Callable[[str, object], float]:
    """A number of seconds in ``[low, high]`` (``low`` excluded when it is 0, unless ``allow_zero``)."""
    exclusive = low == 0 and not allow_zero
    expected = (
        f"expected a number of seconds {'greater than' if exclusive else 'at least'} {low:g} and at most {high:g}"
    )

    def parse(key: str, value: object) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        in_range = (number > 0 if exclusive else number >= low) and number <= high
        if isinstance(value, bool) or not in_range or (integer and not number.is_integer()):
            raise ConfigurationError(key, value, expected + (" (a whole number)" if integer else ""))
        return int(number) if integer else number

    return parse


def parse_url_path(key: str, value: object) -> str | None:
    """``''`` or a path such as ``/engine-rest``; ``None`` for none."""
    if value is None:
        return None
    if not isinstance(value, str) or not _PATH_PREFIX.fullmatch(value):
        raise ConfigurationError(
            key, value, "expected '' or a path such as '/engine-rest' (leading '/', no trailing '/'), or None"
        )
    return value


def parse_route(key: str, value: object) -> str | None:
    """A path a route is served at, such as ``/telemetry/metrics``; ``None`` for none.

    .. versionadded:: 0.2.0
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value or not _PATH_PREFIX.fullmatch(value):
        raise ConfigurationError(key, value, "expected a path such as '/telemetry/metrics' (leading '/'), or None")
    return value


def parse_url_paths(key: str, value: object) -> tuple[str, ...]:
    """One path, several (a list, or comma-separated), or None for none."""
    if isinstance(value, str) and "," in value:
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, (list, tuple)):
        paths = tuple(parse_url_path(key, v) for v in value)
        if None in paths or len(set(paths)) != len(paths):
            raise ConfigurationError(key, value, "expected distinct path prefixes such as ['', '/engine-rest']")
        return paths  # type: ignore[return-value]
    path = parse_url_path(key, value)
    return () if path is None else (path,)


def load_keys(
    prefix: str, keys: Iterable[Key], config: MutableMapping[str, Any], options: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Fill in the defaults with ``setdefault`` (``options`` first, then each key's default) and
    parse every value once. Returns ``{key.field: parsed value}``.

    ``options`` are an extension's keyword options, named like the keys in lower case without
    the prefix; values already in ``config`` win. ``owner`` names the extension in errors.
    """
    table = {key.name: key for key in keys}
    from_options: set[str] = set()
    for name, value in options.items():
        if name.upper() not in table:
            raise ConfigurationError(
                f"{owner}({name}=...)", value, "unknown option; valid ones are "
                + ", ".join(sorted(k.lower() for k in table)),
                where="in the constructor call",
            )
        if prefix + name.upper() not in config:
            config[prefix + name.upper()] = value
            from_options.add(prefix + name.upper())
    parsed: dict[str, Any] = {}
    for key in table.values():
        full = prefix + key.name
        try:
            parsed[key.field] = key.parse(full, config.setdefault(full, key.default))
        except ConfigurationError as exc:
            if full not in from_options:
                raise
            raise ConfigurationError(
                f"{owner}({key.name.lower()}=...)", exc.value, exc.expected, where="in the constructor call"
            ) from None
    return parsed
