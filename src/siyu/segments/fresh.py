"""Incremental freshness of audiences (ADR 0016): an event-triggered membership change is visible
within a second of the event's acknowledgement, without evaluating the whole brand again.

* **Who is live.** A segment that was materialised at least once and is not archived is kept fresh.
  Its *behaviour* is the set of event types its definition reads (those of the segments it refers
  to included) and its *horizon*, the earliest event time any of its conditions can look at.
* **The listener** (:func:`heard`, registered on ``platform.hooks.on_events``) runs in the ingesting
  process after the commit. It keeps the customers of the new events whose type some live segment
  of the brand reads, and hands them to the process's *freshener* thread — nothing slow happens on
  the ingestion path (``SIYU_SEGMENTS_FRESH = "inline"`` does the work there instead: tests).
* **The freshener** (:func:`refresh_customers`) re-evaluates only those customers against each
  live segment's whole definition — the same compiled query as a full run, on DuckDB views that
  hold only them: their facts (attributes, tags, consent from the facts snapshot) and their events
  of the segment's types on the day partitions of its horizon, pending ones included
  (``events.services.customers_relation``). Who entered joins ``SegmentMember`` (``since`` = now,
  so ``entered_since`` sees her), who left is removed, and both are recorded as a run with trigger
  ``event`` (only when something changed).
* **Order.** Writes to one audience happen under its row lock. Each write carries the time of the
  lake snapshot it read (``Segment.fresh_at``); a writer holding an older snapshot than the last
  write's evaluates again under the lock, so an older answer never overwrites a newer one.
  A full materialisation also evaluates under the lock.
* **Windows that expire.** A rolling window moves with the clock: an order 90 days and one second
  old no longer counts. :func:`sweep` (every minute) re-evaluates, for each live segment, the
  customers with an event of its types that crossed one of its rolling boundaries since the last
  sweep (``Segment.swept_at``). Conditions that move with the calendar rather than with events
  (birthday within N days) and changes of the facts (tags, stores) are the scheduled runs' work.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import logging
import queue
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F

from siyu.events import services as events_services
from siyu.platform import clock, hooks
from siyu.segments import engine, lake
from siyu.segments.compile import Behaviour, compile_definition, read_by
from siyu.segments.models import Segment, SegmentChange, SegmentMember, SegmentRun

log = logging.getLogger(__name__)

LIVE_CACHE_SECONDS = 2.0  # how long a process trusts its list of live segments
CHUNK = 2000  # customers evaluated together


# --- what a definition reads ----------------------------------------------------------------------
def behaviour(definition: dict[str, Any], now: dt.datetime, resolve: Callable[[int], dict[str, Any]]) -> Behaviour:
    """What the events part of ``definition`` reads at ``now`` (UTC, naive), in the brand's zone."""
    return read_by(definition, now, zoneinfo.ZoneInfo(settings.TIME_ZONE), resolve)


def _resolver(brand_id: int) -> Callable[[int], dict[str, Any]]:
    defs = {s.pk: s.definition for s in Segment.objects.filter(brand_id=brand_id)}
    return lambda segment_id: defs[segment_id]


def live_segments(brand_id: int) -> list[Segment]:
    return list(Segment.objects.filter(brand_id=brand_id, archived=False, materialised_at__isnull=False).order_by("id"))


# --- the listener ------------------------------------------------------------------------------------
_live: dict[int, tuple[float, frozenset[str]]] = {}  # brand -> (read at, event types live segments read)
_live_lock = threading.Lock()


def forget_live() -> None:
    """Read the live segments again on the next event (called when one changes in this process)."""
    with _live_lock:
        _live.clear()


def _live_types(brand_id: int) -> frozenset[str]:
    now = time.monotonic()
    with _live_lock:
        hit = _live.get(brand_id)
    if hit is not None and now - hit[0] < LIVE_CACHE_SECONDS:
        return hit[1]
    resolve = _resolver(brand_id)
    at = _now()
    types: set[str] = set()
    for seg in live_segments(brand_id):
        types |= behaviour(seg.definition, at, resolve).types
    found = frozenset(types)
    with _live_lock:
        _live[brand_id] = (now, found)
    return found


def heard(brand_id: int, events: Iterable[dict[str, Any]]) -> None:
    """The ``on_events`` listener: pass the customers of events live segments read to the freshener."""
    mode = getattr(settings, "SIYU_SEGMENTS_FRESH", "thread")
    if mode == "off":
        return
    wanted = _live_types(brand_id)
    if not wanted:
        return
    touched: dict[int, set[str]] = {}
    for e in hooks.events_of(events, wanted, present=("customer_id",)):
        if e.get("type") in wanted and e.get("customer_id") is not None:
            touched.setdefault(int(e["customer_id"]), set()).add(e["type"])
    if not touched:
        return
    types = set().union(*touched.values())
    if mode == "inline":
        refresh_customers(brand_id, touched, types=types)
    else:
        _freshener().submit(brand_id, touched, types)


class Freshener:
    """The process's background thread that applies what the listener heard, brand by brand; what
    arrives while it works is taken together on its next turn."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[int, set[int], set[str]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="segments-freshener", daemon=True)
        self._thread.start()
        self.idle = threading.Event()
        self.cycles: collections.deque[tuple[int, float, float]] = collections.deque(
            maxlen=1000
        )  # (customers, s, cpu s)

    def submit(self, brand_id: int, customers: Iterable[int], types: set[str]) -> None:
        self.idle.clear()
        self._queue.put((brand_id, set(customers), types))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_brand: dict[int, tuple[set[int], set[str]]] = {}
            for brand_id, customers, types in batch:
                ids, kinds = by_brand.setdefault(brand_id, (set(), set()))
                ids |= customers
                kinds |= types
            close_old_connections()
            for brand_id, (ids, kinds) in by_brand.items():
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    refresh_customers(brand_id, ids, types=kinds)
                except Exception:  # the next event or the sweep tries again; ingestion is never hurt
                    log.exception("segment freshness failed for brand %s", brand_id)
                self.cycles.append((len(ids), time.perf_counter() - started, time.thread_time() - cpu))
            close_old_connections()
            if self._queue.empty():
                self.idle.set()


_the_freshener: Freshener | None = None
_freshener_lock = threading.Lock()


def _freshener() -> Freshener:
    global _the_freshener
    with _freshener_lock:
        if _the_freshener is None:
            _the_freshener = Freshener()
        return _the_freshener


def cycles() -> list[tuple[int, float, float]]:
    """The freshener's last turns in this process: (customers, seconds, CPU seconds of its thread)."""
    return list(_the_freshener.cycles) if _the_freshener is not None else []


def wait_idle(timeout: float = 10.0) -> bool:
    """Until the freshener has applied everything handed to it (benchmarks, tests)."""
    found = _the_freshener
    return True if found is None else found.idle.wait(timeout)


# --- evaluating a few customers ------------------------------------------------------------------------
def _now() -> dt.datetime:
    return clock.now().astimezone(dt.UTC).replace(tzinfo=None)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _ids_sql(ids: Iterable[int]) -> str:
    return ", ".join(str(int(c)) for c in sorted(set(ids))) or "NULL"


class Snapshot:
    """A few customers only, as the four tables a compiled query reads (their facts, and their
    events of some types since a day), so the query means for them what it means on the whole lake."""

    def __init__(self, brand_id: int, ids: set[int], types: set[str], since: dt.datetime | None) -> None:
        self.at = _now()
        # a cursor of the process's DuckDB instance (cheap; a new instance costs ~50 ms): its
        # views and the WAL table are temporary, so they are this cursor's alone
        self.con = engine.duck()
        since_day = None if since is None else (since - dt.timedelta(days=1)).date().isoformat()
        rel = events_services.customers_relation(self.con, brand_id, ids, types=sorted(types), since_day=since_day)
        # a few customers' rows: kept as temporary tables, read once however many segments and
        # conditions use them
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE events AS {rel.sql_query()}")
        # these customers' events are all read from the lake: none from the behaviour summary
        self.con.execute("CREATE OR REPLACE TEMP VIEW events_unsummarised AS SELECT * FROM events")
        wanted = _ids_sql(ids)
        for name in engine.TABLES:
            columns = lake.FACT_COLUMNS[name]
            found = lake.fact_files(name, brand_id)
            if found:
                body = engine._duck_select(engine._listed(found), columns)
                body += f" WHERE customer_id IN ({wanted})"
            else:
                body = engine._duck_empty(columns)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")

    def members(self, definition: dict[str, Any], resolve: Callable[[int], dict[str, Any]]) -> set[int]:
        query = compile_definition(definition, dialect="duckdb", now=self.at, tz=settings.TIME_ZONE, resolve=resolve)
        engine.empty_summaries(self.con, query.summaries)  # their summary tables: empty
        return {
            int(r[0]) for r in self.con.execute(f"SELECT customer_id FROM ({query.sql}) m", query.params).fetchall()
        }

    def close(self) -> None:
        self.con.close()


@dataclass(frozen=True)
class Applied:
    segment_id: int
    entered: list[int]
    left: list[int]


def refresh_customers(
    brand_id: int,
    customer_ids: Iterable[int],
    *,
    types: set[str] | None = None,
    segment_ids: Iterable[int] | None = None,
    trigger: str = "event",
) -> list[Applied]:
    """Re-evaluate these customers against every live segment of the brand that reads one of
    ``types`` (all live segments when ``None``; or just ``segment_ids``), and apply the difference
    to their audiences. Returns what changed."""
    ids = {int(c) for c in customer_ids}
    if not ids:
        return []
    resolve = _resolver(brand_id)
    now = _now()
    chosen = []
    only = set(segment_ids) if segment_ids is not None else None
    for seg in live_segments(brand_id):
        if only is not None and seg.pk not in only:
            continue
        b = behaviour(seg.definition, now, resolve)
        if only is None and (not b.types or (types is not None and not b.types & types)):
            continue
        chosen.append((seg, b))
    if not chosen:
        return []
    kinds = set().union(*(b.types for _, b in chosen))
    starts = [b.since for _, b in chosen]
    since = None if any(s is None for s in starts) else min(s for s in starts if s is not None)
    done: list[Applied] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = set(ordered[start : start + CHUNK])
        snap = Snapshot(brand_id, chunk, kinds, since)
        try:
            for seg, _b in chosen:
                again = functools.partial(Snapshot, brand_id, chunk, kinds, since)
                applied = _apply(seg.pk, chunk, snap, resolve, trigger, again)
                if applied is not None:
                    done.append(applied)
        finally:
            snap.close()
    return done


def _apply(
    segment_id: int,
    ids: set[int],
    snap: Snapshot,
    resolve: Callable[[int], dict[str, Any]],
    trigger: str,
    again: Callable[[], Snapshot],
) -> Applied | None:
    with transaction.atomic():
        seg = Segment.objects.select_for_update().filter(pk=segment_id).first()
        if seg is None or seg.archived or seg.materialised_at is None:
            return None
        if seg.fresh_at is not None and _utc(seg.fresh_at) > snap.at:
            # someone wrote from a newer snapshot since ours was taken: ours may miss events
            snap = again()
            try:
                fresh = snap.members(seg.definition, resolve)
            finally:
                snap.close()
        else:
            fresh = snap.members(seg.definition, resolve)
        at = snap.at.replace(tzinfo=dt.UTC)
        current = set(
            SegmentMember.objects.filter(segment=seg, customer_id__in=sorted(ids)).values_list("customer_id", flat=True)
        )
        entered, left = sorted(fresh - current), sorted(current - fresh)
        now = clock.now()
        updates: dict[str, Any] = {"fresh_at": at}
        if entered or left:
            if left:
                SegmentMember.objects.filter(segment=seg, customer_id__in=left).delete()
            SegmentMember.objects.bulk_create([SegmentMember(segment=seg, customer_id=c, since=now) for c in entered])
            size = seg.size + len(entered) - len(left)
            run = SegmentRun.objects.create(
                segment=seg,
                version=seg.version,
                at=now,
                size=size,
                entered=len(entered),
                left=len(left),
                duration_ms=0,
                engine="duckdb",
                facts_version=0,
                trigger=trigger,
            )
            SegmentChange.objects.bulk_create(
                [SegmentChange(run=run, customer_id=c, entered=True) for c in entered]
                + [SegmentChange(run=run, customer_id=c, entered=False) for c in left]
            )
            updates["size"] = F("size") + len(entered) - len(left)
        Segment.objects.filter(pk=seg.pk).update(**updates)
    if entered or left:
        return Applied(segment_id, entered, left)
    return None


# --- windows that expire -------------------------------------------------------------------------------
def expired_customers(brand_id: int, b: Behaviour, since: dt.datetime, until: dt.datetime) -> set[int]:
    """Customers with an event that crossed one of the rolling boundaries of ``b`` between
    ``since`` and ``until`` (an event at ``t`` leaves an N-day window at ``t + N days``)."""
    if not b.rolling or until <= since:
        return set()
    found: set[int] = set()
    con = duckdb.connect(config={"threads": engine.settings_threads()})
    try:
        rel = events_services.relation(con, brand_id)
        con.register("siyu_all_events", rel)
        for kind, days in b.rolling:
            lo, hi = since - dt.timedelta(days=days), until - dt.timedelta(days=days)
            rows = con.execute(
                'SELECT DISTINCT customer_id FROM siyu_all_events WHERE type = ? AND "at" >= ? AND "at" < ? '
                "AND customer_id IS NOT NULL",
                [kind, lo, hi],
            ).fetchall()
            found |= {int(r[0]) for r in rows}
    finally:
        con.close()
    return found


def sweep(brand_id: int | None = None) -> dict[int, int]:
    """Apply the expiry of rolling windows to every live segment (of one brand or all): the
    customers whose events crossed a boundary since the last sweep are evaluated again. Returns
    how many customers entered or left each segment."""
    until = _now()
    out: dict[int, int] = {}
    brands = (
        [brand_id]
        if brand_id is not None
        else sorted(
            set(
                Segment.objects.filter(archived=False, materialised_at__isnull=False).values_list("brand_id", flat=True)
            )
        )
    )
    for brand in brands:
        resolve = _resolver(brand)
        for seg in live_segments(brand):
            b = behaviour(seg.definition, until, resolve)
            last = seg.swept_at or seg.materialised_at
            assert last is not None
            since = _utc(last)
            touched = expired_customers(brand, b, since, until)
            moved = 0
            if touched:
                for applied in refresh_customers(brand, touched, segment_ids=[seg.pk], trigger="sweep"):
                    moved += len(applied.entered) + len(applied.left)
            Segment.objects.filter(pk=seg.pk).update(swept_at=until.replace(tzinfo=dt.UTC))
            out[seg.pk] = moved
    return out
