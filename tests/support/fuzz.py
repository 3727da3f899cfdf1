"""schemathesis's CLI against an app served in a thread from its own OpenAPI description."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

__all__ = ["schemathesis_run"]


def schemathesis_run(app: Flask, spec_path: str, cwd: Path, max_examples: int = 50) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` with every check on, against ``app`` served on 127.0.0.1 while it runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        return subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run",
             f"http://127.0.0.1:{server.server_port}{spec_path}", "--checks", "all",
             "--max-examples", str(max_examples), "--seed", "1", "--generation-database", "none",
             "--suppress-health-check", "all"],
            capture_output=True, text=True, timeout=600, cwd=cwd,
        )  # fmt: skip
    finally:
        server.shutdown()
        thread.join()
