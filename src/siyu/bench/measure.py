"""Measuring tools for workloads and long commands: peak resident memory and wall time.

:class:`PeakRss` samples the resident set size with psutil in a background thread. A sampler can
miss a short spike that holds the GIL, so on Linux it also resets the kernel's high-water mark
(``/proc/self/clear_refs``) on entry and reads it (``VmHWM``) on exit, taking the larger figure.
Worker processes the block starts with :mod:`multiprocessing` count too: each sample adds their
unique memory (USS: what they do not share with this process).
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType

import psutil

MB = 1024 * 1024


class PeakRss:
    """Samples this process's resident memory in a background thread while the block runs::

    with PeakRss() as peak:
        work()
    peak.mb  # the highest resident set size seen, in MiB
    peak.seconds  # how long the block ran
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._hwm = False
        self._started = 0.0
        self.seconds = 0.0

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self._process.memory_info().rss + _workers_uss())
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRss:
        self._hwm = _reset_high_water_mark()
        self.peak = self._process.memory_info().rss
        self._thread.start()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds = time.perf_counter() - self._started
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        if self._hwm:
            self.peak = max(self.peak, _high_water_mark())

    @property
    def mb(self) -> float:
        return round(self.peak / MB, 1)

    def throughput(self, rows: int) -> dict[str, float]:
        """The figures of a workload that moved ``rows`` rows in the block."""
        return {
            "rows": rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(rows / self.seconds, 1),
            "peak_rss_mb": self.mb,
        }


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _workers_uss() -> int:
    """The unique memory of this process's running multiprocessing workers (0 without any)."""
    import multiprocessing

    total = 0
    for child in multiprocessing.active_children():
        with suppress(psutil.Error, ValueError):  # it may end between the listing and the reading
            total += psutil.Process(child.pid).memory_full_info().uss
    return total


def _high_water_mark() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def database_cpu_seconds() -> float:
    """CPU time (user + system) the PostgreSQL backend serving this process's connection has used
    so far (the server runs on the same machine); 0.0 on SQLite, whose work is this process's own."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    import psutil

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(times.user + times.system)
