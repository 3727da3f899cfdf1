"""The base of the ``flask telemetry`` and ``flask telemetry-collector`` groups: an error of the
package is a one-line message, also when it is raised while the app loads.

``flask`` loads the app (``--app``, ``FLASK_APP``) to find the commands the app registered, and
prints any exception but its own ``NoAppException`` as a traceback, so a bad config value
(``init_app`` runs while the app module is imported) used to end as the last line of one. Both
groups are therefore also ``flask.commands`` entry points (``setup.cfg``): ``flask`` finds them
without the app, and :class:`TelemetryGroup` loads the app itself before running a command,
turning a :class:`~.TelemetryError` into ``Error: <message>`` and exit status 1.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from .exceptions import TelemetryError

__all__ = ["TelemetryGroup"]


class TelemetryGroup(AppGroup):
    """An :class:`~flask.cli.AppGroup` that loads the app before its command runs (unless Flask
    did) and reports a :class:`~.TelemetryError`, from loading or from the command, in one line.

    .. versionadded:: 0.2.0
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if not current_app:
                app = ctx.ensure_object(ScriptInfo).load_app()
                ctx.with_resource(app.app_context())
            return super().invoke(ctx)
        except TelemetryError as exc:
            raise click.ClickException(str(exc)) from None
