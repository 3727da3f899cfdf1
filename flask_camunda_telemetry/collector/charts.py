"""Chart geometry for the dashboard, computed on the server; the templates draw it as SVG.

No value from a report is placed in the SVG unescaped: the templates write labels through
Jinja's autoescaping, and only numbers computed here go into attributes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: The widest a column gets (a chart of a few reports has a few slim columns, not slabs).
MAX_COLUMN = 28.0


@dataclass(frozen=True)
class Bar:
    """One row of a bar table: ``share`` is the bar's length, 0 to 100, relative to the largest."""

    label: str
    value: int
    share: float
    other: bool = False


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    columns: list[Column]
    #: (y, text) of each horizontal grid line
    grid: list[tuple[float, str]]
    #: (x, text) of each label under the axis
    ticks: list[tuple[float, str]]
    left: float
    bottom: float


def bar_rows(items: Iterable[tuple[str | None, int]], limit: int = 12, unknown: str = "(not reported)") -> list[Bar]:
    """Bars for ``(label, value)`` pairs (largest first); past ``limit`` they are summed in one row."""
    pairs = [(unknown if label is None or label == "" else label, value) for label, value in items]
    rows = [(label, value, False) for label, value in pairs[:limit]]
    rest = pairs[limit:]
    if rest:
        rows.append((f"{len(rest)} other values", sum(value for _, value in rest), True))
    top = max((value for _, value, _ in rows), default=0) or 1
    return [Bar(label, value, round(100 * value / top, 2), other) for label, value, other in rows]


def nice_ceiling(value: int) -> int:
    """The top of an axis: the smallest of 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, ... at least ``value``."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    tops = (float(step * magnitude) for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10))
    return min(int(top) for top in tops if top.is_integer() and top >= value)


def compact(value: int) -> str:
    """An axis label: ``950``, ``9,500``, ``95k``, ``9.5M``, ``20M``."""
    if value < 10_000:
        return f"{value:,}"
    for size, unit in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def column_chart(
    points: Sequence[tuple[str, int]], tick_every: int, width: int = 960, height: int = 220
) -> ColumnChart:
    """One column per ``(label, value)``, left to right; every ``tick_every``-th label under the axis."""
    left, top, bottom = 48.0, 8.0, float(height - 26)
    plot_width = width - left - 8
    ceiling = nice_ceiling(max((value for _, value in points), default=0))
    slot = plot_width / max(len(points), 1)
    scale = (bottom - top) / ceiling
    width_each = min(slot * 0.8, MAX_COLUMN)
    columns = [
        Column(
            x=round(left + i * slot + (slot - width_each) / 2, 2),
            y=round(bottom - value * scale, 2),
            width=round(width_each, 2),
            height=round(value * scale, 2),
            label=label,
            value=value,
        )
        for i, (label, value) in enumerate(points)
    ]
    levels = [f * ceiling for f in (0, 0.5, 1) if f * ceiling % 1 == 0]
    grid = [(round(bottom - level * scale, 2), compact(int(level))) for level in levels]
    ticks = [(round(left + i * slot + slot / 2, 2), label) for i, (label, _) in enumerate(points) if not i % tick_every]
    return ColumnChart(width, height, columns, grid, ticks, left, bottom)
