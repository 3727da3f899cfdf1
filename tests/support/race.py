"""The installation-id race, run as ``python -m tests.support.race URL WORKDIR COUNT FD MODE``.

The race runs in a fresh interpreter that imports the package and the drivers once, then forks
the app instances (as a pre-fork server makes workers, but before any app exists). Each child
builds its own app, engine and connections, says "ready", and blocks reading a pipe shared by
all until the test closes its end, which wakes all of them at the same moment. Each then reads the
document through the extension and writes one JSON line. The interpreter waits for every child
by its PID and reports their exit codes last.

"connected" mode: each child also opens (and pools) a connection before saying "ready", so that
after the start only SQL is left to do: the creation of the tables and the insert of the id
then overlap as much as they can.

"consent" mode: each child reports to a collector (never contacted) with its own
``INITIALIZE`` (true, false, null in turn), connects before "ready", and reads the consent
instead of the document.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path

from flask_camunda_telemetry import TelemetryExt
from tests.support.apps import make_app


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one write per line: the children's lines do not interleave


def instance(url: str, workdir: Path, mode: str, start_signal: int, i: int) -> None:
    ext = TelemetryExt()
    reporting: dict[str, object] = {}
    if mode == "consent":
        reporting = {"CAMUNDA_TELEMETRY_REPORT_URL": "http://127.0.0.1:9/never",
                     "CAMUNDA_TELEMETRY_INITIALIZE": (True, False, None)[i % 3]}
    app = make_app(url, workdir / f"instance-{i}", ext, CAMUNDA_TELEMETRY_FLUSH_INTERVAL=3600, **reporting)
    if mode in ("connected", "consent"):
        ext.state(app).store.engine.connect().close()
    say("ready")
    os.read(start_signal, 1)  # returns when the test closes the pipe: the start signal, for all at once
    if mode == "consent":
        consent = ext.reporting(app)
        assert consent is not None
        say(json.dumps({"pid": os.getpid(), "consent": consent.consent()}))
        return
    data = ext.data(app=app)
    start = data.product.internals.data_collection_start_date
    say(json.dumps({"pid": os.getpid(), "installation": data.installation, "start": start.isoformat()}))


def main(argv: list[str]) -> None:
    url, workdir, mode = argv[1], Path(argv[2]), argv[5]
    count, start_signal = int(argv[3]), int(argv[4])
    for driver in ("psycopg", "pymysql"):  # imported once here rather than in each child after the start
        with contextlib.suppress(ImportError):
            __import__(driver)
    pids = []
    for i in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                instance(url, workdir, mode, start_signal, i)
                code = 0
            except BaseException:  # noqa: BLE001 - reported on stderr, exit code 1
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    say(json.dumps({"exit_codes": codes}))


if __name__ == "__main__":
    main(sys.argv)
