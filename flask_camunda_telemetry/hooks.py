"""The request hook that counts commands: one per request routed to a view.

It runs as a ``before_request`` function, so a view that raises is counted too, and a request
that matched no route (404, 405: ``request.endpoint`` is None) is not. Its only work is a dict
look-up and an in-memory increment under a lock.
"""

from __future__ import annotations

from flask import Flask, request

from .state import TelemetryState

__all__ = ["install_counting_hook"]


def install_counting_hook(app: Flask, state: TelemetryState) -> None:
    names = state.names
    resolve = state.resolve_name
    count = state.count_command

    def count_camunda_command() -> None:
        endpoint = request.endpoint
        if endpoint is None:
            return
        name = names[endpoint] if endpoint in names else resolve(endpoint)
        if name is not None:
            count(name)

    app.before_request(count_camunda_command)
