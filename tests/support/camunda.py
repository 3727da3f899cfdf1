"""Camunda 7 as its own code makes things, not as this project's schemas say:

* ``ACT_GE_PROPERTY`` made by each database's own DDL, as Camunda's create scripts make it
  (unquoted upper-case names, which PostgreSQL folds to lower case and MariaDB keeps as written),
  with the rows a Camunda engine's bootstrap writes;
* the bodies Camunda 7.14-7.21 engines POSTed to their ``telemetryEndpoint``
  (:func:`sent_report`, :func:`initial_message`), byte for byte as each version's Gson wrote them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .databases import INSTALLATION_ID
from .gson import gson_date, hash_order, set_order, to_json

__all__ = [
    "CAMUNDA_ROWS",
    "CAMUNDA_TABLE",
    "CAMUNDA_VERSIONS",
    "CREATE_TABLE",
    "backend_of",
    "camunda_rows",
    "camunda_schema",
    "initial_message",
    "sent_report",
]

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


# -- the bodies Camunda's engines sent -------------------------------------------------------
#
# Read in camunda/camunda-bpm-platform (engine/src/main/java/org/camunda/bpm/engine/impl/...):
# * telemetry/dto/{TelemetryDataImpl,ProductImpl,InternalsImpl,DatabaseImpl,ApplicationServerImpl,
#   LicenseKeyDataImpl,JdkImpl,CommandImpl,MetricImpl}.java (7.17+) and telemetry/dto/{Data,Product,
#   Internals,LicenseKeyData}.java (7.14-7.16): the fields, in declaration order, and their
#   @SerializedName; InternalsImpl's start date sits after camunda-integration from 7.19 (before, the
#   order is database, application-server, license-key, commands, camunda-integration, metrics,
#   webapps, jdk, telemetry-enabled); counts are ``long``;
# * telemetry/reporter/TelemetrySendingTask.java (7.15/7.16 and 7.19-7.21 copies): the metrics map
#   is a new HashMap filled from the HashSet METRICS_TO_REPORT, with the internal name and then
#   (7.17+) the public one from MetricsUtil.resolvePublicName; the commands map is a new HashMap of
#   every counted name (zeros too); updateStaticData() sets telemetry-enabled to true; the initial
#   message (7.14-7.16) is Data(installation, Product(name, version, edition, new Internals())) with
#   only setTelemetryEnabled(consent): Internals() leaves commands {} and camunda-integration [],
#   everything else null;
# * util/JsonUtil.java: new GsonBuilder().serializeNulls() (see .gson);
# * 7.14 (no tag copy stored to read): its tests (TelemetryReporterTest) put unique-task-workers
#   beside the four metrics, and /work/shared/reference/camunda-telemetry-sending.md section 1 says
#   webapps came with 7.15; the field order is taken as 7.15's without webapps.
CAMUNDA_VERSIONS = ("7.14.0", "7.15.0", "7.16.0", "7.17.0", "7.18.0", "7.19.0", "7.20.0", "7.21.0")
#: org.camunda.bpm.engine.management.Metrics (internal name -> MetricsUtil.resolvePublicName)
_METRICS = {
    "root-process-instance-start": "process-instances",
    "executed-decision-instances": "decision-instances",
    "executed-decision-elements": "executed-decision-elements",
    "activity-instance-start": "flow-node-instances",
}
UNIQUE_TASK_WORKERS = "unique-task-workers"  # TelemetryRegistry.UNIQUE_TASK_WORKERS, 7.14 only


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _counts(counts: Mapping[str, int], put_order: list[str]) -> dict[str, dict[str, int]]:
    """A ``Map<String, Command|Metric>`` (a new HashMap) as Gson writes it: ``{name: {"count": n}}``."""
    return {name: {"count": counts[name]} for name in hash_order(put_order)}


def _metrics(version: str, metrics: Mapping[str, int], unique_task_workers: int) -> dict[str, Any]:
    values = {**{name: metrics.get(name, 0) for name in _METRICS}, UNIQUE_TASK_WORKERS: unique_task_workers}
    put: list[str] = []
    for internal in hash_order(list(_METRICS)):  # iterating the HashSet METRICS_TO_REPORT
        put.append(internal)
        if _minor(version) >= 17:
            values[_METRICS[internal]] = values[internal]
            put.append(_METRICS[internal])
    if _minor(version) == 14:
        put.append(UNIQUE_TASK_WORKERS)
    return _counts(values, put)


def _internals(version: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` in the version's declaration order, the ones it lacks left out."""
    minor = _minor(version)
    order = ["database", "application-server", "license-key", "commands", "camunda-integration", "metrics",
             "webapps", "jdk", "telemetry-enabled"]
    if minor >= 19:
        order[3:5] = ["camunda-integration", "data-collection-start-date", "commands"]
    if minor < 15:
        order.remove("webapps")
    return {key: fields.get(key) for key in order}


def sent_report(
    version: str,
    installation: str,
    commands: Mapping[str, int],
    metrics: Mapping[str, int],
    start: dt.datetime | None = None,
    jdk: int = 17,
    unique_task_workers: int = 0,
    license_raw: str | None = None,
) -> bytes:
    """The body a Camunda ``version`` (7.14-7.21) engine POSTed: ``commands`` in the order they were
    first counted (zeros are sent too), ``metrics`` by internal name, ``start`` (7.19+) the
    wall-clock time in the JVM's zone (the text has none)."""
    license_key = None if license_raw is None else {  # LicenseKeyDataImpl.fromRawString
        "customer": None, "type": None, "valid-until": None, "unlimited": None, "features": None,
        "raw": license_raw.split(";", 1)[1] if ";" in license_raw else license_raw,
    }
    internals = _internals(version, {
        "database": {"vendor": "PostgreSQL", "version": "13.4"},
        "application-server": {"vendor": "Apache Tomcat", "version": "Apache Tomcat/9.0.58"},
        "license-key": license_key,
        "camunda-integration": set_order(["spring-boot-starter", "camunda-bpm-run"]),
        "data-collection-start-date": gson_date(start, jdk) if start is not None else None,
        "commands": _counts(commands, list(commands)),
        "metrics": _metrics(version, metrics, unique_task_workers),
        "webapps": set_order(["cockpit", "tasklist", "admin"]),
        "jdk": {"version": f"{jdk}.0.2", "vendor": "Oracle Corporation" if jdk == 8 else "Eclipse Adoptium"},
        "telemetry-enabled": True,
    })
    product = {"name": "Camunda BPM Runtime", "version": version, "edition": "community", "internals": internals}
    return to_json({"installation": installation, "product": product}).encode("utf-8")


def initial_message(version: str, installation: str, consent: bool | None) -> bytes:
    """7.14-7.16's one-time message, sent on the first tick whatever the consent (``consent``:
    what IsTelemetryEnabledCmd read: ``None`` while undecided)."""
    if _minor(version) > 16:
        raise ValueError("Camunda sends the initial message up to 7.16 only")
    internals = _internals(version, {"commands": {}, "camunda-integration": [], "telemetry-enabled": consent})
    product = {"name": "Camunda BPM Runtime", "version": version, "edition": "community", "internals": internals}
    return to_json({"installation": installation, "product": product}).encode("utf-8")
