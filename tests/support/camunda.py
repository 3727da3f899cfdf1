"""Camunda 7's ``ACT_GE_PROPERTY`` made by each database's own DDL, as Camunda's create scripts
make it (unquoted upper-case names, which PostgreSQL folds to lower case and MariaDB keeps as
written), with the rows a Camunda engine's bootstrap writes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .databases import INSTALLATION_ID

__all__ = ["CAMUNDA_ROWS", "CAMUNDA_TABLE", "CREATE_TABLE", "backend_of", "camunda_rows", "camunda_schema"]

# engine/src/main/resources/org/camunda/bpm/engine/db/create/activiti.{postgres,mysql}.create.engine.sql
CREATE_TABLE = {
    "postgresql": "create table ACT_GE_PROPERTY (NAME_ varchar(64), VALUE_ varchar(300), REV_ integer, "
    "primary key (NAME_))",
    "mariadb": "create table ACT_GE_PROPERTY (NAME_ varchar(64), VALUE_ varchar(300), REV_ integer, "
    "primary key (NAME_)) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE utf8_bin",
    # Camunda has no SQLite script; its generic (H2/PostgreSQL) statement works as written.
    "sqlite": "create table ACT_GE_PROPERTY (NAME_ varchar(64), VALUE_ varchar(300), REV_ integer, "
    "primary key (NAME_))",
}
CAMUNDA_ROWS = [
    ("schema.version", "fox", 1),
    ("schema.history", "create(fox)", 1),
    ("next.dbid", "1", 1),
    ("deployment.lock", "0", 1),
    ("history.cleanup.job.lock", "0", 1),
    ("startup.lock", "0", 1),
    ("telemetry.lock", "0", 1),
    ("installationId.lock", "0", 1),
]
CAMUNDA_TABLE: dict[str, Any] = {"CAMUNDA_TELEMETRY_PROPERTY_TABLE": "ACT_GE_PROPERTY"}


def backend_of(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    return "mariadb" if name == "mysql" else name


def camunda_schema(url: str, *, installation: str | None, extra: tuple[tuple[str, str, int], ...] = ()) -> None:
    """Run Camunda's create script for the property table; then, if given, what the engine's
    first bootstrap inserts (``BootstrapEngineCommand.createInstallationProperty``), and the
    ``extra`` rows (name, value, rev), e.g. ``camunda.telemetry.enabled`` as 7.14 to 7.21 write it."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(CREATE_TABLE[backend_of(url)]))
            for name, value, rev in CAMUNDA_ROWS:
                conn.execute(
                    sa.text(f"insert into ACT_GE_PROPERTY values ('{name}', '{value}', {rev})")
                )
            rows = ((INSTALLATION_ID, installation, 1),) if installation is not None else ()
            for name, value, rev in (*rows, *extra):
                conn.execute(
                    sa.text("insert into ACT_GE_PROPERTY (NAME_, VALUE_, REV_) values (:name, :value, :rev)"),
                    {"name": name, "value": value, "rev": rev},
                )
    finally:
        engine.dispose()


def camunda_rows(url: str) -> dict[str, tuple[str, int]]:
    """``ACT_GE_PROPERTY`` as Camunda's own unquoted SQL reads it."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select NAME_, VALUE_, REV_ from ACT_GE_PROPERTY"))
            return {name: (value, rev) for name, value, rev in rows}
    finally:
        engine.dispose()
