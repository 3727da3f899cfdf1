"""Many processes started at the same moment against one database (``tests/support/race.py``
runs in each race): :func:`start_together`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PROCESSES", "start_together"]

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 32
#: a guard against a hung race, not a timing assertion
RACE_LIMIT = 240


def start_together(url: str, tmp_path: Path, mode: str = "cold", count: int = PROCESSES) -> list[dict[str, Any]]:
    """Start ``count`` separate processes, release them at the same moment, return what each read.

    ``mode``: "cold" (nothing has connected before the start), "connected", or "consent" (see
    ``tests/support/race.py``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    wait_end, signal_end = os.pipe()
    try:
        race = subprocess.Popen(
            [sys.executable, "-m", "tests.support.race", url, str(tmp_path), str(count), str(wait_end), mode],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
            pass_fds=(wait_end,),
        )
    finally:
        os.close(wait_end)
    assert race.stdout is not None
    ready = 0
    try:
        while ready < count:  # every app is built and waiting
            line = race.stdout.readline()
            if not line:
                break
            ready += line.strip() == "ready"
        os.close(signal_end)  # the start signal
        signal_end = -1
        out, err = race.communicate(timeout=RACE_LIMIT)
    finally:
        if signal_end >= 0:
            os.close(signal_end)
        if race.poll() is None:
            race.kill()
            race.wait()
    assert ready == count, f"only {ready} of {count} processes got ready:\n{err}"
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    codes = lines.pop()["exit_codes"]
    assert codes == [0] * count, f"{count - codes.count(0)} of {count} processes failed:\n{err[-4000:]}"
    assert race.returncode == 0, err
    assert len({line["pid"] for line in lines}) == count  # separate processes, one answer each
    return lines
