"""The package's exceptions: one base class, one subclass per kind of failure."""

from __future__ import annotations

__all__ = [
    "AlreadyInitializedError",
    "AuthenticationRequired",
    "AuthorizationDenied",
    "ConfigurationError",
    "DatabasePermissionError",
    "DatabaseUnavailableError",
    "InvalidCountError",
    "LicenseKeyError",
    "NotInitializedError",
    "ReportRefusedError",
    "TableMissingError",
    "TelemetryError",
    "UnknownMetricError",
]


class TelemetryError(Exception):
    """Base class of every error raised by flask-camunda-telemetry."""


class ConfigurationError(TelemetryError, ValueError):
    """A ``CAMUNDA_TELEMETRY_*`` config value (or a constructor option) is invalid.

    Raised by ``init_app``; the message names the key, the value and what is allowed.
    """

    def __init__(self, key: str, value: object, expected: str, *, where: str = "in app.config") -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{key} = {_shown(value)} is invalid: {expected}. Fix it {where} before calling init_app.")


def _shown(value: object, limit: int = 120) -> str:
    """``repr(value)``, shortened in the middle past ``limit`` characters (``10**5000`` has no repr)."""
    try:
        text = repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits()
        return f"<an integer of {value.bit_length() if isinstance(value, int) else '?'} bits>"
    return text if len(text) <= limit else f"{text[: limit - 20]}...{text[-12:]} ({len(text)} characters)"


class LicenseKeyError(ConfigurationError):
    """``CAMUNDA_TELEMETRY_LICENSE_KEY`` cannot be parsed."""


class AlreadyInitializedError(TelemetryError, RuntimeError):
    """``init_app`` was called a second time for the same Flask app."""


class NotInitializedError(TelemetryError, RuntimeError):
    """The extension is used with an app on which ``init_app`` was never called."""


class UnknownMetricError(TelemetryError, KeyError):
    """``mark_occurrence`` was called with a metric name Camunda does not report."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class InvalidCountError(TelemetryError, ValueError):
    """A name or a number given to count (``count_command``, ``mark_occurrence``,
    ``@telemetry.command``) is not one that can be counted and stored; the message says what to pass.

    .. versionadded:: 0.2.0
    """


class DatabaseUnavailableError(TelemetryError):
    """The telemetry database cannot be used right now.

    Counts are kept in memory meanwhile and written once the database is back. The message says
    what is wrong and what to do, without SQL or driver text (it may be shown to a client);
    ``detail`` has the driver's own words, for the log and the command line.

    .. versionchanged:: 0.2.0 ``detail``; the message no longer carries the driver's text.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class DatabasePermissionError(DatabaseUnavailableError):
    """The database user lacks a privilege on the telemetry tables (or a SQLite file is
    read-only); the message says what to grant.

    .. versionadded:: 0.2.0
    """


class TableMissingError(DatabaseUnavailableError):
    """A telemetry table does not exist (and is not created automatically); the message says
    which command creates it.

    .. versionadded:: 0.2.0
    """


class AuthenticationRequired(TelemetryError):  # noqa: N818 - a signal raised by hooks
    """Raise from an ``authorize`` hook: the request is not authenticated (answers 401).

    ``challenge`` is the ``WWW-Authenticate`` header of the answer (default
    ``Bearer realm="telemetry"``); ``'Basic realm="..."'`` makes a browser ask for a password.

    .. versionchanged:: 0.2.0 ``challenge``.
    """

    def __init__(
        self, message: str = "Authentication is required to read the telemetry data.", *, challenge: str | None = None
    ) -> None:
        self.challenge = challenge
        super().__init__(message)


class AuthorizationDenied(TelemetryError):  # noqa: N818 - a signal raised by hooks
    """Raise from an ``authorize`` hook: the user may not read the data (answers 403).

    Returning ``False`` from the hook does the same without naming the user.
    """

    def __init__(self, user_id: str | None = None) -> None:
        self.user_id = user_id
        super().__init__(f"user {user_id!r} may not read the telemetry data")


class ReportRefusedError(TelemetryError, RuntimeError):
    """A report asked for now cannot be sent: no consent, an invalid document, or another
    process is sending one at this moment. The message says which, and what to do.

    .. versionadded:: 0.2.0
    """
