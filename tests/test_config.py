"""Every bad config value fails at init_app, naming the key and the value."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, Integer, Table

from flask_camunda_telemetry import ConfigurationError, LicenseKeyError, TelemetryExt
from flask_camunda_telemetry.collector import TelemetryCollector
from flask_camunda_telemetry.collector.config import KEYS as COLLECTOR_KEYS
from flask_camunda_telemetry.collector.config import PREFIX as COLLECTOR_PREFIX
from flask_camunda_telemetry.collector.state import get_collector_state
from flask_camunda_telemetry.config import KEYS, PREFIX
from flask_camunda_telemetry.settings import Key


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("URL_PREFIX", "engine-rest"),
        ("URL_PREFIX", "/engine-rest/"),
        ("URL_PREFIX", 42),
        ("URL_PREFIX", ["/a", "/a"]),
        ("PRODUCT_NAME", ""),
        ("PRODUCT_NAME", None),
        ("PRODUCT_VERSION", 7.14),
        ("EDITION", "premium"),
        ("LICENSE_KEY", "customer=x;expiryDate=2022-13-40"),
        ("LICENSE_KEY", 12345),
        ("INTEGRATIONS", [1, 2]),
        ("WEBAPPS", ["cockpit", ""]),
        ("SCOPE", "clustr"),
        ("FLUSH_INTERVAL", 0),
        ("FLUSH_INTERVAL", "soon"),
        ("FLUSH_INTERVAL", True),
        ("METRIC_NAMES", "legacy"),
        ("PROPERTY_TABLE", "ACT GE PROPERTY"),
        ("COUNT_TABLE", "drop table x;"),
        ("CREATE_TABLES", "maybe"),
        ("EXCLUDED_ENDPOINTS", ["ok", " "]),
        ("REDACT_LICENSE", 2),
        ("DATABASE_URI", ""),
    ],
)
def test_bad_value_fails_at_init_app_naming_key_and_value(tmp_path: Path, key: str, value: object) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_" + key] = value
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app)
    message = str(caught.value)
    assert f"CAMUNDA_TELEMETRY_{key}" in message
    if key != "LICENSE_KEY":
        assert repr(value) in message
    assert "camunda_telemetry" not in app.extensions  # nothing half-installed


def test_license_error_names_the_offending_part(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_LICENSE_KEY"] = "customer=ACME;expiryDate=2022-02-30;camundaBPM=true"
    with pytest.raises(LicenseKeyError, match=r"CAMUNDA_TELEMETRY_LICENSE_KEY = 'expiryDate=2022-02-30'"):
        TelemetryExt(app)


def test_unknown_keyword_option_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown option"):
        TelemetryExt(Flask("host"), scpoe="process")


def test_a_bad_keyword_option_is_reported_as_the_constructor_call(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app, scope="clustr")
    message = str(caught.value)
    assert message.startswith("TelemetryExt(scope=...) = 'clustr' is invalid")
    assert "constructor call" in message
    assert "app.config" not in message


def test_a_table_clash_names_the_key_that_is_wrong(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'host.sqlite'}"  # in memory: refused
    db = SQLAlchemy(app)
    Table("orders", db.metadata, Column("id", Integer, primary_key=True))
    app.config["CAMUNDA_TELEMETRY_COUNT_TABLE"] = "orders"
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app, db=db)
    assert caught.value.key == "CAMUNDA_TELEMETRY_COUNT_TABLE"
    assert str(caught.value).startswith("CAMUNDA_TELEMETRY_COUNT_TABLE = 'orders' is invalid")


def test_values_from_environment_strings_are_accepted(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(
        CAMUNDA_TELEMETRY_INTEGRATIONS="spring-boot-starter, camunda-bpm-run",
        CAMUNDA_TELEMETRY_FLUSH_INTERVAL="2.5",
        CAMUNDA_TELEMETRY_CREATE_TABLES="false",
    )
    TelemetryExt(app)
    config = app.extensions["camunda_telemetry"].config
    assert config.integrations == ("spring-boot-starter", "camunda-bpm-run")
    assert config.flush_interval == 2.5
    assert config.create_tables is False


def test_edition_follows_an_ee_version_unless_set(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_PRODUCT_VERSION"] = "7.21.3-ee"
    TelemetryExt(app)
    config = app.extensions["camunda_telemetry"].config
    assert (config.product_version, config.edition) == ("7.21.3", "enterprise")


# -- values that used to pass init_app and break every read later -----------------------------

_NOT_INSTALLED = next(
    (uri for uri, module in (("mssql+pyodbc://host/db", "pyodbc"), ("oracle+cx_oracle://host/db", "cx_Oracle"))
     if importlib.util.find_spec(module) is None),
    None,
)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("foo://x/y", "knows no database 'foo'"),
        ("not a url", "expected a database URI"),
        ("postgresql+asyncpg://telemetry:secret@db/telemetry", "asyncio driver"),
        ("postgresql+psycopg_async://telemetry@db/telemetry", "asyncio driver"),
        ("sqlite+aiosqlite:///telemetry.sqlite", "asyncio driver"),
        pytest.param(_NOT_INSTALLED, "cannot be imported",
                     marks=pytest.mark.skipif(_NOT_INSTALLED is None, reason="every probed driver is installed")),
    ],
)
def test_a_database_uri_that_cannot_work_fails_at_init_app(tmp_path: Path, uri: str, reason: str) -> None:
    for key in ("CAMUNDA_TELEMETRY_DATABASE_URI", "SQLALCHEMY_DATABASE_URI"):
        app = Flask("host", instance_path=str(tmp_path))
        app.config[key] = uri
        with pytest.raises(ConfigurationError) as caught:
            TelemetryExt(app)
        message = str(caught.value)
        assert caught.value.key == key and message.startswith(key + " = ")
        assert reason in message
        assert "secret" not in message  # the password is never shown
        assert "camunda_telemetry" not in app.extensions


def test_a_bind_uri_that_cannot_work_fails_at_init_app(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(
        SQLALCHEMY_BINDS={"telemetry": "sqlite+aiosqlite:///t.sqlite"}, CAMUNDA_TELEMETRY_BIND_KEY="telemetry"
    )
    with pytest.raises(ConfigurationError, match=r"SQLALCHEMY_BINDS\['telemetry'\] = .*asyncio"):
        TelemetryExt(app)


def test_a_good_database_uri_is_checked_without_connecting(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'later.sqlite'}"
    TelemetryExt(app)
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    TelemetryExt(Flask("other", instance_path=str(tmp_path / "instance")))  # nothing listens on port 9
    assert not (tmp_path / "later.sqlite").exists() and not (tmp_path / "instance").exists()


def _id(value: object) -> str | None:
    """A test id for a parameter (the repr of ``10**5000`` raises)."""
    return f"int{value.bit_length()}bits" if isinstance(value, int) and value.bit_length() > 64 else None


@pytest.mark.parametrize("value", [10**400, 10**5000, float("inf"), float("-inf"), float("nan"), "nan", "inf",
                                   "1e999", -1, "1e-9", 1e-9, True], ids=_id)
def test_an_interval_is_finite_and_sane_or_fails_at_init_app(tmp_path: Path, value: object) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_FLUSH_INTERVAL"] = value
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app)
    assert caught.value.key == "CAMUNDA_TELEMETRY_FLUSH_INTERVAL"
    assert len(str(caught.value)) < 400  # a 5000-digit value is shortened, not printed (nor a ValueError)


def _all_keys() -> list[tuple[str, Key]]:
    return [(PREFIX, key) for key in KEYS] + [(COLLECTOR_PREFIX, key) for key in COLLECTOR_KEYS]


@pytest.mark.parametrize(("prefix", "key"), _all_keys(), ids=lambda v: getattr(v, "name", v))
def test_no_key_takes_a_number_out_of_every_range(prefix: str, key: Key) -> None:
    for value in (10**400, 10**5000, float("inf"), float("nan"), -(10**400)):
        with pytest.raises(ConfigurationError) as caught:
            key.parse(prefix + key.name, value)
        assert len(str(caught.value)) < 1000


def _seconds_keys() -> list[tuple[str, Key]]:
    return [(p, k) for p, k in _all_keys() if k.parse.__qualname__.startswith("parse_seconds.")]


@pytest.mark.parametrize(("prefix", "key"), _seconds_keys(), ids=lambda v: getattr(v, "name", v))
def test_every_interval_and_timeout_has_sane_bounds(prefix: str, key: Key) -> None:
    name = prefix + key.name
    key.parse(name, key.default)
    for too_long in (366 * 86400 + 1, "1e9", "infinity"):
        with pytest.raises(ConfigurationError):
            key.parse(name, too_long)
    try:
        key.parse(name, 0)
    except ConfigurationError:  # a period or timeout that may not be 0 may not be next to 0 either
        for tiny in (1e-9, "1e-9", "0.0001"):
            with pytest.raises(ConfigurationError):
                key.parse(name, tiny)


@pytest.mark.parametrize(
    ("key", "attribute"),
    [("INTEGRATIONS", "integrations"), ("WEBAPPS", "webapps"), ("EXCLUDED_ENDPOINTS", "excluded_endpoints")],
)
def test_every_list_key_splits_a_string_on_commas(tmp_path: Path, key: str, attribute: str) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_" + key] = "first, second,third,"
    TelemetryExt(app)
    assert getattr(app.extensions["camunda_telemetry"].config, attribute) == ("first", "second", "third")


def test_url_prefixes_from_an_environment_variable_mount_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_CAMUNDA_TELEMETRY_URL_PREFIX", "/a,/b")
    monkeypatch.setenv("FLASK_CAMUNDA_TELEMETRY_COLLECTOR_TOKENS", "one,two")
    app = Flask("host", instance_path=str(tmp_path))
    app.config.from_prefixed_env()
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = f"sqlite:///{tmp_path / 't.sqlite'}"
    TelemetryExt(app)
    TelemetryCollector(app)
    assert app.extensions["camunda_telemetry"].config.url_prefixes == ("/a", "/b")
    assert get_collector_state(app).config.tokens == ("one", "two")
    client = app.test_client()
    assert [client.get(p).status_code for p in ("/a/telemetry/data", "/b/telemetry/data")] == [200, 200]
    assert client.get("/a,/b/telemetry/data").status_code == 404


@pytest.mark.parametrize("name", ["ORDER", "Select", "USER", "Group"])
@pytest.mark.parametrize("key", ["COUNT_TABLE", "PROPERTY_TABLE"])
def test_a_reserved_word_with_capitals_as_a_table_name_fails_at_init_app(tmp_path: Path, key: str, name: str) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_" + key] = name
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app)
    assert caught.value.key == "CAMUNDA_TELEMETRY_" + key
    assert f"reserved word of SQL; write it in lower case ({name.lower()!r}" in str(caught.value)
