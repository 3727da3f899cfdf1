"""Every bad config value fails at init_app, naming the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, Integer, Table

from flask_camunda_telemetry import ConfigurationError, LicenseKeyError, TelemetryExt


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
