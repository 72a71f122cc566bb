"""One module per workload (or family of workloads); each registers itself with
:func:`siyu.bench.registry.workload` when imported. Every module here is imported by
:func:`siyu.bench.registry.workloads`."""
