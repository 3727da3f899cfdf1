"""Commands: how a request's view becomes a command name, and the hook that counts it.

The name of a command is, in this order:

1. the name given with ``@telemetry.command("StartProcessInstanceCmd")`` on the view
   (function or view class);
2. the class name for a class-based view (``View.as_view``);
3. otherwise the Flask endpoint with ``.`` turned into ``_`` (``engine.start`` becomes
   ``engine_start``), as Camunda turns nested class separators into ``_``.

Names come from the app's endpoints, never from the request path, so the set of names is
bounded by the routes the app registered.

The hook runs as a ``before_request`` function, so a view that raises is counted too, and a
request that matched no route (404, 405: ``request.endpoint`` is None) is not. Neither is what
Flask answers by itself: an automatic ``OPTIONS`` (a browser's CORS preflight) and a ``HEAD`` on a
view that does not declare ``HEAD`` (Flask runs the ``GET`` view and drops the body). Its only
work is a dict look-up and an in-memory increment under a lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request

__all__ = [
    "COMMAND_ATTRIBUTE",
    "answered_by_flask",
    "command_name",
    "install_counting_hook",
    "mark_command",
    "validate_command_name",
]

#: The attribute ``@telemetry.command`` sets on a view function.
COMMAND_ATTRIBUTE = "__camunda_telemetry_command__"

_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")

F = TypeVar("F", bound=Callable[..., Any])


def validate_command_name(name: object) -> str:
    """A command name is a non-empty string of at most 255 printable characters."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or not name.strip():
        raise ValueError(
            f"command name {name!r} is invalid: use a non-empty string of at most 255 printable "
            "characters, such as 'StartProcessInstanceCmd'"
        )
    return name


def mark_command(view: F, name: str) -> F:
    setattr(view, COMMAND_ATTRIBUTE, validate_command_name(name))
    return view


def command_name(endpoint: str, view: Callable[..., Any] | None) -> str:
    """The command name of the view registered under ``endpoint``."""
    view_class = getattr(view, "view_class", None)
    explicit = getattr(view, COMMAND_ATTRIBUTE, None) or getattr(view_class, COMMAND_ATTRIBUTE, None)
    if explicit is not None:
        return str(explicit)
    if isinstance(view_class, type):
        return view_class.__name__
    return endpoint.replace(".", "_")


def answered_by_flask(method: str, endpoint: str) -> bool:
    """Whether Flask answers this ``OPTIONS`` or ``HEAD`` request without it being a command: an
    automatic ``OPTIONS``, or a ``HEAD`` for a view that does not list ``HEAD`` in its methods
    (a view class with a ``head`` method does)."""
    if method == "OPTIONS":
        return bool(getattr(request.url_rule, "provide_automatic_options", False))
    view = current_app.view_functions.get(endpoint)
    return "HEAD" not in (getattr(view, "methods", None) or ())


def install_counting_hook(
    app: Flask,
    names: dict[str, str | None],
    resolve: Callable[[str], str | None],
    count: Callable[[str], None],
) -> None:
    """Count one command per request routed to a view.

    ``names`` caches endpoint -> command name (None: not counted); ``resolve`` fills it.
    """

    def count_camunda_command() -> None:
        endpoint = request.endpoint
        if endpoint is None:
            return
        method = request.method
        if (method == "OPTIONS" or method == "HEAD") and answered_by_flask(method, endpoint):
            return
        name = names[endpoint] if endpoint in names else resolve(endpoint)
        if name is not None:
            count(name)

    app.before_request(count_camunda_command)
