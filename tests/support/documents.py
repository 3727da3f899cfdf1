"""Reading documents: the JSON a test client got, and the counts a document holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

__all__ = ["Counts", "counts", "json_of", "read"]

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
