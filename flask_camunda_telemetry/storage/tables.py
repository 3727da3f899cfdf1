"""The two tables: Camunda's property table layout, and the shared counts.

Names are emitted unquoted (``quote=False``), exactly as Camunda's own create scripts write
them, so ``ACT_GE_PROPERTY`` resolves the way the database folds it (lower case on
PostgreSQL, as written on MariaDB) and the extension can read a table Camunda created.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Integer, MetaData, PrimaryKeyConstraint, String, Table

from ..exceptions import ConfigurationError

__all__ = ["TelemetryTables", "define_tables"]


@dataclass(frozen=True)
class TelemetryTables:
    property: Table
    count: Table


def _property_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("NAME_", String(64), quote=False, nullable=False),
        Column("VALUE_", String(300), quote=False),
        Column("REV_", Integer, quote=False),
        PrimaryKeyConstraint("NAME_", name=f"pk_{name.lower()}"),
        quote=False,
    )


def _count_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("kind", String(16), nullable=False),
        Column("name", String(255), nullable=False),
        Column("total", BigInteger, nullable=False),
        PrimaryKeyConstraint("kind", "name", name=f"pk_{name.lower()}"),
        quote=False,
    )


def _get_or_define(metadata: MetaData, key: str, name: str, columns: tuple[str, ...], define: object) -> Table:
    existing = metadata.tables.get(name)
    if existing is None:
        return define(metadata, name)  # type: ignore[operator, no-any-return]
    missing = [c for c in columns if c not in existing.c]
    if missing:
        raise ConfigurationError(
            key, name, f"a table of that name is already defined in this metadata without the columns {missing}; "
            "choose another name"
        )
    return existing


def define_tables(metadata: MetaData, property_table: str, count_table: str) -> TelemetryTables:
    """The tables in ``metadata``; a table already defined there under that name is reused.

    :raises ConfigurationError: naming the key whose table clashes with another definition.
    """
    return TelemetryTables(
        property=_get_or_define(
            metadata, "CAMUNDA_TELEMETRY_PROPERTY_TABLE", property_table, ("NAME_", "VALUE_", "REV_"), _property_table
        ),
        count=_get_or_define(
            metadata, "CAMUNDA_TELEMETRY_COUNT_TABLE", count_table, ("kind", "name", "total"), _count_table
        ),
    )
