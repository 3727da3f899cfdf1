"""Command naming: properties over arbitrary names and endpoints (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.views import MethodView
from hypothesis import assume, given
from hypothesis import strategies as st

from flask_camunda_telemetry.counting.commands import CommandCounter, default_command_name, mark_command
from flask_camunda_telemetry.counting.counts import PendingCounts
from flask_camunda_telemetry.counting.names import validate_command_name


def command_name(endpoint: str, view: Callable[..., Any]) -> str | None:
    """The name the request hook counts ``view`` under when it serves ``endpoint``."""
    app = Flask(__name__)
    app.view_functions[endpoint] = view
    counter = CommandCounter(
        app, PendingCounts(), SimpleNamespace(name_command=None),
        excluded=frozenset(), blueprints=frozenset(), starts=(),
    )
    return counter.resolve(endpoint)


@given(st.text(max_size=300))
def test_any_name_is_accepted_or_refused_with_a_clear_error(name: str) -> None:
    try:
        assert validate_command_name(name) == name
    except ValueError as exc:
        assert "command name" in str(exc)
        return
    assert 0 < len(name) <= 255 and name.strip()
    assert all(ord(c) >= 32 and ord(c) != 127 for c in name)


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,80}", fullmatch=True))
def test_default_name_is_the_endpoint_without_dots(endpoint: str) -> None:
    def view() -> str:
        return ""

    name = default_command_name(endpoint, view)
    assert name == endpoint.replace(".", "_") and "." not in name
    assume(endpoint != "static" and not endpoint.endswith(".static"))  # never counted
    assert command_name(endpoint, view) == name


@given(st.from_regex(r"[A-Z][A-Za-z0-9]{0,40}Cmd", fullmatch=True), st.text(min_size=1, max_size=40))
def test_explicit_name_wins_over_class_and_endpoint(name: str, endpoint: str) -> None:
    assume(endpoint != "static" and not endpoint.endswith(".static"))  # never counted

    class SomeView(MethodView):
        pass

    view = SomeView.as_view("x")
    assert command_name(endpoint, view) == "SomeView"
    assert command_name(endpoint, mark_command(view, name)) == name
    assert command_name(endpoint, SomeView.as_view("y")) == "SomeView"
    mark_command(SomeView, name)
    assert command_name(endpoint, SomeView.as_view("z")) == name
