"""The reporting keys: validated at init_app, a bad value naming the key; secrets kept out of
messages and reprs; values from environment strings."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from flask_camunda_telemetry import ConfigurationError, TelemetryExt

from .support.apps import reporting_app
from .support.recorder import recorder


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("REPORT_URL", "http://collector.example.com/pings"),  # plain http off the machine
        ("REPORT_URL", "http://10.0.0.1/pings"),
        ("REPORT_URL", "ftp://127.0.0.1/pings"),
        ("REPORT_URL", "https:///pings"),
        ("REPORT_URL", "https://127.0.0.1:99999/pings"),
        ("REPORT_URL", 42),
        ("REPORT_URL", "https://127.0.0.1:0/pings"),  # port 0: nothing listens there, ever
        ("INITIALIZE", "maybe"),
        ("INITIALIZE", 2),
        ("REPORT_INTERVAL", 0.5),
        ("REPORT_INTERVAL", 400 * 86400),
        ("REPORT_DELAY", -1),
        ("REPORT_DELAY", 8 * 86400),
        ("REPORT_TIMEOUT", 0),
        ("REPORT_TIMEOUT", 301),
        ("REPORT_RETRIES", -1),
        ("REPORT_RETRIES", 11),
        ("REPORT_RETRIES", 1.5),
        ("REPORT_RETRIES", True),
    ],
)
def test_bad_value_fails_at_init_app_naming_key_and_value(tmp_path: Path, key: str, value: object) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_" + key] = value
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app)
    assert f"CAMUNDA_TELEMETRY_{key}" in str(caught.value)
    assert repr(value) in str(caught.value)
    assert "camunda_telemetry" not in app.extensions


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer t0ken\r\nX-Injected: 1"},
        {"Authorization": "Bearer t0ken\u20ac"},  # not Latin-1: urllib3 raises at every attempt
        {"Authorization": "Bearer t0ken\u2028"},
        # control characters (RFC 9110: VCHAR, obs-text, SP, HTAB only), which urllib3 sends raw
        *({"Authorization": f"Bearer t0ken{c}x"} for c in "\x00\x01\x0b\x0c\x1b\x1f\x7f\x80\x85\x9f"),
        {"Authorization": " Bearer t0ken"},  # the collector would read it without the space
        {"Authorization": "Bearer t0ken\t"},
        {"Content-Encoding": "gzip"},  # the body is never compressed
        {"content-encoding": "identity"},
        {"Content-Type": "text/plain"},
        {"Telemetry-Report-Id": "mine"},
        {"Bad Name": "x"},
        {"Authorization": 42},
        "not json",
        ["Authorization", "Bearer t0ken"],
    ],
)
def test_bad_headers_fail_without_showing_their_values(tmp_path: Path, headers: object) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_REPORT_HEADERS"] = headers
    with pytest.raises(ConfigurationError, match="CAMUNDA_TELEMETRY_REPORT_HEADERS") as caught:
        TelemetryExt(app)
    assert "t0ken" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://collector.example.com/my pings",  # urllib3: InvalidURL at every attempt
        "https://collector.example.com/pings?to=a b",
        "https://collector.example.com/pings\r\nX-Injected: 1",  # urlsplit would drop CR and LF silently
        "https://collector.example.com/pin\tgs",
        "https://collector.example.com/pings\x7f",
        "https://collector.example.com/pings\x85",
        "https://collector.example.com/caf\u00e9",  # urllib3: UnicodeEncodeError at every attempt
        "https://collector.example.com/pings?who=caf\u00e9",
        "https://collector.example.com:0/pings",
    ],
)
def test_urls_that_can_never_be_sent_are_refused(tmp_path: Path, url: str) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_REPORT_URL"] = url
    with pytest.raises(ConfigurationError, match="CAMUNDA_TELEMETRY_REPORT_URL"):
        TelemetryExt(app)


def test_query_values_are_not_repeated_in_the_message(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_REPORT_URL"] = "https://collector.example.com/my pings?token=s3cret"
    with pytest.raises(ConfigurationError, match=r"my pings\?token=\*\*\*") as caught:
        TelemetryExt(app)
    assert "s3cret" not in str(caught.value)


def test_credentials_in_the_url_are_refused_and_not_repeated(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_REPORT_URL"] = "https://user:pa55word@collector.example.com/pings"
    with pytest.raises(ConfigurationError, match="put them in REPORT_HEADERS") as caught:
        TelemetryExt(app)
    assert "pa55word" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["https://collector.example.com/pings", "http://127.0.0.1:5001/collector/pings", "http://[::1]/p",
            "http://localhost:8080/p", "http://127.1.2.3/p", "https://b\u00fccher.example/caf%C3%A9?q=a%20b"],
)
def test_https_anywhere_and_http_to_loopback_are_accepted(tmp_path: Path, url: str) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_REPORT_URL"] = url
    TelemetryExt(app)
    assert app.extensions["camunda_telemetry"].reporting.report_url == url


def test_what_init_app_accepts_reaches_the_collector_as_configured(tmp_path: Path) -> None:
    """The edges init_app lets through are sent as they are: a percent-encoded path and query,
    a header value with Latin-1 letters and a tab inside (RFC 9110's obs-text and HTAB)."""
    with recorder() as rec:
        url = rec.url + "/caf%C3%A9?fleet=eu%201&x=%E2%82%AC"
        app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, url,
                            CAMUNDA_TELEMETRY_REPORT_HEADERS={"X-Note": "caf\u00e9\tok", "X-Empty": ""})
        result = app.test_cli_runner().invoke(args=["telemetry", "report"])
        assert result.exit_code == 0, result.output
        (received,) = rec.received
    assert received.path == "/collector/pings/caf%C3%A9?fleet=eu%201&x=%E2%82%AC"
    assert (received.headers["x-note"], received.headers["x-empty"]) == ("caf\u00e9\tok", "")


def test_environment_strings_and_defaults(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    TelemetryExt(app)
    defaults = app.extensions["camunda_telemetry"].config
    assert (defaults.report_url, defaults.initialize, defaults.report_interval, defaults.report_delay,
            defaults.report_timeout, defaults.report_retries, defaults.report_headers) == (
        None, False, 86400, 300, 15, 2, ())
    assert app.extensions["camunda_telemetry"].reporting is None

    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(
        CAMUNDA_TELEMETRY_REPORT_URL="https://collector.example.com/pings",
        CAMUNDA_TELEMETRY_INITIALIZE="null",
        CAMUNDA_TELEMETRY_REPORT_INTERVAL="3600",
        CAMUNDA_TELEMETRY_REPORT_DELAY="0",
        CAMUNDA_TELEMETRY_REPORT_TIMEOUT="2.5",
        CAMUNDA_TELEMETRY_REPORT_RETRIES="4",
        CAMUNDA_TELEMETRY_REPORT_HEADERS='{"Authorization": "Bearer s3cret"}',
    )
    TelemetryExt(app)
    config = app.extensions["camunda_telemetry"].config
    assert (config.initialize, config.report_interval, config.report_delay, config.report_timeout,
            config.report_retries) == (None, 3600, 0, 2.5, 4)
    assert config.report_headers == (("Authorization", "Bearer s3cret"),)
    assert "s3cret" not in repr(config)
