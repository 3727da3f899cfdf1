"""The two tables: Camunda's property table layout, and the shared counts.

A table name with capitals is emitted unquoted (``quote=False``), exactly as Camunda's own
create scripts write them, so ``ACT_GE_PROPERTY`` resolves the way the database folds it (lower
case on PostgreSQL, as written on MariaDB) and the extension can read a table Camunda created.
Such a name may not be a reserved word of SQL (``ORDER``), which would be a syntax error
unquoted. A name in lower case is quoted where the dialect needs it (SQLAlchemy's ``quote=None``),
which on every backend names the same table as unquoted: ``order``, ``select`` and ``user``
work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Integer, MetaData, PrimaryKeyConstraint, String, Table

from ..exceptions import ConfigurationError


@functools.cache
def reserved_words() -> frozenset[str]:
    """Words a table name with capitals may not be (in any case): reserved on some backend. The
    dialects are imported only to read their lists, and only when a name has capitals."""
    from sqlalchemy.dialects.mysql.reserved_words import RESERVED_WORDS_MARIADB, RESERVED_WORDS_MYSQL
    from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS as RESERVED_WORDS_POSTGRESQL
    from sqlalchemy.dialects.sqlite.base import SQLiteIdentifierPreparer
    from sqlalchemy.sql.compiler import RESERVED_WORDS

    return frozenset(
        word.lower()
        for words in (RESERVED_WORDS, RESERVED_WORDS_POSTGRESQL, RESERVED_WORDS_MYSQL, RESERVED_WORDS_MARIADB,
                      SQLiteIdentifierPreparer.reserved_words)
        for word in words
    )


def _quote(name: str) -> bool | None:
    """``quote=`` for a table name: None (as the dialect needs) in lower case, else unquoted."""
    return None if name == name.lower() else False


def check_table_name(key: str, name: str) -> None:
    """Raise ConfigurationError naming ``key`` when ``name`` has capitals and is a reserved word
    (emitted unquoted, it would be a syntax error at every read)."""
    if name != name.lower() and name.lower() in reserved_words():
        raise ConfigurationError(
            key, name, f"a name with capitals is written unquoted, as Camunda's scripts do, and {name!r} is a "
            f"reserved word of SQL; write it in lower case ({name.lower()!r}: quoted where the database needs "
            "it) or choose another name"
        )


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
        quote=_quote(name),
    )


def _count_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("kind", String(16), nullable=False),
        Column("name", String(255), nullable=False),
        Column("total", BigInteger, nullable=False),
        PrimaryKeyConstraint("kind", "name", name=f"pk_{name.lower()}"),
        quote=_quote(name),
    )


def _get_or_define(metadata: MetaData, key: str, name: str, columns: tuple[str, ...], define: object) -> Table:
    check_table_name(key, name)
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
