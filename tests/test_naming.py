"""Command naming: properties over arbitrary names and endpoints (hypothesis)."""

from __future__ import annotations

from flask.views import MethodView
from hypothesis import given
from hypothesis import strategies as st

from flask_camunda_telemetry.counting.commands import command_name, mark_command, validate_command_name


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

    name = command_name(endpoint, view)
    assert name == endpoint.replace(".", "_") and "." not in name


@given(st.from_regex(r"[A-Z][A-Za-z0-9]{0,40}Cmd", fullmatch=True), st.text(min_size=1, max_size=40))
def test_explicit_name_wins_over_class_and_endpoint(name: str, endpoint: str) -> None:
    class SomeView(MethodView):
        pass

    view = SomeView.as_view("x")
    assert command_name(endpoint, view) == "SomeView"
    assert command_name(endpoint, mark_command(view, name)) == name
    assert command_name(endpoint, SomeView.as_view("y")) == "SomeView"
    mark_command(SomeView, name)
    assert command_name(endpoint, SomeView.as_view("z")) == name
