"""The dashboard's chart geometry and its escaping, without a browser."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from flask_camunda_telemetry.collector.charts import bar_rows, column_chart, compact, nice_ceiling

from .support.collector_app import make_collector_app
from .support.reports import engine_report


@given(st.integers(min_value=0, max_value=10**15))
def test_an_axis_top_is_at_least_the_largest_value_and_at_most_a_third_above(value: int) -> None:
    top = nice_ceiling(value)
    assert top >= max(value, 1)
    assert 3 * top <= 4 * value or value < 10


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=120))
def test_columns_stay_in_the_plot_and_their_heights_are_proportional(values: list[int]) -> None:
    chart = column_chart([(str(i), v) for i, v in enumerate(values)], tick_every=10)
    top = nice_ceiling(max(values))
    full = chart.bottom - min(y for y, _ in chart.grid)
    for column, value in zip(chart.columns, values, strict=True):
        assert chart.left <= column.x and column.x + column.width <= chart.width
        assert abs(column.y + column.height - chart.bottom) < 0.02
        assert abs(column.height - full * value / top) < 0.02
    assert [label for _, label in chart.ticks] == [str(i) for i in range(0, len(values), 10)]


def test_bars_are_relative_to_the_largest_and_the_tail_is_summed() -> None:
    rows = bar_rows([("7.22.0", 40), ("7.21.0", 10), (None, 5), ("7.20.0", 2), ("7.19.0", 1)], limit=3)
    assert [(r.label, r.value, r.share, r.other) for r in rows] == [
        ("7.22.0", 40, 100.0, False), ("7.21.0", 10, 25.0, False), ("(not reported)", 5, 12.5, False),
        ("2 other values", 3, 7.5, True),
    ]
    assert bar_rows([]) == []
    assert [compact(n) for n in (9_999, 10_000, 2_500_000)] == ["9,999", "10k", "2.5M"]


def test_every_value_from_a_report_is_escaped_in_both_pages(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    markup = '<img src=x onerror="alert(1)">'
    report = engine_report(installation="inst-<b>1</b>", commands={markup: 5}, version="7.22<i>x</i>",
                           database=(markup, "1"), server=(markup, "1"), runtime=("1", markup), customer=markup)
    client = app.test_client()
    assert client.post("/collector/pings", json=report).status_code == 202
    for url in ("/collector/", "/collector/installations/inst-%3Cb%3E1%3C/b%3E"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        assert "<img" not in html and "<b>" not in html and "<i>" not in html
        assert "&lt;img src=x onerror=" in html
