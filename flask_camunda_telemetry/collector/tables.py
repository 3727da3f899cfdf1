"""The collector's five tables.

* ``<prefix>_report``: one row per report, with the fields the dashboard groups by, the
  document as received (JSON text), ``report_key``, a digest of what identifies the report as
  sent (its report id, else its start date, else the document), and ``node``, which tells apart
  the reports stored under one key (the nodes of a cluster that started in the same second);
* ``<prefix>_count``: the report's commands and metrics, one row each, for the database to sum;
* ``<prefix>_installation``: one row per installation (first and last report, how many, the
  latest report's product and environment);
* ``<prefix>_usage``: the counts summed per day received, product version, kind and name, plus
  the number of reports per day and version (kind ``report``);
* ``<prefix>_declined``: one row per installation whose owner did not agree to report, yet whose
  engine sent its one-time initial message (Camunda 7.14-7.16): kept apart, never counted.

The installation and usage tables are summaries kept up to date in the transaction that stores
a report (the overview reads them instead of every report); ``flask telemetry-collector rebuild``
recomputes them from the reports. Sums of counts are :class:`~.exact.ExactTotal` (exact however
large); ``installation.reports`` counts report rows, so it cannot outgrow a ``BIGINT``.

Times are naive UTC. Names are at most 255 characters (the receiving side enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

from ..exceptions import ConfigurationError
from .exact import ExactTotal

#: The longest name (installation, command, product version, ...) a column holds.
NAME_LENGTH = 255
#: ``report_key`` is a hex digest of this many characters.
KEY_LENGTH = 32

_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
_Time = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_Document = Text().with_variant(mysql.LONGTEXT, "mysql", "mariadb")


@dataclass(frozen=True)
class CollectorTables:
    report: Table
    count: Table
    installation: Table
    usage: Table
    declined: Table

    def all(self) -> tuple[Table, ...]:
        """In the order they can be created."""
        return (self.report, self.count, self.installation, self.usage, self.declined)


# Names compare exactly, also on MariaDB/MySQL (whose default collation ignores case).
_Name = String(NAME_LENGTH).with_variant(
    mysql.VARCHAR(NAME_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


def _name(column: str, nullable: bool = True) -> Column[str]:
    return Column(column, _Name, nullable=nullable)


def _environment() -> list[Column[str]]:
    """The fields the dashboard groups installations by (of a report, or an installation's latest)."""
    return [
        _name("product_name", False),
        _name("product_version", False),
        _name("edition", False),
        _name("database_vendor"),
        _name("server_vendor"),
        _name("runtime"),
    ]


def define_tables(metadata: MetaData, prefix: str) -> CollectorTables:
    """The tables in ``metadata``. Tables already defined there by a collector (another app on
    the same ``db``) are reused; a table of another shape under one of the names is an error."""
    names = [f"{prefix}_{suffix}" for suffix in ("report", "count", "installation", "usage", "declined")]
    scratch = _define(MetaData(), names)
    for name, table in zip(names, scratch.all(), strict=True):
        existing = metadata.tables.get(name)
        if existing is not None and set(existing.c.keys()) != set(table.c.keys()):
            raise ConfigurationError(
                "CAMUNDA_TELEMETRY_COLLECTOR_TABLE_PREFIX", prefix,
                f"a table {name!r} of another shape is already defined in this metadata; choose another prefix",
            )
    defined = [name in metadata.tables for name in names]
    if all(defined):
        return CollectorTables(*(metadata.tables[name] for name in names))
    if any(defined):
        raise ConfigurationError(
            "CAMUNDA_TELEMETRY_COLLECTOR_TABLE_PREFIX", prefix,
            "some of its tables are already defined in this metadata; choose another prefix",
        )
    return _define(metadata, names)


def _define(metadata: MetaData, names: list[str]) -> CollectorTables:
    report = Table(
        names[0], metadata,
        Column("id", _Id, primary_key=True, autoincrement=True),
        _name("installation", False),
        Column("report_key", String(KEY_LENGTH), nullable=False),
        Column("node", Integer, nullable=False),
        Column("rev", Integer, nullable=False),
        Column("received_at", _Time, nullable=False),
        Column("period_start", _Time),
        *_environment(),
        Column("commands", ExactTotal, nullable=False),
        Column("document", _Document, nullable=False),
        UniqueConstraint("installation", "report_key", "node", name=f"uq_{names[0]}_key"),
        Index(f"ix_{names[0]}_installation", "installation", "received_at"),
        Index(f"ix_{names[0]}_received", "received_at"),
    )
    count = Table(
        names[1], metadata,
        Column("report_id", _Id, nullable=False),
        Column("kind", String(8), nullable=False),
        _name("name", False),
        Column("value", BigInteger, nullable=False),
        PrimaryKeyConstraint("report_id", "kind", "name", name=f"pk_{names[1]}"),
    )
    installation = Table(
        names[2], metadata,
        _name("installation", False),
        Column("first_report", _Time, nullable=False),
        Column("last_report", _Time, nullable=False),
        Column("reports", BigInteger, nullable=False),
        *_environment(),
        PrimaryKeyConstraint("installation", name=f"pk_{names[2]}"),
        Index(f"ix_{names[2]}_last", "last_report", "installation"),  # the list's order (see .paging)
    )
    usage = Table(
        names[3], metadata,
        Column("day", Date, nullable=False),
        _name("product_version", False),
        Column("kind", String(8), nullable=False),
        _name("name", False),
        Column("total", ExactTotal, nullable=False),
        PrimaryKeyConstraint("day", "product_version", "kind", "name", name=f"pk_{names[3]}"),
    )
    return CollectorTables(report, count, installation, usage, _declined(metadata, names[4]))


def _declined(metadata: MetaData, name: str) -> Table:
    return Table(
        name, metadata,
        _name("installation", False),
        Column("first_message", _Time, nullable=False),
        Column("last_message", _Time, nullable=False),
        Column("messages", BigInteger, nullable=False),
        _name("product_version", False),
        Column("consent", String(8), nullable=False),  # "false", or "null" (undecided)
        PrimaryKeyConstraint("installation", name=f"pk_{name}"),
    )
