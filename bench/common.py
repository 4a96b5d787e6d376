"""What both benchmarks need: a free port, gunicorn started and ready, percentiles."""

from __future__ import annotations

import socket
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    env, port: int, workers: int, *, threads: int = 1, log: Path | None = None, app: str = "bench.app:app"
) -> subprocess.Popen:
    """gunicorn serving ``app`` on ``port``, returned once it accepts connections."""
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if threads > 1:
        cmd += ["--threads", str(threads)]  # gunicorn then uses the gthread worker
    if log is None:
        proc = subprocess.Popen([*cmd, app], cwd=ROOT, env=env)
    else:
        with open(log, "ab") as stderr:  # the server's tracebacks, summarised by the caller
            proc = subprocess.Popen([*cmd, app], cwd=ROOT, env=env, stderr=stderr)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn non si è avviato")


def percentile(values: list[float], p: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]
