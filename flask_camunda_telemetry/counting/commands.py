"""Commands: how a request's view becomes a command name, and the hook that counts it.

The name of a command is, in this order:

1. the name given with ``@telemetry.command("StartProcessInstanceCmd")`` on the view
   (function or view class);
2. the class name for a class-based view (``View.as_view``);
3. otherwise the Flask endpoint with ``.`` turned into ``_`` (``engine.start`` becomes
   ``engine_start``), as Camunda turns nested class separators into ``_``.

Names come from the app's endpoints, never from the request path, so the set of names is
bounded by the routes the app registered. A derived name (2, 3) longer than 255 characters or
holding unprintable characters is escaped and cut to a stable, safe name once per endpoint, with a
warning (see :mod:`.names`); a name given with ``@telemetry.command`` is checked when given.

The hook runs as a ``before_request`` function, so a view that raises is counted too, and a
request that matched no route (404, 405: ``request.endpoint`` is None) is not. Neither is a CORS
preflight (an ``OPTIONS`` carrying ``Origin`` and ``Access-Control-Request-Method``), whoever
answers it, nor what Flask answers by itself: an automatic ``OPTIONS`` and a ``HEAD`` on a view
that does not declare ``HEAD`` (Flask runs the ``GET`` view and drops the body). Its only work is
a dict look-up and an in-memory increment under a lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from werkzeug.datastructures import Headers

from .names import MAX_NAME_LENGTH, safe_name, validate_command_name

__all__ = [
    "COMMAND_ATTRIBUTE",
    "answered_by_flask",
    "command_name",
    "install_counting_hook",
    "is_preflight",
    "mark_command",
    "validate_command_name",
]

#: The attribute ``@telemetry.command`` sets on a view function.
COMMAND_ATTRIBUTE = "__camunda_telemetry_command__"

log = logging.getLogger("flask_camunda_telemetry")

F = TypeVar("F", bound=Callable[..., Any])


def mark_command(view: F, name: str) -> F:
    setattr(view, COMMAND_ATTRIBUTE, validate_command_name(name))
    return view


def command_name(endpoint: str, view: Callable[..., Any] | None) -> str:
    """The command name of the view registered under ``endpoint``; a derived name too long or
    unprintable for the counts table is made safe (:func:`.names.safe_name`), with a warning."""
    view_class = getattr(view, "view_class", None)
    explicit = getattr(view, COMMAND_ATTRIBUTE, None) or getattr(view_class, COMMAND_ATTRIBUTE, None)
    if explicit is not None:
        return str(explicit)
    derived = view_class.__name__ if isinstance(view_class, type) else endpoint.replace(".", "_")
    name = safe_name(derived)
    if name != derived:
        log.warning(
            "the command name %.80r of endpoint %.80r is longer than %d characters or holds unprintable "
            "characters; it is counted as %r. Name the view with @telemetry.command(...) to choose its name.",
            derived, endpoint, MAX_NAME_LENGTH, name,
        )
    return name


def answered_by_flask(method: str, endpoint: str) -> bool:
    """Whether Flask answers this ``OPTIONS`` or ``HEAD`` request without it being a command: an
    automatic ``OPTIONS``, or a ``HEAD`` for a view that does not list ``HEAD`` in its methods
    (a view class with a ``head`` method does)."""
    if method == "OPTIONS":
        return bool(getattr(request.url_rule, "provide_automatic_options", False))
    view = current_app.view_functions.get(endpoint)
    return "HEAD" not in (getattr(view, "methods", None) or ())


def is_preflight(headers: Headers) -> bool:
    """Whether an ``OPTIONS`` request with these headers is a CORS preflight (it carries
    ``Origin`` and ``Access-Control-Request-Method``): never a command, whoever answers it."""
    return "Origin" in headers and "Access-Control-Request-Method" in headers


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
        if method == "OPTIONS" and is_preflight(request.headers):
            return
        if (method == "OPTIONS" or method == "HEAD") and answered_by_flask(method, endpoint):
            return
        name = names[endpoint] if endpoint in names else resolve(endpoint)
        if name is not None:
            count(name)

    app.before_request(count_camunda_command)
