"""What a hostile sender (or reader) can send: counts as large as the collector accepts, from any
number of senders, sum exactly and never lock another sender out; no query value makes the API
fail; bytes a client controls (lone surrogates, broken chunked bodies) get a JSON 4xx under real
servers without a traceback; the CLI refuses an age it cannot compute."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_camunda_telemetry import DatabaseUnavailableError
from flask_camunda_telemetry.collector.state import get_collector_state
from flask_camunda_telemetry.storage.transactions import run_transaction

from .support.collector_app import make_collector_app
from .support.documents import json_of
from .support.net import raw_request
from .support.processes import serve, server_env
from .support.reports import engine_report

PINGS = "/collector/pings"
MAX = 2**63 - 1  # the largest count the collector accepts
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 3, 2, 9, 30)


def _post(app: Flask, report: dict[str, Any], report_id: str) -> int:
    response = app.test_client().post(PINGS, json=report, headers={"Telemetry-Report-Id": report_id})
    return int(response.status_code)


def _usage(app: Flask, query: str = "") -> Any:
    response = app.test_client().get("/collector/api/usage" + query)
    assert response.status_code == 200, (query, response.status_code, json_of(response))
    return json_of(response)


def test_counts_up_to_the_limit_from_many_senders_sum_exactly(database_url: str, tmp_path: Path) -> None:
    """Before: the second sender of 2^63-1 got 503 for ever on PostgreSQL and MariaDB ("bigint out
    of range" in the totals), and SQLite's totals turned into floats."""
    app = make_collector_app(database_url, tmp_path)
    get_collector_state(app).clock = lambda: NOW
    big = {"StartProcessInstanceCmd": MAX, "FetchExternalTasksCmd": MAX}  # one report's sum is over 2^63 too
    senders = [engine_report(commands=big, metrics={"activity-instance-start": MAX}, start=START) for _ in range(3)]
    assert [_post(app, report, f"r-{n}") for n, report in enumerate(senders)] == [202] * 3
    small = engine_report(commands={"StartProcessInstanceCmd": 1}, start=START)
    assert _post(app, small, "small") == 202  # another sender of the same name is not locked out

    expected = {"commands": {"StartProcessInstanceCmd": 3 * MAX + 1, "FetchExternalTasksCmd": 3 * MAX},
                "metrics": {"activity-instance-start": 3 * MAX}}
    assert _usage(app) == expected  # from the daily summary
    assert _usage(app, "?since=2025-03-02T00:00:01") == expected  # from the counts of each report
    assert _usage(app, f"?installation={senders[0]['installation']}") == {
        "commands": big, "metrics": {"activity-instance-start": MAX}}
    overview = app.test_client().get("/collector/")
    assert overview.status_code == 200
    assert f"{3 * MAX + 1:,}" in overview.get_data(as_text=True)  # the top commands, exactly
    page = app.test_client().get(f"/collector/installations/{senders[0]['installation']}")
    assert page.status_code == 200 and f"{2 * MAX:,}" in page.get_data(as_text=True)  # the report's commands
    with app.app_context():
        store = get_collector_state(app).store
        assert store.top("command", 1) == [("StartProcessInstanceCmd", 3 * MAX + 1)]
        store.rebuild()
    assert _usage(app) == expected


def test_an_integer_overflow_is_a_refused_value_not_an_outage(tmp_path: Path) -> None:
    """SQLite's SUM() past 2^63-1 raises "integer overflow": told as a refused value, not as a
    database that is unavailable (what the usage API used to answer)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'o.sqlite'}")
    overflow = f"SELECT SUM(x) FROM (SELECT {MAX} AS x UNION ALL SELECT 1)"
    with pytest.raises(DatabaseUnavailableError) as raised:
        run_transaction(engine, "sum", lambda conn: conn.exec_driver_sql(overflow).scalar(), "Retry later.")
    assert "refused a value" in str(raised.value) and "unavailable" not in str(raised.value)
    engine.dispose()


QUERIES = [
    "?until=9999-12-31", "?since=0001-01-01T00:00:00-14:00", "?since=0001-01-01", "?until=0001-01-01",
    "?since=0001-01-01&until=9999-12-31", "?until=9999-12-31T23:59:59.999999", "?since=9999-12-31T23:59:59.999999Z",
    "?since=0001-01-01T00:00:00%2B14:00", "?until=10000-01-01", "?installation=%00", "?version=%00",
    "?installation=" + "x" * 300, "?version=%ED%A0%80", "?installation=a%00b&since=2025-03-02T00:00:01",
]


def test_no_usage_query_is_answered_with_a_5xx(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    get_collector_state(app).clock = lambda: NOW
    assert _post(app, engine_report(commands={"StartProcessInstanceCmd": MAX}, start=START), "a") == 202
    assert _post(app, engine_report(commands={"StartProcessInstanceCmd": MAX}, start=START), "b") == 202
    for query in QUERIES:
        response = app.test_client().get("/collector/api/usage" + query)
        assert response.status_code in (200, 400), (query, response.status_code, json_of(response))
        if response.status_code == 200 and "installation" not in query and "version" not in query:
            spans_now = "0001-01-01&" in query or query in ("?until=9999-12-31", "?until=9999-12-31T23:59:59.999999",
                                                           "?since=0001-01-01T00:00:00-14:00", "?since=0001-01-01")
            assert json_of(response)["commands"] == ({"StartProcessInstanceCmd": 2 * MAX} if spans_now else {}), query
    page = app.test_client().get("/collector/installations/a%00b")
    assert page.status_code == 404, page.get_data(as_text=True)[:300]


def _with(path: tuple[str, ...], value: Any) -> str:
    report = engine_report(commands={"A": 1})
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    # a lone surrogate cannot be encoded: written as the JSON escape a client sends
    return json.dumps(report).replace("LONE", "\\ud800")


@pytest.mark.parametrize("path", [("product", "internals", "commands", "xLONE"),
                                  ("product", "internals", "metrics", "xLONE"), ("installation",)])
def test_a_lone_surrogate_in_a_name_gets_a_400_naming_it_escaped(tmp_path: Path, path: tuple[str, ...]) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    body = _with(path, "xLONE" if path == ("installation",) else {"count": 1})
    response = app.test_client().post(PINGS, data=body.encode(), content_type="application/json")
    assert response.status_code == 400, response.get_data()[:300]
    message = json_of(response)["message"]
    assert "A name must have" in message
    if len(path) > 1:
        assert f"{path[2]}.x\\ud800" in message


def test_a_lone_surrogate_elsewhere_is_stored_and_shown(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    body = _with(("product", "internals", "database", "vendor"), "PostLONE")
    assert app.test_client().post(PINGS, data=body.encode(), content_type="application/json").status_code == 202
    installation = json.loads(body)["installation"]
    page = app.test_client().get(f"/collector/installations/{installation}")
    assert page.status_code == 200
    assert "Post\\ud800" in page.get_data(as_text=True)


BROKEN_BODIES = {
    "an invalid size line": b"zz\r\n{}\r\n0\r\n\r\n",
    "a body cut short": b"400\r\n" + b'{"installation": "a", "product": {',
}


@pytest.mark.parametrize("kind", ["werkzeug", "gunicorn"])
def test_a_broken_chunked_body_gets_a_400_without_a_traceback(tmp_path: Path, kind: str) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'c.sqlite'}",
                     CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI=f"sqlite:///{tmp_path / 'c.sqlite'}",
                     COLLECTOR_APP_INSTANCE_PATH=str(tmp_path))
    head = "POST /collector/pings HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nTransfer-Encoding: chunked"
    with serve(kind, env, tmp_path, app="tests.support.collector_app:create_app") as server:
        for case, body in BROKEN_BODIES.items():
            status, _, answer = raw_request(server.port, head, body)
            assert status == 400, server.failure(f"{case}: {status} {answer!r}")
            assert answer["type"] == "InvalidRequestException" and "body" in answer["message"], answer
        whole = json.dumps(engine_report()).encode()
        status, _, answer = raw_request(server.port, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(whole), whole))
        assert status == 202, server.failure(f"a good chunked body: {status} {answer!r}")
        assert server.errors() == [], server.failure("errors in the log")


def test_the_apps_max_content_length_is_still_a_413_for_a_chunked_body(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path, MAX_CONTENT_LENGTH=2000)
    body = json.dumps(engine_report(commands={f"Command{i}": i for i in range(1, 200)})).encode()
    response = app.test_client().post(PINGS, input_stream=io.BytesIO(body), content_type="application/json",
                                      environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413, json_of(response)


@pytest.mark.parametrize("age", ["99999999999d", "3000000d", "999999999999999999999w"])
def test_prune_refuses_an_age_it_cannot_compute_as_a_usage_error(tmp_path: Path, age: str) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    result = app.test_cli_runner().invoke(args=["telemetry-collector", "prune", "--older-than", age])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--older-than" in result.output and "too long" in result.output
