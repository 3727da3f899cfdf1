"""``flask telemetry-collector ...``: init-db, prune, rebuild, openapi."""

from __future__ import annotations

import datetime as dt
import json
import re

import click
from flask.cli import AppGroup

from ..exceptions import DatabaseUnavailableError
from .openapi import build_spec
from .state import get_collector_state

commands = AppGroup("telemetry-collector", help="The telemetry collector: tables, pruning, OpenAPI.")

#: ``prune`` and ``rebuild`` read every report, which takes longer than a request's
#: ``DB_TIMEOUT`` on a big fleet: every wait of theirs is bounded by ``--timeout`` instead.
MAINTENANCE_TIMEOUT = 3600.0
_timeout = click.option(
    "--timeout", type=click.FloatRange(0.5, 7 * 86400), default=MAINTENANCE_TIMEOUT, show_default=True,
    help="Seconds each transaction may wait on the database in all (instead of DB_TIMEOUT, which bounds requests).")

_AGE = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    """``400d``, ``12h``, ``90m``, ``2w``, ``30s`` as a duration."""
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r}: expected a number and a unit, such as 400d, 12h, 2w (s, m, h, d, w).")
    try:
        return dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
    except OverflowError:
        raise click.BadParameter(f"{text!r} is too long ago: at most 999999999d.") from None


def _before(now: dt.datetime, age: str) -> dt.datetime:
    """``now`` less ``age``; a usage error naming ``--older-than`` for an age it cannot be."""
    try:
        return now - parse_age(age)
    except OverflowError:
        raise click.BadParameter(f"{age!r} is too long ago: it reaches before the year 1.",
                                 param_hint="'--older-than'") from None
    except click.BadParameter as exc:
        exc.param_hint = "'--older-than'"
        raise


def _fail(exc: DatabaseUnavailableError) -> None:
    click.echo(f"Error: {exc}", err=True)
    if exc.detail:
        click.echo(f"The database said: {exc.detail}", err=True)
    raise click.exceptions.Exit(1)


@commands.command("init-db")
def init_db() -> None:
    """Create the collector's tables (if missing)."""
    store = get_collector_state().store
    try:
        store.create_tables()
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo("Tables " + ", ".join(table.name for table in store.tables.all()) + " ready.")


@commands.command("prune")
@click.option("--older-than", "age", required=True, help="Delete the reports received longer ago than this (400d).")
@_timeout
def prune(age: str, timeout: float) -> None:
    """Delete old reports (and recompute the per-installation summaries)."""
    state = get_collector_state()
    before = _before(state.clock(), age)
    try:
        deleted = state.store.prune(before, timeout=timeout)
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo(f"Deleted {deleted} report(s) received before {before.isoformat(timespec='seconds')} UTC.")


@commands.command("rebuild")
@_timeout
def rebuild(timeout: float) -> None:
    """Recompute the per-installation summaries from the stored reports."""
    try:
        get_collector_state().store.rebuild(timeout)
    except DatabaseUnavailableError as exc:
        _fail(exc)
    click.echo("Summaries rebuilt.")


@commands.command("openapi")
def openapi() -> None:
    """Print the OpenAPI 3.1 description of the collector's routes (needs apispec)."""
    click.echo(json.dumps(build_spec(get_collector_state().config.url_prefix), indent=2))
