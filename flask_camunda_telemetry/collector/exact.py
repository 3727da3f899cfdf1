"""Totals that stay exact on every backend, however large the counts and however many reports.

A count is at most 2\\ :sup:`63`-1 (a ``BIGINT``), but a sum of counts is not: the totals are
``NUMERIC`` on PostgreSQL (no limit) and ``DECIMAL(65, 0)`` on MariaDB/MySQL (up to 10\\ :sup:`65`-1:
10\\ :sup:`42` reports of 10,000 names at 2\\ :sup:`63`-1 each). SQLite has no exact decimal: its
``SUM()`` raises "integer overflow" past 2\\ :sup:`63`-1 and ``TOTAL()`` is a float. There a total
is ``TEXT`` holding the decimal digits, added and summed by two functions in Python (exact
integers of any size) that :func:`prepare` registers on each connection the collector uses.

:class:`ExactTotal` is the column type (Python ``int`` in and out); :class:`exact_add` and
:class:`exact_sum` are ``a + b`` and ``SUM(x)`` everywhere and the Python functions on SQLite;
:func:`largest_first` orders by a total.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Numeric, Text, func
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["ExactTotal", "exact_add", "exact_sum", "largest_first", "prepare"]

_ADD, _SUM = "camunda_telemetry_exact_add", "camunda_telemetry_exact_sum"
_PREPARED = "camunda_telemetry_exact_functions"


class ExactTotal(TypeDecorator[int]):
    """A sum of counts: ``NUMERIC``, ``DECIMAL(65, 0)``, or decimal digits in SQLite's ``TEXT``."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DECIMAL(65, 0))
        return dialect.type_descriptor(Numeric())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(int(value)) if dialect.name == "sqlite" else int(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class exact_add(FunctionElement[int]):  # noqa: N801 - an SQL function, named like SQLAlchemy's
    """``a + b`` of two totals."""

    type = ExactTotal()
    name = "exact_add"
    inherit_cache = True


class exact_sum(FunctionElement[int]):  # noqa: N801
    """``SUM(x)`` of counts or totals, exact; NULL over no rows."""

    type = ExactTotal()
    name = "exact_sum"
    inherit_cache = True


@compiles(exact_add)
def _add(element: exact_add, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = element.clauses
    return f"({compiler.process(a, **kw)} + {compiler.process(b, **kw)})"


@compiles(exact_add, "sqlite")
def _add_sqlite(element: exact_add, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{_ADD}{compiler.process(element.clause_expr, **kw)}"


@compiles(exact_sum)
def _sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SUM{compiler.process(element.clause_expr, **kw)}"


@compiles(exact_sum, "sqlite")
def _sum_sqlite(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{_SUM}{compiler.process(element.clause_expr, **kw)}"


def largest_first(total: ColumnElement[Any], dialect: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms putting the largest ``total`` first (on SQLite: the longest digits, then
    the digits, which orders non-negative decimals without leading zeros numerically)."""
    return [func.length(total).desc(), total.desc()] if dialect == "sqlite" else [total.desc()]


class _ExactSum:
    """The aggregate registered on SQLite connections."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: object) -> None:
        if value is not None:
            self.total = (self.total or 0) + int(value)  # type: ignore[call-overload]

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def _exact_add(a: object, b: object) -> str:
    return str(int(a) + int(b))  # type: ignore[call-overload]


def prepare(conn: Connection) -> None:
    """Register the SQLite functions on ``conn``'s connection, once per DB-API connection (the
    host's engine too: nothing else of its connections is changed). A no-op elsewhere."""
    if conn.dialect.name != "sqlite":
        return
    pooled = conn.connection
    if not pooled.info.get(_PREPARED):
        dbapi: Any = pooled.dbapi_connection
        dbapi.create_function(_ADD, 2, _exact_add, deterministic=True)
        dbapi.create_aggregate(_SUM, 1, _ExactSum)
        pooled.info[_PREPARED] = True
