"""``task-fanout``: HQ publishes a daily forward task to every guide of a brand of N guides; the
timed work is the publish (its first round's fan-out: the recipients read in one query, targeting,
one assignment per guide written in bulk), then the next day's round created by the scheduled job.

Set-up (not timed): the demo brand's stores and staff (the generator's ``org`` step), then N guides
spread over its stores through ``org.bulk_add_guides``.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from siyu.bench.measure import PeakRss, database_cpu_seconds
from siyu.bench.registry import Figures, workload


def _brand_with_guides(size: int) -> int:
    from siyu.demo import generator
    from siyu.org import services as org

    summary = generator.run(generator.Config(members=1), only={"org"})
    stores = [s.id for s in org.stores(summary.brand_id, open_only=True)]
    org.bulk_add_guides(
        summary.brand_id, ((f"bench.g{i:06d}", f"导购{i:06d}", stores[i % len(stores)]) for i in range(size))
    )
    return summary.brand_id


@workload(
    "task-fanout",
    "Publish a daily forward task to a brand of N guides (one assignment each, bulk inserts), then "
    "create its next day's round through the scheduled job; seconds (the publish), cpu_seconds, server_cpu_seconds, "
    "next_round_seconds, rows, rows_per_s, peak_rss_mb, machine_load_pct.",
    small=10_000,
    full=100_000,
)
def task_fanout(size: int) -> Figures:
    from siyu.org import services as org
    from siyu.platform import clock
    from siyu.tasks import services as tasks

    brand_id = _brand_with_guides(size)
    hq = org.hq_scope(brand_id, "bench")
    start = clock.now().replace(microsecond=0)
    task = tasks.create_task(
        hq,
        title="每日转发",
        kind="forward",
        whole_brand=True,
        target=3,
        repeat="daily",
        starts_at=start,
        deadline_at=start + dt.timedelta(hours=12),
        coins=5,
    )
    cpu, server = time.process_time(), database_cpu_seconds()
    with PeakRss() as run:
        tasks.publish(hq, task.pk)
    cpu = time.process_time() - cpu  # the whole fan-out on SQLite; on PostgreSQL the client's share
    server = database_cpu_seconds() - server  # PostgreSQL's backend (0 on SQLite)
    load = os.getloadavg()[0]
    assigned = tasks.assignments(hq, task_id=task.pk).count()
    if assigned < size:
        raise RuntimeError(f"the fan-out assigned {assigned} of {size} guides")
    with clock.frozen(start + dt.timedelta(days=1, minutes=1)), PeakRss() as second:
        created = tasks.run_schedules(brand_id)
    if created < size:
        raise RuntimeError(f"the next round assigned {created} of {size} guides")
    figures = run.throughput(assigned)
    figures["next_round_seconds"] = round(second.seconds, 3)
    figures["cpu_seconds"] = round(cpu, 3)
    figures["server_cpu_seconds"] = round(server, 3)
    figures["machine_load_pct"] = round(100 * (load + os.getloadavg()[0]) / 2 / (os.cpu_count() or 1))
    return figures
