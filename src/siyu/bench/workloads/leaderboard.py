"""``leaderboard``: a guide's rank with neighbours on a board of 100,000 guides built from 10M
scoring events, and how soon a new scoring event is visible on it (issue 6).

Set up (not timed): the demo brand's organisation (its stores, regions and ~350 real guides); then,
in bulk inside the database (no per-event Python call), ``size`` scoring events of ``size // 100``
synthetic guides spread over the stores (subject ids from 10,000,000, so they never meet a real
one), over the seven days of one week: each event's idempotency record (``ScorePoint``, one row
each) and the running totals a stream of ``record`` calls would have left (``Score``: each guide's,
store's and region's total per day, for the week and for the month), aggregated with
``INSERT … SELECT … GROUP BY``. Then every real guide scores once through the event path.

Timed:
* ``rank_p99_ms`` (and p50/p95): ``incentives.services.rank`` for a random guide on the week's
  ``sales_fen`` board (every guide on it), with two neighbours on each side and the gap to the next
  place, 2,000 reads.
* ``visible_p95_ms`` (and p50/max): a paid-order event of a real guide emitted through
  ``events.services.emit`` (validated, made durable in the lake's write-ahead log, committed; the
  ``hooks.on_events`` listener then scores it), timed from the call until ``rank`` reads the guide's
  new total; 200 events.

``rank_cpu_p50_ms``/``rank_cpu_p99_ms``: the CPU time of the reading thread per read (on SQLite all of
the work; on PostgreSQL the client's share, the server's is apart) — what a loaded machine does
not inflate.

``counted_p50_ms``/``counted_p99_ms``: the method the bands replaced, timed on the same board (200
reads): the rank as 1 + every higher total counted on the score index.

``ranks_checked_count``: ranks compared, outside the timing, with a plain count over the board (50
random guides, the first and the last place); any difference fails the run, and so do bands out of
step with the totals after the live events (``band_drift``).

``machine_load_pct``: load average over the timed part per CPU core (100 = every core busy).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from typing import Any

from siyu.bench.registry import Figures, workload

SYNTHETIC = 10_000_000  # synthetic guides' subject ids start here
METRIC = "sales_fen"
MONDAY = dt.date(2026, 11, 9)  # a week inside one month
RANK_READS = 2_000
VISIBLE_EVENTS = 200
COUNTED_READS = 200
CHECKED = 50  # ranks compared with a plain count over the board


def _ms(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))], 2)


def _bulk_scores(brand_id: int, events: int, guides: int, stores: list[tuple[int, int]]) -> None:
    """``events`` scoring events and their totals, in SQL."""
    from django.db import connection, transaction
    from django.utils import timezone

    from siyu.incentives import leaderboards

    pg = connection.vendor == "postgresql"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS bench_store")
        c.execute("CREATE TEMP TABLE bench_store (idx integer PRIMARY KEY, store_id bigint, region_id bigint)")
        c.executemany("INSERT INTO bench_store VALUES (%s, %s, %s)", [(i, s, r) for i, (s, r) in enumerate(stores)])
        c.execute("DROP TABLE IF EXISTS bench_ev")
        if pg:
            c.execute(
                "CREATE TEMP TABLE bench_ev AS SELECT i, (i * 7919) %% %s AS g, i %% 7 AS day,"
                " 1 + floor(random() * 999)::int AS points FROM generate_series(0::bigint, %s - 1) AS i",
                [guides, events],
            )
        else:
            c.execute(
                "CREATE TEMP TABLE bench_ev AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s"
                " WHERE i < %s - 1) SELECT i, (i * 7919) %% %s AS g, i %% 7 AS day,"
                " 1 + abs(random()) %% 999 AS points FROM s",
                [events, guides],
            )
        key = "'bench:' || i" if not pg else "'bench:' || i::text"
        for day in range(7):
            at = timezone.make_aware(dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(12)))
            c.execute(
                f"INSERT INTO incentives_scorepoint (brand_id, key, metric, guide_id, points, at)"
                f" SELECT %s, {key}, %s, %s + g, points, %s FROM bench_ev WHERE day = %s",
                [brand_id, METRIC, SYNTHETIC, connection.ops.adapt_datetimefield_value(at), day],
            )
        n = len(stores)
        periods = [(leaderboards.period_key(("day", MONDAY + dt.timedelta(days=d))), f"day = {d}") for d in range(7)]
        periods += [
            (leaderboards.period_key(("week", MONDAY)), "1 = 1"),
            (leaderboards.period_key(("month", MONDAY)), "1 = 1"),
        ]
        for period, where in periods:
            c.execute(
                "INSERT INTO incentives_score (brand_id, metric, period, level, subject_id, store_id, region_id, score,"
                " updated_at) SELECT %s, %s, %s, 'guide', %s + e.g, s.store_id, s.region_id, SUM(e.points), %s"
                f" FROM bench_ev e JOIN bench_store s ON s.idx = e.g %% %s WHERE {where}"
                " GROUP BY e.g, s.store_id, s.region_id",
                [brand_id, METRIC, period, SYNTHETIC, now, n],
            )
            for level, col in (("store", "store_id"), ("region", "region_id")):
                store_col = "store_id" if level == "store" else "CAST(NULL AS BIGINT)"
                c.execute(
                    "INSERT INTO incentives_score (brand_id, metric, period, level, subject_id, store_id, region_id,"
                    f" score, updated_at) SELECT %s, %s, %s, %s, {col}, MIN({store_col}), MIN(region_id),"
                    " SUM(score), %s"
                    " FROM incentives_score WHERE brand_id = %s AND metric = %s AND period = %s AND level = 'guide'"
                    f" GROUP BY {col}",
                    [brand_id, METRIC, period, level, now, brand_id, METRIC, period],
                )
        c.execute("DROP TABLE bench_ev")
    leaderboards.rebuild_bands(brand_id)  # the kept rank structure those records would have left
    with connection.cursor() as c:
        c.execute("ANALYZE")


def _reference(brand_id: int, period: str, subject: int, neighbours: int) -> tuple[object, ...]:
    """A guide's place, score, gap and neighbours the plain way: every count over the board's rows
    (plain SQL on the scores table, as the set-up writes it; not the code under test)."""
    from django.db import connection

    board = "FROM incentives_score WHERE brand_id = %s AND metric = %s AND period = %s AND level = 'guide'"
    key: list[Any] = [brand_id, METRIC, period]
    with connection.cursor() as c:

        def rows(sql: str, params: list[Any]) -> list[tuple[int, int]]:
            c.execute(sql, params)
            return [(int(a), int(b)) for a, b in c.fetchall()]

        c.execute(f"SELECT score {board} AND subject_id = %s", [*key, subject])
        found = c.fetchone()
        mine = int(found[0]) if found else 0

        def place(score: int) -> int:
            c.execute(f"SELECT COUNT(*) {board} AND score > %s", [*key, score])
            return 1 + int(c.fetchone()[0])

        above = rows(f"SELECT score, subject_id {board} AND score > %s ORDER BY score, subject_id", [*key, mine])
        below = rows(
            f"SELECT subject_id, score {board} AND score <= %s AND subject_id <> %s"
            " ORDER BY score DESC, subject_id LIMIT %s",
            [*key, mine, subject, neighbours],
        )
        return (
            place(mine),
            mine,
            above[0][0] - mine if above else None,
            [(place(sc), sid, sc) for sc, sid in above[:neighbours]][::-1],
            [(place(sc), sid, sc) for sid, sc in below],
        )


def _seen(view: object) -> tuple[object, ...]:
    from siyu.incentives.leaderboards import RankView

    assert isinstance(view, RankView)
    places = [[(p.place, p.subject_id, p.score) for p in side] for side in (view.above, view.below)]
    return (view.rank, view.score, view.gap, *places)


@workload(
    "leaderboard",
    "Leaderboards: N scoring events (bulk) of N/100 guides; a guide's rank with neighbours (rank_p99_ms) and "
    "how soon an order event emitted through the event path is visible on the board (visible_p95_ms).",
    small=200_000,
    full=10_000_000,
)
def leaderboard(size: int) -> Figures:
    from django.utils import timezone

    from siyu.demo import generator
    from siyu.events import services as events
    from siyu.incentives import services as incentives
    from siyu.members import services as members
    from siyu.org import services as org

    summary = generator.run(generator.Config(members=1), only={"org"})
    brand_id = summary.brand_id
    stores = [(s.id, s.region_id) for s in org.stores(brand_id)]
    guides = max(1, size // 100)
    started = time.perf_counter()
    _bulk_scores(brand_id, size, guides, stores)
    setup_seconds = time.perf_counter() - started
    real = [g for g in org.guides(brand_id) if g.store_id is not None]
    phones = [f"1360000{i:04d}" for i in range(len(real))]
    rows = [
        members.NewCustomer(phone=p, name=f"顾客{i}", store_id=g.store_id, guide_id=g.id, joined_at=timezone.now())
        for i, (p, g) in enumerate(zip(phones, real, strict=True))
    ]
    for _n in members.bulk_add_customers(brand_id, rows):
        pass
    found, _missing = members.customer_ids_by_phones(brand_id, phones)
    customer_ids = sorted(found)
    week = ("week", MONDAY)
    at = timezone.make_aware(dt.datetime.combine(MONDAY + dt.timedelta(days=3), dt.time(15)))
    for i, g in enumerate(real):  # every real guide scores once through the event path
        events.emit(
            brand_id,
            [
                events.EventIn(
                    f"bench-seed-{i}",
                    "order",
                    at,
                    customer_ids[i % len(customer_ids)],
                    g.store_id,
                    g.id,
                    amount_fen=10_000 + i,
                )
            ],
        )
    rng = random.Random("leaderboard")
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    rank_ms: list[float] = []
    rank_cpu_ms: list[float] = []
    for _ in range(RANK_READS):
        subject = SYNTHETIC + rng.randrange(guides)
        t0, c0 = time.perf_counter(), time.thread_time()
        view = incentives.rank(brand_id, METRIC, week, subject, neighbours=2)
        rank_ms.append((time.perf_counter() - t0) * 1000)
        rank_cpu_ms.append((time.thread_time() - c0) * 1000)
        assert view.rank >= 1
    # The method the bands replaced, on the same board and load: every higher total counted on the
    # score index (what a board within a region or store still does).
    counted_ms: list[float] = []
    board = incentives.leaderboards._board(brand_id, METRIC, week, "guide", None, None, None)
    for _ in range(COUNTED_READS):
        subject = SYNTHETIC + rng.randrange(guides)
        t0 = time.perf_counter()
        mine = board.filter(subject_id=subject).values_list("score", flat=True).first() or 0
        incentives.leaderboards._counted(board, mine, [mine])
        counted_ms.append((time.perf_counter() - t0) * 1000)
    # The answer, not only the time: a sample of the guides read (and the first and last place) against
    # a plain count over the board; any difference fails the run.
    period = incentives.leaderboards.period_key(week)
    ordered = incentives.top(brand_id, METRIC, week, limit=1)
    last = incentives.leaderboards._board(brand_id, METRIC, week, "guide", None, None, None).order_by("score").first()
    sample = [SYNTHETIC + rng.randrange(guides) for _ in range(CHECKED - 2)] + [ordered[0].subject_id]
    sample += [last.subject_id] if last else []
    for subject in sample:
        got = _seen(incentives.rank(brand_id, METRIC, week, subject, neighbours=2))
        want = _reference(brand_id, period, subject, 2)
        if got != want:
            raise RuntimeError(f"rank of {subject}: {got} but a plain count gives {want}")
    visible_ms: list[float] = []
    late = 0
    for i in range(VISIBLE_EVENTS):
        k = rng.randrange(len(real))
        g = real[k]
        before = incentives.rank(brand_id, METRIC, week, g.id).score
        amount = 1_000 + rng.randrange(100_000)
        t0 = time.perf_counter()
        events.emit(
            brand_id,
            [
                events.EventIn(
                    f"bench-live-{i}",
                    "order",
                    at,
                    customer_ids[k % len(customer_ids)],
                    g.store_id,
                    g.id,
                    amount_fen=amount,
                )
            ],
        )
        while incentives.rank(brand_id, METRIC, week, g.id).score != before + amount:
            if time.perf_counter() - t0 > 5:
                late += 1
                break
            time.sleep(0.001)
        visible_ms.append((time.perf_counter() - t0) * 1000)
    load = (load_before + os.getloadavg()[0]) / 2
    board_size = incentives.size(brand_id, METRIC, week)
    drift = incentives.leaderboards.band_drift(brand_id)  # the live events kept the bands in step
    if drift:
        raise RuntimeError(f"{drift} rank bands differ from the totals after the live events")
    return {
        "events_count": size,
        "guides_count": guides,
        "board_rows": board_size,
        "setup_seconds": round(setup_seconds, 1),
        "rank_p50_ms": _ms(rank_ms, 50),
        "rank_p95_ms": _ms(rank_ms, 95),
        "rank_p99_ms": _ms(rank_ms, 99),
        "rank_cpu_p50_ms": _ms(rank_cpu_ms, 50),
        "rank_cpu_p99_ms": _ms(rank_cpu_ms, 99),
        "counted_p50_ms": _ms(counted_ms, 50),
        "counted_p99_ms": _ms(counted_ms, 99),
        "visible_p50_ms": _ms(visible_ms, 50),
        "visible_p95_ms": _ms(visible_ms, 95),
        "visible_max_ms": _ms(visible_ms, 100),
        "never_visible_count": late,
        "ranks_checked_count": len(sample),
        "machine_load_pct": round(100 * load / cores),
    }
