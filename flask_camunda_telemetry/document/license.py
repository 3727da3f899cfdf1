"""Parsing of ``CAMUNDA_TELEMETRY_LICENSE_KEY`` into the ``license-key`` object.

A Camunda license key is ``[<signature>;]key=value;key=value;...``. The well-known keys are
``customer``, ``type``, ``expiryDate`` (``YYYY-MM-DD`` or ``unlimited``) and ``unlimited``;
every other pair is a product feature flag (``camundaBPM=true``, ``optimize=false``, ...).
"""

from __future__ import annotations

import datetime as dt
import re

from ..exceptions import LicenseKeyError
from .model import LicenseKey

_CONFIG_KEY = "CAMUNDA_TELEMETRY_LICENSE_KEY"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_KNOWN = frozenset({"customer", "type", "expiryDate", "unlimited"})
_PRODUCT_FLAGS = frozenset({"camundaBPM", "optimize", "cawemo"})


def _fail(part: str, why: str) -> LicenseKeyError:
    return LicenseKeyError(_CONFIG_KEY, part, why)


def _is_pair(part: str) -> bool:
    """``key=value`` with an identifier-like key and a value that is not just ``=`` padding."""
    key, sep, value = part.partition("=")
    return bool(sep) and bool(_KEY.fullmatch(key.strip())) and bool(value.strip().strip("="))


def _split_signature(text: str) -> str:
    """Drop a leading signature: a first ``;``-separated part that is not a ``key=value`` pair
    (base64 padding such as ``...==`` does not make a pair)."""
    head, sep, rest = text.partition(";")
    if sep and head.strip() and not _is_pair(head):
        return rest
    return text


def _pairs(body: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in body.split(";"):
        if not part.strip():
            continue
        if not _is_pair(part):
            raise _fail(part, "every part of a license key must be a 'key=value' pair with a value")
        key, _, value = part.partition("=")
        key = key.strip()
        if key in pairs:
            raise _fail(part, f"the key {key!r} appears twice")
        pairs[key] = value.strip()
    if not pairs:
        raise _fail(body, "a license key needs 'key=value' pairs such as 'customer=...;expiryDate=YYYY-MM-DD'")
    return pairs


def _expiry(pairs: dict[str, str]) -> tuple[dt.date | None, bool]:
    unlimited_flag = pairs.get("unlimited", "false").lower()
    if unlimited_flag not in ("true", "false"):
        raise _fail(f"unlimited={pairs['unlimited']}", "'unlimited' must be 'true' or 'false'")
    raw_date = pairs.get("expiryDate")
    if raw_date is None or raw_date.lower() == "unlimited":
        return None, True
    if not _DATE.fullmatch(raw_date):
        raise _fail(f"expiryDate={raw_date}", "'expiryDate' must be a date as YYYY-MM-DD")
    try:
        date = dt.date.fromisoformat(raw_date)
    except ValueError as exc:
        raise _fail(f"expiryDate={raw_date}", f"'expiryDate' is not a real date ({exc})") from None
    return date, unlimited_flag == "true"


def parse_license_key(text: str) -> LicenseKey:
    """Parse a raw license key string.

    ``raw`` is the key without its signature, exactly as given, so ``parse_license_key(k.raw)``
    gives ``k`` back. ``features`` holds the feature flags that are ``true`` (as in Camunda's
    example); ``type`` is the ``type`` pair if present, else ``UNIFIED`` for a key that carries
    product flags and ``LEGACY`` for one that does not.

    :raises LicenseKeyError: the key has no pairs, a part that is not a pair, a repeated key,
        or an ``expiryDate`` that is not a valid ``YYYY-MM-DD`` date.
    """
    body = _split_signature(text.strip()).strip()
    pairs = _pairs(body)
    valid_until, unlimited = _expiry(pairs)
    flags = {k: v for k, v in pairs.items() if k not in _KNOWN}
    license_type = pairs.get("type") or ("UNIFIED" if _PRODUCT_FLAGS & flags.keys() else "LEGACY")
    return LicenseKey(
        customer=pairs.get("customer"),
        type=license_type,
        valid_until=valid_until,
        unlimited=unlimited,
        features={k: v for k, v in flags.items() if v.lower() == "true"},
        raw=body,
    )
