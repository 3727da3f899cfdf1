"""What the page shows, worked out from the document, the config and reporting.

The templates only print these values (loops and conditions, no arithmetic): numbers come
formatted, commands come sorted and filtered, times come with their relative form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from markupsafe import Markup

from ..document.metrics import INTERNAL_NAMES, output_name

if TYPE_CHECKING:
    from ..config import TelemetryConfig
    from ..document.model import Internals, TelemetryData
    from ..reporting.reporter import Reporting

#: What each metric counts, by internal name.
METRIC_LABELS = {
    "root-process-instance-start": "Root process instances started",
    "activity-instance-start": "Activity instances started",
    "executed-decision-instances": "Decision instances evaluated",
    "executed-decision-elements": "Decision elements evaluated",
}


class Moment(NamedTuple):
    """A point in time as the page prints it."""

    iso: str
    text: str
    relative: str


@dataclass(frozen=True)
class Commands:
    """The command table: ``rows`` (those matching ``query``, by count, largest first) as HTML."""

    rows: Markup
    #: how many rows ``rows`` holds.
    shown: int
    #: the sum of every command's count, and how many names there are (whatever the query).
    total: int
    distinct: int
    query: str


class Metric(NamedTuple):
    name: str
    label: str
    value: int
    value_text: str


@dataclass(frozen=True)
class ConsentSection:
    """The consent section when a collector is configured."""

    host: str
    #: True, False or None (undecided).
    value: bool | None
    last_at: Moment | None
    last_status: int | None
    last_error: str | None
    next_due: Moment | None


@dataclass(frozen=True)
class PageContext:
    data: TelemetryData
    internals: Internals
    #: the data collection start date.
    started: Moment
    commands: Commands
    metrics: list[Metric]
    #: None: no collector is configured, nothing is ever sent.
    consent: ConsentSection | None
    #: REDACT_LICENSE hides the license's customer and raw key.
    redacted: bool
    openapi_url: str | None
    generated_at: Moment
    #: whose counts these are ("every process on this database", "this process only").
    covers: str
    #: how fresh other processes' counts are (None: no other process's counts are shown).
    freshness: str | None


def relative_time(moment: dt.datetime, now: dt.datetime) -> str:
    """``moment`` as a person says it relative to ``now``: "3 days ago", "in 5 minutes"."""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "just now"
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if size >= length:
            n = int(size // length)
            amount = f"{n:,} {unit}" + ("" if n == 1 else "s")
            return f"in {amount}" if seconds > 0 else f"{amount} ago"
    raise AssertionError("unreachable")  # pragma: no cover


def moment(when: dt.datetime, now: dt.datetime) -> Moment:
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    zone = when.tzname()
    return Moment(when.isoformat(), f"{text} {zone}" if zone else text, relative_time(when, now))


def collector_host(url: str) -> str:
    """The host (and port) of the collector's URL, without credentials, path or query."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


def _rows(items: list[tuple[str, int]], total: int, largest: int) -> Markup:
    """The table's rows; a bar's full length is ``largest``. Written here rather than in the
    template: 10,000 rows take a fraction of the time Jinja needs for them. A name that is an
    identifier holds nothing to escape (most are: ``StartProcessInstanceCmd``)."""
    percent = 100 / total if total else 0.0
    return Markup("".join([
        f'<tr><th scope="row">{name if name.isidentifier() else escape(name)}</th>'
        f'<td class="num"><data value="{runs}">{runs:,}</data></td>'
        f'<td class="share"><meter max="{largest}" value="{runs}" aria-hidden="true"></meter> '
        f'{"&lt;0.1" if 0 < runs * percent < 0.05 else format(runs * percent, ".1f")}%</td></tr>'
        for name, runs in items
    ]))


def command_table(counts: list[tuple[str, int]], query: str) -> Commands:
    """``counts`` (name, count) in the document's order (by name) as a table by count, largest first."""
    total = sum(map(itemgetter(1), counts))
    largest = max(map(itemgetter(1), counts), default=0)
    needle = query.casefold()
    items = [item for item in counts if needle in item[0].casefold()] if needle else list(counts)
    items.sort(key=itemgetter(1), reverse=True)  # stable: equal counts stay in name order
    return Commands(_rows(items, total, largest), len(items), total, len(counts), query)


def _consent(reporting: Reporting | None, now: dt.datetime) -> ConsentSection | None:
    if reporting is None:
        return None
    status = reporting.status()
    return ConsentSection(
        host=collector_host(reporting.report_url),
        value=reporting.consent(),
        last_at=None if status.last_at is None else moment(status.last_at, now),
        last_status=status.last_status,
        last_error=status.last_error,
        next_due=None if status.next_due is None else moment(status.next_due, now),
    )


def page_context(
    data: TelemetryData,
    config: TelemetryConfig,
    reporting: Reporting | None,
    *,
    query: str,
    openapi_url: str | None,
    now: dt.datetime,
    covers: str,
    shared: bool,
) -> PageContext:
    """Everything the page template prints. ``reporting.consent()`` may raise
    :class:`~flask_camunda_telemetry.DatabaseUnavailableError`, as ``collect()`` does."""
    internals = data.product.internals
    metrics = []
    for internal in INTERNAL_NAMES:
        name = output_name(internal, config.metric_names)
        count = internals.metrics[name].count
        metrics.append(Metric(name, METRIC_LABELS[internal], count, f"{count:,}"))
    commands = [(name, entry.count) for name, entry in internals.commands.items()]
    return PageContext(
        data=data,
        internals=internals,
        started=moment(internals.data_collection_start_date, now),
        commands=command_table(commands, query),
        metrics=metrics,
        consent=_consent(reporting, now),
        redacted=config.redact_license and internals.license_key is not None,
        openapi_url=openapi_url,
        generated_at=moment(now, now),
        covers=covers,
        freshness=(
            f"Other processes' counts are included as of their last successful flush (at most "
            f"{config.flush_interval:g} s ago while flushes succeed)." if shared else None
        ),
    )
