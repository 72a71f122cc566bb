"""The registry of benchmark workloads.

A workload is a function that receives its size (how many rows, orders, events, ... — its
description says what) and returns its figures: a mapping whose keys name their unit
(``rows_per_s``, ``p95_ms``, ``peak_rss_mb``, ``seconds``, ``rows``, ``oversold_units``). It runs in
a child process on a fresh, migrated, empty database, and times only the work it measures (setting
up the data it needs is not part of its figures)::

    @workload("place-orders", "Orders placed through the checkout, concurrently", small=2_000, full=200_000)
    def place_orders(size: int) -> dict[str, float]:
        ...
        return {"orders": size, "orders_per_s": ..., "p95_ms": ...}
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Figures = Mapping[str, float | int]
SCALES = ("small", "full")
# A figure's name ends with its unit.
UNIT_SUFFIXES = ("_per_s", "_ms", "_s", "_mb", "seconds", "rows", "_units", "_count", "_pct", "_fen", "_bytes")
RATIO_PREFIX = "ratio_"  # a ratio of two figures of the same unit: ratio_vs_postgres
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    sizes: Mapping[str, int]  # scale -> size
    run: Callable[[int], Figures]


_workloads: dict[str, Workload] = {}
_loaded = False


def workload(
    name: str, description: str, *, small: int, full: int
) -> Callable[[Callable[[int], Figures]], Callable[[int], Figures]]:
    """Register the decorated function as the workload ``name``."""
    if not _NAME.match(name):
        raise ValueError(f"a workload name is lower-case letters, digits and '-': {name!r}")
    if not 0 < small <= full:
        raise ValueError("sizes: 0 < small <= full")

    def register(fn: Callable[[int], Figures]) -> Callable[[int], Figures]:
        _workloads[name] = Workload(name=name, description=description, sizes={"small": small, "full": full}, run=fn)
        return fn

    return register


def workloads() -> dict[str, Workload]:
    """Every workload, by name (importing each module of :mod:`siyu.bench.workloads` once)."""
    global _loaded
    if not _loaded:
        from siyu.bench import workloads as package

        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            importlib.import_module(f"{package.__name__}.{info.name}")
        _loaded = True
    return dict(sorted(_workloads.items()))


def get(name: str) -> Workload:
    found = workloads().get(name)
    if found is None:
        names = ", ".join(workloads()) or "none"
        raise LookupError(f"no workload named {name!r}; the workloads are: {names} (see `siyu bench list`)")
    return found


def check_figures(figures: Figures) -> None:
    """Every figure is a number and its name ends with a unit."""
    if not figures:
        raise ValueError("a workload returns at least one figure")
    for key, value in figures.items():
        if not key.endswith(UNIT_SUFFIXES) and not key.startswith(RATIO_PREFIX):
            raise ValueError(
                f"figure {key!r} does not name its unit (end it with e.g. _per_s, _ms, _mb, seconds, rows)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"figure {key!r} is not a number: {value!r}")
