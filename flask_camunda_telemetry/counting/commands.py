"""Commands: how a request's view becomes a command name, and the hook that counts it.

The name of a command is, in this order:

1. the name given with ``@telemetry.command("StartProcessInstanceCmd")`` on the view
   (function or view class);
2. with a ``name_command`` hook, what it returns for the endpoint and its view (None: not
   counted), called once per endpoint; if it raises (or returns neither a string nor None) the
   error is logged once and the name is the default one (3, 4);
3. the class name for a class-based view (``View.as_view``);
4. otherwise the Flask endpoint with ``.`` turned into ``_`` (``engine.start`` becomes
   ``engine_start``), as Camunda turns nested class separators into ``_``.

Names come from the app's endpoints, never from the request path, so the set of names is
bounded by the routes the app registered. A name from the hook or derived (2, 3, 4) that cannot be
stored (empty, longer than 255 characters, holding unprintable characters) is escaped and cut to a
stable, safe name once per endpoint, with a warning (see :mod:`.names`); a name given with
``@telemetry.command`` is checked when given.

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
    "CommandNamer",
    "answered_by_flask",
    "command_name",
    "default_name",
    "install_counting_hook",
    "is_preflight",
    "mark_command",
    "validate_command_name",
]

#: The attribute ``@telemetry.command`` sets on a view function.
COMMAND_ATTRIBUTE = "__camunda_telemetry_command__"

log = logging.getLogger("flask_camunda_telemetry")

F = TypeVar("F", bound=Callable[..., Any])

#: The ``name_command`` hook: ``(endpoint, view) -> command name``, or None not to count the endpoint.
CommandNamer = Callable[[str, Callable[..., Any] | None], str | None]


def mark_command(view: F, name: str) -> F:
    setattr(view, COMMAND_ATTRIBUTE, validate_command_name(name))
    return view


def _explicit_name(view: Callable[..., Any] | None) -> str | None:
    """The name given with ``@telemetry.command`` to the view function or its view class."""
    view_class = getattr(view, "view_class", None)
    explicit = getattr(view, COMMAND_ATTRIBUTE, None) or getattr(view_class, COMMAND_ATTRIBUTE, None)
    return None if explicit is None else str(explicit)


def _made_safe(name: str, endpoint: str, origin: str, advice: str) -> str:
    """``name`` made storable (:func:`.names.safe_name`), with a warning when it had to change."""
    safe = safe_name(name)
    if safe != name:
        log.warning(
            "the command name %.80r %s endpoint %.80r is empty, longer than %d characters or holds unprintable "
            "characters; it is counted as %r. %s",
            name, origin, endpoint, MAX_NAME_LENGTH, safe, advice,
        )  # fmt: skip
    return safe


def default_name(endpoint: str, view: Callable[..., Any] | None) -> str:
    """The command name of the view registered under ``endpoint`` without a hook: its
    ``@telemetry.command`` name, else its view class's name, else the endpoint with ``.`` turned
    into ``_``; a derived name the counts table cannot hold is made safe, with a warning."""
    explicit = _explicit_name(view)
    if explicit is not None:
        return explicit
    view_class = getattr(view, "view_class", None)
    derived = view_class.__name__ if isinstance(view_class, type) else endpoint.replace(".", "_")
    return _made_safe(derived, endpoint, "of", "Name the view with @telemetry.command(...) to choose its name.")


def _hook_name(endpoint: str, view: Callable[..., Any] | None, namer: CommandNamer) -> str | None:
    """What ``namer`` names the endpoint, made safe; its default name if the hook fails."""
    try:
        name: object = namer(endpoint, view)
    except Exception:
        log.exception("name_command raised for endpoint %.80r; it is counted under its default name", endpoint)
        return default_name(endpoint, view)
    if name is None:
        return None
    if not isinstance(name, str):
        log.error(
            "name_command returned %.80r for endpoint %.80r, not a str or None; it is counted under its default name",
            name, endpoint,
        )  # fmt: skip
        return default_name(endpoint, view)
    return _made_safe(name, endpoint, "that name_command returned for", "Return 1 to 255 printable characters.")


def command_name(endpoint: str, view: Callable[..., Any] | None, namer: CommandNamer | None = None) -> str | None:
    """The command name of the view registered under ``endpoint``, or None when ``namer`` (the
    ``name_command`` hook) leaves it uncounted. A name given with ``@telemetry.command`` wins
    over the hook; without a hook it is :func:`default_name`."""
    if namer is None or _explicit_name(view) is not None:
        return default_name(endpoint, view)
    return _hook_name(endpoint, view, namer)


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
