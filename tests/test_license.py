"""License keys: the seed's example, signatures, malformed keys, and properties (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_camunda_telemetry import LicenseKeyError, parse_license_key

SEED = json.loads((Path(__file__).parent / "data" / "seed_example.json").read_text())


def test_seed_example_is_reproduced() -> None:
    expected = SEED["product"]["internals"]["license-key"]
    key = parse_license_key(expected["raw"])
    assert key.customer == expected["customer"]
    assert key.type == expected["type"]
    assert key.valid_until == dt.date.fromisoformat(expected["valid-until"])
    assert key.unlimited is expected["unlimited"]
    assert key.features == expected["features"]
    assert key.raw == expected["raw"]


def test_signature_is_dropped_from_raw() -> None:
    key = parse_license_key("c2lnbmF0dXJl==;customer=ACME;expiryDate=2030-01-31;camundaBPM=true;optimize=true")
    assert key.raw == "customer=ACME;expiryDate=2030-01-31;camundaBPM=true;optimize=true"
    assert key.customer == "ACME"
    assert key.features == {"camundaBPM": "true", "optimize": "true"}


def test_unlimited_and_explicit_type() -> None:
    key = parse_license_key("customer=ACME;type=LEGACY;unlimited=true")
    assert (key.unlimited, key.valid_until, key.type) == (True, None, "LEGACY")
    assert parse_license_key("customer=ACME;expiryDate=2030-01-01").type == "LEGACY"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("customer=x;expiryDate=2022-02-30", "not a real date"),
        ("customer=x;expiryDate=30.09.2022", "YYYY-MM-DD"),
        ("just a string", "key=value"),
        ("sig;", "key=value"),
        ("customer=x;garbage", "key=value"),
        ("customer=x;optimize=", "with a value"),
        ("customer=x;customer=y", "appears twice"),
        ("customer=x;unlimited=perhaps", "'unlimited' must be"),
    ],
)
def test_malformed_keys_are_clear_errors(raw: str, why: str) -> None:
    with pytest.raises(LicenseKeyError, match=why) as caught:
        parse_license_key(raw)
    assert "CAMUNDA_TELEMETRY_LICENSE_KEY" in str(caught.value)


_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,15}", fullmatch=True)
_value = st.text(st.characters(exclude_characters=";=", exclude_categories=_SURROGATES), min_size=1).filter(
    lambda s: s.strip() == s and s != ""
)
_pairs = st.dictionaries(_key, _value, min_size=1, max_size=6).filter(lambda d: "expiryDate" not in d)


@given(st.text(max_size=200))
def test_any_string_parses_or_fails_with_a_license_error(raw: str) -> None:
    try:
        key = parse_license_key(raw)
    except LicenseKeyError:
        return
    assert key.raw is not None
    assert parse_license_key(key.raw) == key


_signature = st.one_of(st.none(), _value, st.from_regex(r"[A-Za-z0-9+/]{8,40}={1,2}", fullmatch=True))


@given(_pairs, st.dates(), _signature)
def test_a_parsed_key_round_trips_to_its_raw_form(
    pairs: dict[str, str], expiry: dt.date, signature: str | None
) -> None:
    pairs = {k: v for k, v in pairs.items() if k != "unlimited"}
    body = ";".join(f"{k}={v}" for k, v in {**pairs, "expiryDate": expiry.isoformat()}.items())
    raw = body if signature is None else f"{signature};{body}"
    key = parse_license_key(raw)
    assert key.raw == body
    assert key.valid_until == expiry
    assert parse_license_key(key.raw) == key
    assert key.features == {k: v for k, v in pairs.items() if v.lower() == "true"
                            and k not in ("customer", "type")}
