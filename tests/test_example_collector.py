"""The example collector: ``flask --app example_app.collector run`` works with no set-up."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from .support.processes import serve
from .support.reports import engine_report, get_json, post_report


def _env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMUNDA_TELEMETRY", "FLASK_", "EXAMPLE_"))}
    env.update(EXAMPLE_APP_INSTANCE_PATH=str(instance), PYTHONPATH=str(Path(__file__).resolve().parents[1]), **extra)
    return env


def test_flask_run_serves_a_collector_on_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    with serve("werkzeug", _env(instance), tmp_path, app="example_app.collector") as server:
        report = engine_report(commands={"StartProcessInstanceCmd": 2})
        assert post_report(server.port, report).status == 202
        assert get_json(server.port, "/collector/api/usage").body["commands"] == {"StartProcessInstanceCmd": 2}
        page = get_json(server.port, "/collector/")
        assert page.status == 200 and report["installation"].encode() in page.body
    assert (instance / "camunda_telemetry_collector.sqlite").exists()


def test_settings_and_the_password_come_from_the_environment(tmp_path: Path) -> None:
    env = _env(tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_TOKENS="sender-token", EXAMPLE_COLLECTOR_PASSWORD="fleet pw")
    with serve("werkzeug", env, tmp_path, app="example_app.collector") as server:
        assert post_report(server.port, engine_report()).status == 401
        assert post_report(server.port, engine_report(), {"Authorization": "Bearer sender-token"}).status == 202
        refused = get_json(server.port, "/collector/")
        assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Basic ")
        wrong = base64.b64encode(b"me:guess").decode()
        assert get_json(server.port, "/collector/", {"Authorization": f"Basic {wrong}"}).status == 403
        right = base64.b64encode(b"me:fleet pw").decode()
        assert get_json(server.port, "/collector/api/installations", {"Authorization": f"Basic {right}"}).status == 200
