"""``flask telemetry ...``: init-db, show, reset."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from .exceptions import DatabaseUnavailableError
from .schemas import TelemetryDataSchema
from .state import EXTENSION_KEY, TelemetryState

__all__ = ["telemetry_cli"]

telemetry_cli = AppGroup("telemetry", help="Camunda telemetry: tables, data, reset.")


def _state() -> TelemetryState:
    state: TelemetryState = current_app.extensions[EXTENSION_KEY]
    return state


def _fail(exc: DatabaseUnavailableError) -> None:
    click.echo(f"Error: {exc}", err=True)
    raise click.exceptions.Exit(1)


@telemetry_cli.command("init-db")
def init_db() -> None:
    """Create the telemetry tables (if missing) and the installation id."""
    state = _state()
    try:
        state.store.create_tables()
        installation = state.store.installation_id()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    tables = state.store.tables
    click.echo(f"Tables {tables.property.name}, {tables.count.name} ready; installation id {installation}.")


@telemetry_cli.command("show")
def show() -> None:
    """Print the document GET /telemetry/data returns."""
    try:
        data = _state().collect()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(json.dumps(TelemetryDataSchema().dump(data), indent=2))


@telemetry_cli.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Zero the counts of every instance sharing the database and move the start date."""
    if not yes:
        click.confirm("Reset the telemetry counts of every instance?", abort=True)
    try:
        start = _state().reset()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(f"Counts reset; data-collection-start-date is now {start.isoformat()}.")


@telemetry_cli.command("openapi")
@click.option("--prefix", default=None, help="URL prefix of the routes (default: the app's first one).")
def openapi(prefix: str | None) -> None:
    """Print the OpenAPI 3.1 description of the telemetry routes (needs apispec)."""
    from .openapi import build_spec

    if prefix is None:
        prefixes = _state().config.url_prefixes
        prefix = prefixes[0] if prefixes else ""
    click.echo(json.dumps(build_spec(prefix), indent=2))
