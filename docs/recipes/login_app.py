"""Flask-Login: only a signed-in admin reads the telemetry; the ``authorize`` hook asks
``current_user`` (tests/test_frameworks.py runs this file)."""

from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user

from flask_camunda_telemetry import AuthenticationRequired, AuthorizationDenied, TelemetryExt

login_manager = LoginManager()


def authorize_admins() -> bool:
    """Anonymous: 401; a signed-in user who is not an admin: 403; an admin may read."""
    if not current_user.is_authenticated:
        raise AuthenticationRequired()
    if not current_user.is_admin:
        raise AuthorizationDenied(current_user.get_id())
    return True


class User(UserMixin):
    def __init__(self, user_id: str, is_admin: bool) -> None:
        self.id, self.is_admin = user_id, is_admin


USERS = {"demo": User("demo", is_admin=False), "admin": User("admin", is_admin=True)}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return USERS.get(user_id)


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(config)  # with a SECRET_KEY for the session
    login_manager.init_app(app)

    @app.post("/login")
    def login() -> tuple[str, int]:
        user = USERS.get(request.form.get("user", ""))
        return ("", 204) if user is not None and login_user(user) else ("", 401)

    @app.get("/process-instance")
    @login_required
    def query_process_instances() -> list[str]:
        return []

    TelemetryExt(app, authorize=authorize_admins)
    return app
