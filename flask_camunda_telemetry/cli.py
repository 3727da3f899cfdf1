"""``flask telemetry ...``: init-db, show, reset."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .document.schemas import TelemetryDataSchema
from .exceptions import DatabaseUnavailableError
from .rest.openapi import build_spec
from .state import get_state

__all__ = ["telemetry_cli"]

telemetry_cli = AppGroup("telemetry", help="Camunda telemetry: tables, data, reset.")


def _fail(exc: DatabaseUnavailableError) -> None:
    click.echo(f"Error: {exc}", err=True)
    raise click.exceptions.Exit(1)


@telemetry_cli.command("init-db")
def init_db() -> None:
    """Create the telemetry tables (if missing) and the installation id."""
    state = get_state()
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
        data = get_state().collect()
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
        start = get_state().reset()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(f"Counts reset; data-collection-start-date is now {start.isoformat()}.")


@telemetry_cli.command("openapi")
@click.option("--prefix", default=None, help="URL prefix of the routes (default: the app's first one).")
def openapi(prefix: str | None) -> None:
    """Print the OpenAPI 3.1 description of the telemetry routes (needs apispec)."""
    if prefix is None:
        prefixes = get_state().config.url_prefixes
        prefix = prefixes[0] if prefixes else ""
    click.echo(json.dumps(build_spec(prefix), indent=2))
