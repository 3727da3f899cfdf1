"""The package's one clock: the current time, and times as the counts table keeps them.

:func:`now` is what every date of the document, of a report and of the pages is made from (aware,
in the local time zone, as Camunda writes its dates). The counts table keeps times as integers:
microseconds since the epoch (:func:`to_us`, :func:`from_us`); :func:`now_us` reads the wall clock
in that unit.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import time

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def now() -> dt.datetime:
    """The current time, aware, in the local time zone."""
    return dt.datetime.now().astimezone()


def now_us() -> int:
    """The wall clock in microseconds since the epoch."""
    return time.time_ns() // 1000


def to_us(value: dt.datetime) -> int:
    """An aware datetime in microseconds since the epoch."""
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def from_us(micros: int) -> dt.datetime:
    """Microseconds since the epoch as an aware datetime in the local time zone."""
    return (_EPOCH + dt.timedelta(microseconds=micros)).astimezone()
