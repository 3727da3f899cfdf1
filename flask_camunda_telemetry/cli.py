"""``flask telemetry ...``: init-db, show, reset, openapi, report, status."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask.cli import AppGroup

from .config import masked_url
from .document.schemas import TelemetryDataSchema
from .exceptions import DatabaseUnavailableError, ReportRefusedError
from .openapi import build_spec
from .reporting.reporter import Reporting
from .state import get_state

commands = AppGroup("telemetry", help="Camunda telemetry: tables, data, reset, reports.")


def _fail(exc: Exception) -> None:
    click.echo(f"Error: {exc}", err=True)
    detail = getattr(exc, "detail", None)
    if detail:
        click.echo(f"The database said: {detail}", err=True)
    raise click.exceptions.Exit(1)


@commands.command("init-db")
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


@commands.command("show")
def show() -> None:
    """Print the document GET /telemetry/data returns."""
    try:
        data = get_state().document()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(json.dumps(TelemetryDataSchema().dump(data), indent=2))


@commands.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Zero the counts of every instance sharing the database (also those its processes have not
    flushed yet) and move the start date: what is counted from then on is kept."""
    if not yes:
        click.confirm("Reset the telemetry counts of every instance?", abort=True)
    try:
        start = get_state().counts.reset()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(f"Counts reset; data-collection-start-date is now {start.isoformat()}.")


@commands.command("openapi")
@click.option("--prefix", default=None, help="URL prefix of the routes (default: the app's first one).")
def openapi(prefix: str | None) -> None:
    """Print the OpenAPI 3.1 description of the telemetry routes (needs apispec)."""
    if prefix is None:
        prefixes = get_state().config.url_prefixes
        prefix = prefixes[0] if prefixes else ""
    click.echo(json.dumps(build_spec(prefix), indent=2))


def _reporting() -> Reporting:
    reporting = get_state().reporting
    if reporting is None:
        click.echo(
            "Error: CAMUNDA_TELEMETRY_REPORT_URL is not set, so nothing is ever sent. Set it to the "
            "collector's URL to report.",
            err=True,
        )
        raise click.exceptions.Exit(1)
    return reporting


@commands.command("report")
@click.option("--dry-run", is_flag=True, help="Print the exact request (headers and body); send nothing.")
@click.option(
    "--show-secrets", is_flag=True,
    help="With --dry-run, print the values of REPORT_HEADERS and of the URL's query (masked as *** otherwise).",
)
def report(dry_run: bool, show_secrets: bool) -> None:
    """Send the report now (consent still required) and print the collector's answer.

    .. versionadded:: 0.2.0
    """
    reporting = _reporting()
    try:
        result = reporting.report_now(dry_run=dry_run)
    except (DatabaseUnavailableError, ReportRefusedError) as exc:
        _fail(exc)
    if dry_run:
        secret = set() if show_secrets else {name for name, _ in get_state().config.report_headers}
        click.echo(f"POST {reporting.report_url if show_secrets else masked_url(reporting.report_url)}")
        for name, value in result.headers.items():
            click.echo(f"{name}: {'***' if name in secret else value}")
        click.echo()
        click.echo(result.body.decode())
        click.echo("Dry run: nothing was sent.", err=True)
        return
    answer = result.answer
    assert answer is not None
    click.echo(answer.message if answer.status is None else f"{answer.status} {answer.reason}".strip())
    if answer.body:
        click.echo(answer.body.decode(errors="replace"))
    if not answer.ok:
        raise click.exceptions.Exit(1)


def _when(value: dt.datetime | None) -> str:
    return "never" if value is None else value.isoformat(timespec="seconds")


@commands.command("status")
def status() -> None:
    """Print the consent, the last report (time, status or error) and when the next is due.

    .. versionadded:: 0.2.0
    """
    state = get_state()
    if state.reporting is None:
        click.echo("Reporting: off (CAMUNDA_TELEMETRY_REPORT_URL is not set; nothing is ever sent)")
        return
    try:
        consent, current = state.reporting.consent(), state.reporting.status()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(f"Collector: {state.reporting.sender.where}")
    click.echo(f"Consent: {'undecided' if consent is None else str(consent).lower()}")
    click.echo(f"Scope: {state.config.scope.value}")
    last = _when(current.last_at)
    if current.last_at is not None:
        outcome = f"failed: {current.last_error}" if current.last_error else f"sent, {current.last_status}"
        last = f"{last} ({outcome})"
    click.echo(f"Last report: {last}")
    if current.next_due is not None:
        click.echo(f"Next report due: {_when(current.next_due)}")
    elif consent is not True:
        click.echo("Next report due: never (no consent)")
    else:
        click.echo(f"Next report due: {state.config.report_delay:g} s after a serving process starts")
