"""The benchmark harness: a registry of workloads, each run in a child process on a fresh
throwaway database, writing a result with the machine it ran on and figures named by unit."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siyu.bench import registry, runner
from siyu.bench.measure import PeakRss
from siyu.cli import main

REQUIRED = {"workload", "scale", "machine", "started_at", "figures"}


def test_seed_customers_is_registered_with_its_scales() -> None:
    wl = registry.get("seed-customers")
    assert dict(wl.sizes) == {"small": 50_000, "full": 1_000_000}
    assert "rows_per_s" in wl.description


def test_an_unknown_workload_is_refused_with_the_known_names() -> None:
    with pytest.raises(LookupError, match="seed-customers"):
        registry.get("nope")
    with pytest.raises(runner.BenchError, match="seed-customers"):
        runner.run("nope", "small")


def test_a_workload_needs_a_plain_name_and_sensible_sizes() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        registry.workload("Bad Name", "x", small=1, full=2)
    with pytest.raises(ValueError, match="small <= full"):
        registry.workload("too-big", "x", small=10, full=2)


def test_figures_name_their_unit_and_are_numbers() -> None:
    registry.check_figures({"rows": 10, "rows_per_s": 12.5, "p95_ms": 3, "peak_rss_mb": 80.1, "oversold_units": 0})
    registry.check_figures({"siyu_s": 0.4, "ratio_vs_postgres": 31.5})  # seconds; a ratio of two figures
    with pytest.raises(ValueError, match="unit"):
        registry.check_figures({"speed": 10})
    with pytest.raises(ValueError, match="not a number"):
        registry.check_figures({"rows": "many"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="at least one"):
        registry.check_figures({})


def _ballast(seconds: float) -> None:
    ballast = bytearray(64 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page so it is resident
    time.sleep(seconds)
    del ballast


@pytest.mark.parametrize("held", [0.1, 0.0])  # held long enough to be sampled; a spike between samples
def test_peak_rss_sees_memory_taken_and_given_back_inside_the_block(held: float) -> None:
    with PeakRss(interval=0.005) as outside:
        pass
    with PeakRss(interval=0.005) as peak:
        _ballast(held)
    assert peak.mb >= outside.mb + 50


def _hold_ballast(ready: Any) -> None:
    ballast = bytearray(64 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    ready.set()
    time.sleep(0.3)


def test_peak_rss_counts_the_memory_of_worker_processes_too() -> None:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    ready = context.Event()
    with PeakRss(interval=0.005) as alone:
        pass
    with PeakRss(interval=0.005) as peak:
        worker = context.Process(target=_hold_ballast, args=(ready,))
        worker.start()
        ready.wait(10)
        time.sleep(0.1)
        worker.join()
    assert peak.mb >= alone.mb + 50


def test_bench_run_writes_a_result_with_the_required_keys(tmp_path: Path) -> None:
    """A tiny run (the hidden --size) of the real workload, end to end, in a child process."""
    result = CliRunner().invoke(
        main, ["bench", "run", "seed-customers", "--size", "200", "--out", str(tmp_path)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "seed-customers.json").read_text())
    assert set(data) >= REQUIRED
    assert (data["workload"], data["scale"], data["size"], data["size_overridden"]) == (
        "seed-customers",
        "small",
        200,
        True,
    )
    assert dt.datetime.fromisoformat(data["started_at"]).tzinfo is not None
    machine = data["machine"]
    assert machine["cpu_count"] >= 1 and machine["memory_gb"] > 0 and machine["cpu_model"]
    assert machine["python"].count(".") == 2 and machine["os"]
    assert machine["database"]["vendor"] in {"sqlite", "postgresql"}
    assert "throwaway" in machine["database"]
    figures = data["figures"]
    assert figures["rows"] == 200
    assert figures["rows_per_s"] > 0 and figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert not (tmp_path / "seed-customers.small.json").exists()  # an overridden size is not a scale's result
