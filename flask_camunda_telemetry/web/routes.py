"""Routes that take every method, so that the view, not Werkzeug, answers a wrong one.

Flask lists the methods of each rule it adds, and Werkzeug answers a method no rule of a path
lists (``PROPFIND``, ``MKCOL``, a made-up one) with the app's HTML 405 before any handler of the
blueprint runs. The extension's routes are Werkzeug rules without a method list instead: every
request reaches the view, which checks the method itself (:func:`.guards.allow`) and answers a
wrong one with the JSON 405 and its real ``Allow``. The host's own routes are left as they are.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory
from flask.sansio.blueprints import BlueprintSetupState
from flask.typing import RouteCallable
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Rule

from .guards import allow

#: Methods tried to find which other route serves a path (see :func:`methods_of_other_routes`).
_PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")


def add_app_route(app: Flask, rule: str, endpoint: str, view: RouteCallable, **options: object) -> None:
    """Route ``rule`` to ``view`` under ``endpoint`` for every method (Werkzeug: ``methods=None``)."""
    existing = app.view_functions.get(endpoint)
    if existing is not None and existing is not view:
        raise AssertionError(f"View function mapping is overwriting an existing endpoint function: {endpoint}")
    app.url_map.add(Rule(rule, endpoint=endpoint, methods=None, **options))  # type: ignore[arg-type]
    app.view_functions[endpoint] = view


def add_blueprint_route(blueprint: Blueprint, rule: str, view: Callable[..., object]) -> None:
    """Route ``rule`` of ``blueprint`` to ``view`` for every method, at each registration of the
    blueprint (its URL prefix and name, as Flask's own ``add_url_rule`` would)."""
    endpoint = view.__name__

    def register(setup: BlueprintSetupState) -> None:
        path = rule
        if setup.url_prefix is not None:
            path = "/".join((setup.url_prefix.rstrip("/"), rule.lstrip("/"))) if rule else setup.url_prefix
        name = f"{setup.name_prefix}.{setup.name}.{endpoint}".lstrip(".")
        add_app_route(
            setup.app, path, name, view,  # type: ignore[arg-type]
            subdomain=setup.subdomain, defaults=setup.url_defaults or None,
        )

    blueprint.record(register)


def add_static_route(blueprint: Blueprint, url_path: str, folder: str) -> None:
    """Serve the files of ``folder`` at ``url_path/<filename>`` as the blueprint's ``static``
    endpoint (what ``static_folder`` does), answering a method other than GET and HEAD itself."""

    def static(filename: str) -> Response:
        options = allow("GET", "HEAD")
        if options is not None:
            return options
        return send_from_directory(folder, filename, max_age=current_app.get_send_file_max_age(filename))

    add_blueprint_route(blueprint, f"{url_path}/<path:filename>", static)


def methods_of_other_routes() -> set[str]:
    """The methods other routes than the request's serve its path with (the static files' GET
    under a catch-all that takes every method, say); empty when there are none."""
    adapter = current_app.create_url_adapter(request)
    methods: set[str] = set()
    for method in _PROBED if adapter is not None else ():
        try:
            rule, _ = adapter.match(method=method, return_rule=True)  # type: ignore[union-attr]
        except HTTPException:
            continue
        if rule.endpoint != request.endpoint and rule.methods is not None:
            methods |= rule.methods
    return methods


def refuse_other_methods() -> None:
    """For a catch-all view: raise the 405 (with the real ``Allow``) when another route serves the
    request's path with other methods; return when none does (the view answers its 404)."""
    other = methods_of_other_routes()
    if other:
        raise MethodNotAllowed(valid_methods=sorted(other))
