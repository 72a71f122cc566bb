"""Benchmarks: named workloads, each run against a fresh throwaway database at a named scale
(``small`` about a minute, ``full`` the scale its issue names), writing ``bench/results/NAME.json``.

A later issue adds a workload by putting a module in :mod:`siyu.bench.workloads` that calls
:func:`siyu.bench.registry.workload`. See ``bench/README.md``.
"""
