"""What can be counted and stored: names and numbers, checked once, before they reach memory.

A name is stored in a ``VARCHAR(255)`` column and a total in a ``BIGINT``: a name is a non-empty
string of at most 255 printable characters (no control characters, no lone surrogates, which no
database encoding can hold), and one call counts at most :data:`MAX_COUNT`, so totals stay far
below what a ``BIGINT`` holds (more than 9 billion calls at the maximum each).

A name the app derives from an endpoint (or a view class) is made safe instead of refused
(:func:`safe_name`): unprintable characters are escaped (``\\x00``), and a name still too long is
cut to 246 characters followed by ``~`` and 8 hex digits of its SHA-256 (stable across processes
and hosts, distinct for distinct endpoints).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import hashlib
import re
from typing import TypeGuard

from ..exceptions import InvalidCountError

#: The longest name the counts table holds (``VARCHAR(255)``).
MAX_NAME_LENGTH = 255
#: The most one call may count.
MAX_COUNT = 1_000_000_000
#: The largest total a ``BIGINT`` column holds.
BIGINT_MAX = 2**63 - 1

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_DIGEST = 8


def storable(name: object) -> TypeGuard[str]:
    """Whether ``name`` is a non-empty, not blank string of at most 255 printable characters."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME_LENGTH
        and not name.isspace()
        and _UNPRINTABLE.search(name) is None
    )


def validate_command_name(name: object) -> str:
    """``name`` if it is :func:`storable`; else :class:`~.InvalidCountError` saying what to pass."""
    if not storable(name):
        raise InvalidCountError(
            f"command name {name!r} is invalid: use a non-empty string of at most {MAX_NAME_LENGTH} printable "
            "characters, such as 'StartProcessInstanceCmd'"
        )
    return name


def checked_count(n: object, what: str = "n") -> int:
    """``n`` if it is an int from 1 to :data:`MAX_COUNT` (not a bool); else :class:`~.InvalidCountError`."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_COUNT:
        raise InvalidCountError(
            f"{what}={n!r} is invalid: expected a positive integer of at most {MAX_COUNT:,} (one call's count); "
            "count more in several calls"
        )
    return n


def _escape(char: str) -> str:
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def safe_name(name: str) -> str:
    """``name`` made :func:`storable`: unprintables escaped, a long name cut and suffixed with its
    digest. A storable name is returned as it is."""
    if storable(name):
        return name
    safe = _UNPRINTABLE.sub(lambda match: _escape(match[0]), name).strip() or "_"
    if len(safe) > MAX_NAME_LENGTH:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
        safe = f"{safe[: MAX_NAME_LENGTH - _DIGEST - 1]}~{digest}"
    return safe
