"""The ``flask telemetry`` and ``flask telemetry-collector`` groups: light, and errors in one line.

Both groups are ``flask.commands`` entry points (``setup.cfg``), and each extension also adds
its group to ``app.cli`` (so that ``app.test_cli_runner()`` finds it). This module is all that
``flask`` loads to list them: a group imports its commands (:mod:`.cli`,
:mod:`.collector.cli`) only when one of them is asked for, so no other ``flask`` command, and no
app that never runs one, pays for them.

``flask`` loads the app (``--app``, ``FLASK_APP``) to find the commands the app registered, and
prints any exception but its own ``NoAppException`` as a traceback, so a bad config value
(``init_app`` runs while the app module is imported) would end as the last line of one. A
:class:`TelemetryGroup` loads the app itself before running a command, turning a
:class:`~.TelemetryError` into ``Error: <message>`` and exit status 1.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import importlib
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from .exceptions import TelemetryError


class TelemetryGroup(AppGroup):
    """A group whose commands are those of the group ``commands`` names (``"module:attribute"``),
    imported on first use; it loads the app before a command runs (unless Flask did) and reports
    a :class:`~.TelemetryError`, from loading or from the command, in one line."""

    def __init__(self, name: str, *, commands: str, help: str) -> None:
        super().__init__(name, help=help)
        self._commands = commands

    def _group(self) -> click.Group:
        module, _, attribute = self._commands.partition(":")
        group: click.Group = getattr(importlib.import_module(module), attribute)
        return group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if not current_app:
                app = ctx.ensure_object(ScriptInfo).load_app()
                ctx.with_resource(app.app_context())
            return super().invoke(ctx)
        except TelemetryError as exc:
            raise click.ClickException(str(exc)) from None


#: ``flask telemetry ...``: init-db, show, reset, openapi, report, status.
telemetry_cli = TelemetryGroup(
    "telemetry", commands="flask_camunda_telemetry.cli:commands",
    help="Camunda telemetry: tables, data, reset, reports.",
)
#: ``flask telemetry-collector ...``: init-db, prune, rebuild, openapi.
collector_cli = TelemetryGroup(
    "telemetry-collector", commands="flask_camunda_telemetry.collector.cli:commands",
    help="The telemetry collector: tables, pruning, OpenAPI.",
)
