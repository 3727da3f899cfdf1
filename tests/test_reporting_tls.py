"""TLS certificates are verified: a collector whose certificate the system does not trust gets
nothing; trusted (here through ``SSL_CERT_FILE``, as OpenSSL reads it), it gets the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_camunda_telemetry.state import get_state

from .support.apps import reporting_app
from .support.recorder import recorder
from .support.tls import make_certificates


def test_an_untrusted_certificate_is_a_failure_and_a_trusted_one_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificates = make_certificates(tmp_path / "tls")
    with recorder(certificates.server_context()) as rec:
        assert rec.url.startswith("https://127.0.0.1:")
        app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url)
        app.test_client().post("/process-definition/invoice/start")
        reporting = get_state(app).reporting
        assert reporting is not None

        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nowhere.pem"))
        untrusted = reporting.report_now()
        assert untrusted.answer is not None
        assert not untrusted.answer.ok
        assert "certificate verify failed" in untrusted.answer.message
        assert reporting.status().last_error == "TLS error"
        assert rec.received == []  # nothing reached the collector

        monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
        trusted = reporting.report_now()
        assert trusted.answer is not None
        assert trusted.answer.status == 202 and trusted.confirmed
        (received,) = rec.received
        assert received.json()["product"]["internals"]["commands"] == {"StartProcessInstanceCmd": {"count": 1}}
