"""The two kinds of counts a document carries, declared once, and the counts one document shows.

Commands and metrics are counted, stored, reported and received alike; :class:`Kind` names them
wherever a table row, a report or a collector's summary must say which of the two it holds.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """What a count counts: a command's executions or an engine metric's occurrences."""

    COMMAND = "command"
    METRIC = "metric"


@dataclass(frozen=True)
class Counts:
    """Counts by name since ``start``: commands, and metrics by internal name."""

    commands: Mapping[str, int]
    metrics: Mapping[str, int]
    start: dt.datetime

    def of(self, kind: Kind) -> Mapping[str, int]:
        """The counts of one kind."""
        return self.commands if kind is Kind.COMMAND else self.metrics

    def by_kind(self) -> dict[Kind, Mapping[str, int]]:
        """``{Kind.COMMAND: commands, Kind.METRIC: metrics}``."""
        return {Kind.COMMAND: self.commands, Kind.METRIC: self.metrics}
