"""What Gson writes, as Camunda 7.14-7.21 set it up, and the order Java's hash tables iterate in.

Camunda's ``JsonUtil.createGsonMapper()`` is ``new GsonBuilder().serializeNulls()`` plus a Map
*deserializer* (no effect on writing), and ``JsonUtil.asString(data)`` is ``gsonMapper.toJson(data)``
(camunda/camunda-bpm-platform, engine/src/main/java/org/camunda/bpm/engine/impl/util/JsonUtil.java).
So the text is Gson's defaults: compact, an object's fields in their Java declaration order, nulls
written, HTML-safe escaping (``<``, ``>``, ``&``, ``=``, ``'`` as ``\\u003c`` ...), maps and sets in
their iteration order, and a ``java.util.Date`` in ``DateFormat.getDateTimeInstance(DEFAULT,
DEFAULT, Locale.US)`` of the JVM's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["gson_date", "hash_order", "java_hash", "set_order", "to_json"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: java.util.HashMap's TREEIFY_THRESHOLD: a bucket this full would iterate in another order.
_TREEIFY = 8
#: com.google.gson.stream.JsonWriter's replacements (HTML_SAFE_REPLACEMENT_CHARS, which Gson uses
#: unless disableHtmlEscaping() was called; Camunda never calls it).
_ESCAPES = {
    **{chr(c): f"\\u{c:04x}" for c in range(0x20)},
    "\t": "\\t", "\b": "\\b", "\n": "\\n", "\r": "\\r", "\f": "\\f", '"': '\\"', "\\": "\\\\",
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027",
    "\u2028": "\\u2028", "\u2029": "\\u2029",
}


def gson_date(value: dt.datetime, jdk: int = 17) -> str:
    """A date as Gson's default DateFormat (en-US) writes its wall-clock time on JDK ``jdk``:
    ``Jan 7, 2025 9:12:44 AM`` (JDK 8), a comma after the year from JDK 9 (CLDR data), a narrow
    no-break space (U+202F) before AM/PM from JDK 20 (CLDR 42)."""
    hour = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    comma = "," if jdk >= 9 else ""
    space = "\u202f" if jdk >= 20 else " "
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}{comma} {hour}:{value:%M:%S}{space}{half}"


def java_hash(text: str) -> int:
    """``String.hashCode()``: over UTF-16 code units, in 32-bit two's complement."""
    h = 0
    units = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def hash_order(keys: Sequence[str], capacity: int | None = None) -> list[str]:
    """``keys``, put in this order into a ``java.util.HashMap``, in the order it iterates them:
    by bucket (``hash ^ hash >>> 16``, masked by the table size), and within a bucket in the
    order they were put (a resize splits a bucket keeping that order). ``capacity``: the table
    size; by default what puts into ``new HashMap<>()`` grow it to (16, doubled past 3/4 full)."""
    if capacity is None:
        capacity = 16
        while len(keys) > capacity * 3 // 4:
            capacity *= 2

    def bucket(key: str) -> int:
        h = java_hash(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    buckets = [bucket(key) for key in keys]
    assert all(buckets.count(b) < _TREEIFY for b in set(buckets)), "a tree bin: another order"
    return sorted(keys, key=bucket)  # stable: put order within a bucket


def set_order(values: Sequence[str]) -> list[str]:
    """A ``new HashSet<>(collection)``'s iteration order: its table is sized for the collection
    (``max(size / .75 + 1, 16)``, rounded up to a power of two)."""
    capacity = 16
    while capacity < max(int(len(values) / 0.75) + 1, 16):
        capacity *= 2
    return hash_order(values, capacity)


def _string(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def to_json(value: Any) -> str:
    """``value`` as Gson writes it: dicts in their (given) order, nulls written, no spaces."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_string(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise TypeError(f"Gson writes no {type(value).__name__} here")
