"""Run siyu in a real server process for a workload that measures over HTTP: ``siyu serve`` on the
run's throwaway database (the workload's child process environment), on a free local port.

``--workers 1`` is waitress in one process; more workers are granian's worker processes (see
``siyu serve --help``). The server's output goes to a file the error message quotes when it fails.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str  # http://127.0.0.1:PORT
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far, its workers included."""
        root = psutil.Process(self.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


@contextmanager
def served(*, workers: int, threads: int, ready_within: float = 60.0) -> Iterator[str]:
    """``siyu serve`` running until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    with running(workers=workers, threads=threads, ready_within=ready_within) as server:
        yield server.url


@contextmanager
def running(*, workers: int, threads: int, ready_within: float = 60.0) -> Iterator[Server]:
    """``siyu serve`` running until the block ends; yields its :class:`Server` (base URL, pid, CPU
    time). The database connections of this process are closed first (SQLite: the server sees
    every row written so far)."""
    from django.db import connections

    connections.close_all()
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "siyu.settings", "SIYU_DEBUG": "0", "SIYU_LOG_LEVEL": "ERROR"}
    command = [sys.executable, "-c", "from siyu.cli import main; main()", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--threads", str(threads)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_ready(proc, port, ready_within, log)
            yield Server(f"http://127.0.0.1:{port}", proc.pid)
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, within: float, log: object) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped (exit {proc.returncode}): {_tail(log)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz within {within:.0f} s: {_tail(log)}")


def _tail(log: object) -> str:
    try:
        log.seek(0)  # type: ignore[attr-defined]
        return log.read().decode(errors="replace")[-2000:]  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
