"""Request bodies as JSON, with a bound on how deeply they nest.

Python's parser recurses once per level: a body of 60,000 ``[`` exhausts the stack and raises
``RecursionError``, which is not a ``ValueError``, and code that walks the result recurses as
deeply. No body the package takes nests more than a few levels, so :func:`load_json` refuses one
nested deeper than :data:`MAX_DEPTH` as it refuses any other body that is not JSON.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import json
from typing import Any

from ..exceptions import TelemetryError

#: The deepest nesting of arrays and objects a body may have (Camunda's document has 5 levels).
MAX_DEPTH = 32


class JsonTooDeepError(TelemetryError, ValueError):
    """A JSON body nests arrays and objects deeper than :data:`MAX_DEPTH` (answered with a 400).

    .. versionadded:: 0.2.0
    """


def load_json(raw: str | bytes) -> Any:
    """The JSON value of ``raw``; raises ValueError saying what is wrong when it is not JSON, and
    :class:`JsonTooDeepError` (a ValueError too) when it nests deeper than :data:`MAX_DEPTH`."""
    too_deep = JsonTooDeepError(f"its arrays and objects are nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise too_deep from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise too_deep
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (walked with a stack, not by recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
