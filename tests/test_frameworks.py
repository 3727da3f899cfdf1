"""The extension inside the frameworks Flask apps are built with, each set up exactly as
docs/frameworks.rst shows it (the apps are the docs' own files, docs/recipes/*.py): exact counts
by command name for a small mix of requests, the frameworks' documentation routes included."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from werkzeug.test import Client

from docs.recipes import (
    async_app,
    connexion_app,
    cors_app,
    dispatcher_app,
    login_app,
    restx_app,
    smorest_app,
)

from .support.documents import Counts, counts, json_of

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The recipes this module runs.
RECIPES: tuple[ModuleType, ...] = (
    async_app, connexion_app, cors_app, dispatcher_app, login_app, restx_app, smorest_app,
)  # fmt: skip


def _config(tmp_path: Path, name: str = "telemetry") -> dict[str, Any]:
    return {"TESTING": True, "CAMUNDA_TELEMETRY_DATABASE_URI": f"sqlite:///{tmp_path / name}.sqlite"}


def _read(client: Client, path: str = "/telemetry/data") -> Counts:
    return counts(json_of(client.get(path)))


def _statuses(client: Client, *paths: str) -> list[int]:
    return [client.get(path).status_code for path in paths]


# -- Flask-RESTX ----------------------------------------------------------------------------


def test_flask_restx_counts_resources_by_class_and_not_its_documentation(tmp_path: Path) -> None:
    client = restx_app.create_app(_config(tmp_path)).test_client()
    assert _statuses(client, "/process-instance", "/process-instance", "/process-instance/abc") == [200] * 3
    docs = _statuses(client, "/docs", "/swagger.json", "/swaggerui/swagger-ui-bundle.js", "/swaggerui/droid-sans.css")
    assert docs == [200] * 4
    assert client.get("/").status_code == 404  # the API root (a route of Flask-RESTX's)
    assert client.get("/no-such-route").status_code == 404
    assert _read(client)[0] == {"QueryProcessInstancesCmd": 2, "GetProcessInstanceCmd": 1}


# -- flask-smorest ---------------------------------------------------------------------------


def test_flask_smorest_counts_views_and_not_its_documentation(tmp_path: Path) -> None:
    client = smorest_app.create_app(_config(tmp_path)).test_client()
    assert _statuses(client, "/process-instance", "/process-instance", "/process-instance/abc") == [200] * 3
    assert _statuses(client, "/docs/openapi.json", "/docs/swagger-ui", "/docs/redoc") == [200] * 3
    assert _read(client)[0] == {"QueryProcessInstancesCmd": 2, "engine_get_process_instance": 1}


# -- Connexion 3 -----------------------------------------------------------------------------


def query_process_instances() -> list[str]:
    return []


def get_process_instance(instance_id: str) -> dict[str, str]:
    return {"id": instance_id}


def start_process_instance(key: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    return {"key": key, **body}, 200


def _operation(function: str, **spec: Any) -> dict[str, Any]:
    return {"operationId": f"{__name__}.{function}", "responses": {"200": {"description": "OK"}}, **spec}


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


START_BODY = {"type": "object", "required": ["businessKey"], "properties": {"businessKey": {"type": "string"}}}
#: The API: three operations whose functions are the ones above.
ENGINE_API = {
    "openapi": "3.0.3",
    "info": {"title": "Engine", "version": "1"},
    "paths": {
        "/process-instance": {"get": _operation("query_process_instances")},
        "/process-instance/{instance_id}": {
            "get": _operation("get_process_instance", parameters=[_path_parameter("instance_id")]),
        },
        "/process-definition/key/{key}/start": {
            "post": _operation(
                "start_process_instance",
                parameters=[_path_parameter("key")],
                requestBody={"required": True, "content": {"application/json": {"schema": START_BODY}}},
            ),
        },
    },
}


def test_connexion_counts_operations_by_function_and_not_its_documentation(tmp_path: Path) -> None:
    app = connexion_app.create_app(ENGINE_API, _config(tmp_path))
    with app.test_client() as client:  # type: ignore[no-untyped-call]  # Connexion has no type hints
        for path in ("/process-instance", "/process-instance", "/process-instance/abc"):
            assert client.get(f"/engine-rest{path}").status_code == 200
        start = "/engine-rest/process-definition/key/invoice/start"
        assert client.post(start, json={"businessKey": "b-1"}).status_code == 200
        assert client.post(start, json={}).status_code == 400  # refused by Connexion: never reaches the view
        for path in ("/openapi.json", "/ui/", "/ui/swagger-ui-bundle.js", "/ui/swagger-ui.css"):
            assert client.get(f"/engine-rest{path}").status_code == 200
        assert client.get("/engine-rest/no-such-operation").status_code == 404
        commands = counts(client.get("/telemetry/data").json())[0]
    assert commands == {"query_process_instances": 2, "get_process_instance": 1, "start_process_instance": 1}


# -- Flask-Login -----------------------------------------------------------------------------


def test_flask_login_decides_who_reads_and_its_views_count(tmp_path: Path) -> None:
    client = login_app.create_app({**_config(tmp_path), "SECRET_KEY": "test"}).test_client()
    assert _statuses(client, "/telemetry/data", "/process-instance") == [401, 401]  # nobody signed in
    assert client.post("/login", data={"user": "demo"}).status_code == 204
    assert _statuses(client, "/telemetry/data", "/process-instance") == [403, 200]  # not an admin
    assert client.post("/login", data={"user": "admin"}).status_code == 204
    assert _read(client)[0] == {"login": 2, "query_process_instances": 2}  # a view refusing is counted


# -- flask-cors ------------------------------------------------------------------------------


def test_flask_cors_preflights_are_never_commands(tmp_path: Path) -> None:
    client = cors_app.create_app(_config(tmp_path)).test_client()
    origin = {"Origin": cors_app.UI}
    start = "/process-definition/key/invoice/start"
    for path, method in (("/process-instance", "GET"), (start, "POST")):  # CORS(app), then @cross_origin()
        preflight = client.options(path, headers={**origin, "Access-Control-Request-Method": method})
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == cors_app.UI
    assert client.get("/process-instance", headers=origin).headers["Access-Control-Allow-Origin"] == cors_app.UI
    assert client.post(start, headers=origin).headers["Access-Control-Allow-Origin"] == cors_app.UI
    assert client.post(start, headers=origin).status_code == 200
    assert _read(client)[0] == {"query_process_instances": 1, "StartProcessInstanceCmd": 2}


# -- async views -----------------------------------------------------------------------------


def test_async_views_count_like_any_view(tmp_path: Path) -> None:
    client = async_app.create_app(_config(tmp_path)).test_client()
    start = "/process-definition/key/invoice/start"

    def serve() -> Counts:
        assert [client.post(start).status_code for _ in range(3)] == [200] * 3
        assert _statuses(client, "/deployment", "/process-instance", "/process-instance") == [200] * 3
        return _read(client)

    # In a thread of its own, as a WSGI server's: an async view runs its coroutine with asgiref,
    # which refuses a thread whose event loop runs (the session's Playwright browser runs one here).
    with ThreadPoolExecutor(1) as pool:
        commands, metrics = pool.submit(serve).result()
    assert commands == {"StartProcessInstanceCmd": 3, "GetDeploymentsCmd": 1, "query_process_instances": 2}
    assert metrics["root-process-instance-start"] == 3


# -- DispatcherMiddleware --------------------------------------------------------------------


def test_apps_under_a_dispatcher_count_their_own_commands(tmp_path: Path) -> None:
    engines = {"/engine-a": _config(tmp_path, "a"), "/engine-b": _config(tmp_path, "b")}
    client = Client(dispatcher_app.create_application(engines))
    paths = ("/engine-a/process-instance", "/engine-a/process-instance", "/engine-b/process-instance", "/")
    assert _statuses(client, *paths) == [200] * 4
    assert _read(client, "/engine-a/telemetry/data")[0] == {"query_process_instances": 2}
    assert _read(client, "/engine-b/telemetry/data")[0] == {"query_process_instances": 1}
    assert client.get("/telemetry/data").status_code == 404  # the front app has no extension


def test_every_recipe_is_shown_in_the_docs_and_run_here() -> None:
    """docs/frameworks.rst includes each file of docs/recipes/ whole, and this module runs each."""
    page = (DOCS / "frameworks.rst").read_text()
    files = sorted(path.name for path in (DOCS / "recipes").glob("*.py"))
    whole = "\n   :language: python\n\n"  # no :lines: or :pyobject: that would show a part
    assert [name for name in files if f".. literalinclude:: recipes/{name}{whole}" not in page] == []
    assert sorted(f"{module.__name__.rpartition('.')[2]}.py" for module in RECIPES) == files
