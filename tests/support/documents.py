"""Reading documents: the JSON a test client got, and the counts a document holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

__all__ = ["DRIVER_TEXT", "Counts", "counts", "driver_text", "json_of", "read"]

#: (commands, metrics) as ``{name: count}`` each.
Counts = tuple[dict[str, int], dict[str, int]]


def json_of(response: TestResponse) -> Any:
    """The response's JSON body (the test fails if it has none)."""
    body = response.get_json(silent=True)
    assert body is not None, f"{response.status}: not JSON: {response.get_data()[:500]!r}"
    return body


def read(client: FlaskClient, path: str = "/telemetry/data") -> Any:
    """The JSON body of ``GET path``."""
    return json_of(client.get(path))


def counts(doc: Mapping[str, Any]) -> Counts:
    """The commands and metrics of a document, as ``{name: count}``."""
    internals = doc["product"]["internals"]
    return (
        {name: entry["count"] for name, entry in internals["commands"].items()},
        {name: entry["count"] for name, entry in internals["metrics"].items()},
    )


#: What only SQL or a driver's message holds: a body shown to a client must hold none of it.
DRIVER_TEXT = (
    " FROM ", "INSERT INTO", "VALUES", "[SQL", "LINE ", "psycopg", "pymysql", "sqlite3", "OperationalError",
    "ProgrammingError", "127.0.0.1", "doesn't exist", "no such table", "relation ", "denied to user",
)


def driver_text(message: str) -> list[str]:
    """The pieces of SQL or driver text in ``message`` (none, for a body a client may see)."""
    return [marker for marker in DRIVER_TEXT if marker in message]
