"""``seed-customers``: how fast the demo generator streams customers into the database, and how
much memory that takes (it must stay flat however many rows)."""

from __future__ import annotations

from siyu.bench.measure import PeakRss
from siyu.bench.registry import Figures, workload


@workload(
    "seed-customers",
    "Seed N demo customers (generated, sealed and inserted in batches) into a brand that already has "
    "its stores and guides; measures rows_per_s and peak_rss_mb.",
    small=50_000,
    full=1_000_000,
)
def seed_customers(size: int) -> Figures:
    from siyu.demo import generator

    config = generator.Config(members=size)
    generator.run(config, only={"org", "catalog"})  # the stores and guides customers belong to
    with PeakRss() as run:
        summary = generator.run(config, only={"customers"})
    return run.throughput(summary.facts["customers"])
