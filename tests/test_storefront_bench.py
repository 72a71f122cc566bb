"""The store-page benchmark's parts: ``siyu serve --workers N`` (granian's worker processes)
answers and stops with its workers, and the visitors' requests are the announced mix."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from siyu.bench import registry
from siyu.bench.server import running
from siyu.bench.workloads.storefront import Setup, _paths


def test_siyu_serve_with_workers_runs_granian_processes_that_answer_and_stop(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("SIYU_HOME", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SIYU_SQLITE_PATH", raising=False)
    command = [sys.executable, "-c", "from siyu.cli import main; main()", "migrate"]
    subprocess.run(command, env={**os.environ}, check=True, capture_output=True, timeout=300)
    with running(workers=2, threads=2) as server:
        before = server.cpu_seconds()
        for _ in range(20):
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as answer:
                assert answer.status == 200
        assert server.cpu_seconds() > before  # its workers answered
        main = psutil.Process(server.pid)
        workers = main.children()
        assert len(workers) == 2  # granian's main process and its two workers
        assert all(w.cmdline()[:1] == main.cmdline()[:1] for w in workers)  # forked from siyu serve
        serving = [main, *workers]
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in serving)  # all stopped


def test_the_visitors_ask_for_first_pages_categories_second_pages_and_searches() -> None:
    setup = Setup(stores=[(f"S{i:03d}", f"店{i}") for i in range(60)], categories=["C00", "C01"], skus=2000)
    paths = _paths(setup, 10_000, seed=3)
    assert paths == _paths(setup, 10_000, seed=3)  # the same run every time
    kinds = Counter(p.split("/", 3)[3].split("=")[0] or "first" for p, _ in paths)
    assert abs(kinds["first"] / 10_000 - 0.70) < 0.02 and abs(kinds["?category"] / 10_000 - 0.15) < 0.02
    assert abs(kinds["?page"] / 10_000 - 0.10) < 0.02 and abs(kinds["?q"] / 10_000 - 0.05) < 0.01
    assert {name for _, name in paths} == {name for _, name in setup.stores}  # every store is visited
    workload = registry.get("store-page")
    assert "50 concurrent connections" in workload.description and "60 stores, 2,000 SKUs" in workload.description
