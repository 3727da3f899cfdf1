"""Database URIs checked at ``init_app``, without connecting.

A URI SQLAlchemy cannot parse, a backend it does not know (``foo://``), a driver that is not
installed, or an asyncio driver (``postgresql+asyncpg://``, ``sqlite+aiosqlite://``: the
extension's reads and flushes are synchronous) would pass ``init_app`` and fail every read later.
:func:`check_database_uri` loads the dialect and imports its driver module, as the first
connection would, and opens nothing.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ..exceptions import ConfigurationError

_CREDENTIALS = re.compile(r"(://[^/@:]*:)[^/@]*@")


def _shown(uri: object, url: URL | None = None) -> object:
    """``uri`` as an error may show it: without the password."""
    if url is not None:
        return url.render_as_string(hide_password=True)
    return _CREDENTIALS.sub(r"\1***@", uri) if isinstance(uri, str) else uri


def _driver_loader(dialect: type[Dialect]) -> Callable[[], object]:
    """What ``create_engine`` calls to import the driver module (a third-party dialect written
    for SQLAlchemy 1.4 has the older ``dbapi()`` classmethod)."""
    legacy = getattr(dialect, "dbapi", None)
    if "import_dbapi" not in vars(dialect) and inspect.ismethod(legacy):
        return legacy
    return dialect.import_dbapi


def check_database_uri(key: str, uri: object) -> None:
    """Return when the extension can open ``uri`` later; else raise a ConfigurationError naming ``key``:
    unparsable, an unknown backend or driver, a driver that is not installed, or an asyncio one.

    .. versionadded:: 0.2.0
    """
    if not isinstance(uri, (str, URL)):
        raise ConfigurationError(key, uri, "expected a database URI such as 'postgresql+psycopg://user@host/db'")
    try:
        url = make_url(uri)
    except (ArgumentError, ValueError):
        raise ConfigurationError(
            key, _shown(uri), "expected a database URI such as 'postgresql+psycopg://user@host/db' or "
            "'sqlite:///telemetry.sqlite'"
        ) from None
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise ConfigurationError(
            key, _shown(uri, url), f"SQLAlchemy knows no database {url.drivername!r}; use one such as "
            "'sqlite', 'postgresql+psycopg' or 'mysql+pymysql'"
        ) from None
    if getattr(dialect, "is_async", False):
        raise ConfigurationError(
            key, _shown(uri, url), f"{url.drivername!r} is an asyncio driver and the extension reads and "
            "writes synchronously; name a synchronous one (such as 'postgresql+psycopg', 'sqlite', "
            "'mysql+pymysql')"
        )
    try:
        _driver_loader(dialect)()
    except (ImportError, NotImplementedError) as exc:
        raise ConfigurationError(
            key, _shown(uri, url), f"the driver of {url.drivername!r} cannot be imported ({exc}); install it, "
            "or name a driver that is installed"
        ) from None


def parse_database_uri(key: str, value: object) -> str | None:
    """The parser of a ``DATABASE_URI`` key: None, or a URI :func:`check_database_uri` accepts.

    .. versionadded:: 0.2.0
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(key, value, "expected a database URI or None")
    check_database_uri(key, value)
    return value
