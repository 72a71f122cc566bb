"""The event lake's contract (ADR 0011): what is acknowledged is in the lake at once (from the WAL),
stays there once through compaction, a torn WAL tail is ignored, and erasure and retention remove
what they must."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from siyu.events import compaction, lake, services, wal

AT = "2025-05-01T10:00:00+08:00"


@pytest.fixture(autouse=True)
def lake_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIYU_LAKE", str(tmp_path / "lake"))
    services.forget_caches()
    yield tmp_path / "lake"
    for writer in services._writers.values():
        writer.close()
    services._writers.clear()


def _view(n: int, customer_id: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"v-{n}", "type": "view", "at": AT, "customer_id": customer_id, **extra}


def _rows(brand_id: int) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return lake.relation(con, brand_id).order("event_id").fetchall()


def test_events_are_readable_from_the_wal_before_compaction_and_once_after(world: Any) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    first = services.ingest(brand, [_view(1, cid, store=world.flagship.code), _view(2, cid), _view(2, cid)])
    assert (first.accepted, first.duplicates, first.errors) == (2, 1, [])
    again = services.ingest(brand, [_view(2, cid), _view(3, cid, properties={"page": "home"})])
    assert (again.accepted, again.duplicates) == (1, 1)

    rows = _rows(brand)
    assert [r[0] for r in rows] == ["v-1", "v-2", "v-3"]
    assert rows[0][lake.COLUMN_NAMES.index("store_id")] == world.flagship.pk
    assert rows[0][lake.COLUMN_NAMES.index("at")] == dt.datetime(2025, 5, 1, 2, 0)  # UTC
    assert lake.parts(brand) == []

    done = services.compact()
    assert (done.events, done.files) == (3, 1)
    assert [r[0] for r in _rows(brand)] == ["v-1", "v-2", "v-3"]
    assert [p.parent.name for p in lake.parts(brand)] == ["day=2025-05-01"]
    assert lake.pending_ndjson(brand) == b""
    # A later batch of the same day is merged with the small file: still one file, each id once.
    services.ingest(brand, [_view(3, cid), _view(4, cid)])
    services.compact()
    assert [r[0] for r in _rows(brand)] == ["v-1", "v-2", "v-3", "v-4"]
    assert len(lake.parts(brand)) == 1
    assert _rows(world.rival_brand.pk) == []


def test_listeners_hear_of_each_new_event_once_after_the_commit(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from siyu.platform import hooks

    heard: list[tuple[int, str, int]] = []

    def listener(brand_id: int, events: Any) -> None:
        heard.extend((brand_id, e["event_id"], e["customer_id"]) for e in events)

    def broken(brand_id: int, events: Any) -> None:
        raise RuntimeError("a listener's failure must not reach the ingesting caller")

    hooks.on_events(broken)
    hooks.on_events(listener)
    try:
        brand = world.brand.pk
        cid = world.customers["chen.guide"][0]
        with django_capture_on_commit_callbacks(execute=False) as pending:
            services.ingest(brand, [_view(1, cid), _view(2, cid)])
        assert heard == []  # not before the commit
        for callback in pending:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            again = services.ingest(brand, [_view(2, cid), _view(3, cid)])
        assert again.duplicates == 1
        assert heard == [(brand, "v-1", cid), (brand, "v-2", cid), (brand, "v-3", cid)]
    finally:
        hooks._events_listeners.remove(broken)
        hooks._events_listeners.remove(listener)


def test_bad_events_are_reported_one_by_one_and_good_ones_kept(world: Any) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    rival_customer = world.customers[world.rival_guide.username][0]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).isoformat()
    result = services.ingest(
        brand,
        [
            _view(1, cid),
            {"event_id": "x-2", "type": "teleport", "at": AT, "customer_id": cid},
            {"event_id": "x-3", "type": "view", "at": "2025-05-01 10:00", "customer_id": cid},
            {"event_id": "x-4", "type": "view", "at": future, "customer_id": cid},
            _view(5, rival_customer),
            _view(6, cid, store="NOPE"),
            _view(7, cid, properties={"nested": {"a": 1}}),
            {
                "event_id": "x-8",
                "type": "custom:coupon_seen",
                "at": AT,
                "customer": {"kind": "unionid", "key": "u-new"},
            },
        ],
    )
    assert result.accepted == 2
    assert [(e.index, e.field) for e in result.errors] == [
        (1, "type"),
        (2, "at"),
        (3, "at"),
        (4, "customer_id"),
        (5, "store"),
        (6, "properties"),
    ]
    rows = _rows(brand)
    assert [r[0] for r in rows] == ["v-1", "x-8"]
    # the unknown unionid became a customer; the same identity later finds her
    created = rows[1][lake.COLUMN_NAMES.index("customer_id")]
    later = services.ingest(
        brand, [{"event_id": "x-9", "type": "view", "at": AT, "customer": {"kind": "unionid", "key": "u-new"}}]
    )
    assert later.accepted == 1
    assert _rows(brand)[-1][lake.COLUMN_NAMES.index("customer_id")] == created


def test_a_torn_last_record_is_ignored_and_its_events_can_be_resent(world: Any, lake_dir: Path) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    services.ingest(brand, [_view(1, cid)])
    path = lake.wal_files()[0]
    whole = path.stat().st_size
    # A process killed mid-write leaves half a record (never acknowledged: the fsync never returned).
    with open(path, "ab") as f:
        f.write(wal.encode(brand, b'{"event_id": "torn"}\n')[:20])
    assert [r.end for r in wal.read_records(path)] == [whole]
    assert [r[0] for r in _rows(brand)] == ["v-1"]
    services.compact()
    assert [r[0] for r in _rows(brand)] == ["v-1"]


def test_a_crash_between_the_wal_and_the_commit_stores_the_resent_event_once(world: Any) -> None:
    """The first copy reached the WAL but its id was never registered (the process died before the
    commit); the client resends it, with another day even: the lake keeps one copy."""
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    row = (
        b'{"event_id":"c-1","brand_id":%d,"type":"view","at":"2025-04-30 23:59:00.000000","customer_id":%d,'
        b'"received_at":"2025-05-01 00:00:00.000000"}\n' % (brand, cid)
    )
    orphan = wal.Writer(lake.wal_dir())
    orphan.append(brand, row)
    orphan.close()  # its process is gone
    assert services.ingest(brand, [_view(9, cid) | {"event_id": "c-1"}]).accepted == 1
    services.compact()
    assert [(r[0], str(r[3].date())) for r in _rows(brand)] == [("c-1", "2025-05-01")]
    assert orphan.path not in lake.wal_files()  # the dead file was consumed and removed
    assert len(lake.wal_files()) == 1  # the live writer's stays


def test_a_compaction_interrupted_after_its_commit_point_is_finished_on_the_next(world: Any) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    services.ingest(brand, [_view(1, cid)])
    services.compact()
    old = lake.parts(brand)
    tmp, final = compaction.new_part(brand, "2025-05-01")
    tmp.write_bytes(old[0].read_bytes())
    # the journal is written (committed) but the process dies before applying it
    journal = {"renames": [[str(tmp), str(final)]], "deletes": [str(old[0])], "checkpoint": None, "remove_wal": []}
    (lake.root() / "journal.json").write_text(__import__("json").dumps(journal))
    services.compact()
    assert lake.parts(brand) == [final]
    assert [r[0] for r in _rows(brand)] == ["v-1"]


def test_erasing_a_customer_removes_her_events_from_the_lake_and_the_dedupe_index(
    world: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from huey.contrib.djhuey import HUEY as huey

    from siyu.events.models import EventKey
    from siyu.members import services as members
    from siyu.org import services as org

    monkeypatch.setattr(huey, "immediate", True)
    brand = world.brand.pk
    gone, kept = world.customers["chen.guide"][:2]
    services.ingest(brand, [_view(1, gone), _view(2, kept)])
    services.compact()
    services.ingest(brand, [_view(3, gone)])  # still in the WAL when she asks
    with django_capture_on_commit_callbacks(execute=True):
        members.erase_customer(org.hq_scope(brand, "test"), gone, reason="asked in store")
    assert [r[0] for r in _rows(brand)] == ["v-2"]
    assert set(EventKey.objects.filter(brand_id=brand).values_list("event_id", flat=True)) == {"v-2"}


def test_retention_drops_day_partitions_older_than_the_brands_policy(world: Any) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    services.ingest(
        brand,
        [_view(1, cid) | {"at": "2025-01-01T10:00:00+00:00"}, _view(2, cid) | {"at": "2025-04-20T10:00:00+00:00"}],
    )
    services.compact()
    services.set_retention(__import__("siyu.org.services", fromlist=["x"]).hq_scope(brand, "t"), 60)
    assert services.apply_retention(brand, now=dt.datetime(2025, 5, 1, tzinfo=dt.UTC)) == 1
    assert [r[0] for r in _rows(brand)] == ["v-2"]
    assert lake.days(brand) == ["2025-04-20"]
    # an id of a dropped day may come again: it is stored anew
    assert services.ingest(brand, [_view(1, cid) | {"at": "2025-04-21T10:00:00+00:00"}]).accepted == 1
    assert os.environ["SIYU_LAKE"].endswith("lake")


@pytest.mark.parametrize("chunk", [1, 3, 50_000])
def test_retention_walks_the_dedupe_index_in_chunks_and_forgets_only_old_days_of_its_brand(
    world: Any, chunk: int
) -> None:
    """The index has no entry by day (ADR 0023): the walk in key order, a chunk at a time, must
    still reach every old key, keep the newer ones and touch no other brand's."""
    from siyu.events.models import EventKey

    brand = world.brand.pk
    other = brand + 1000
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=(7 * n) % 90) for n in range(40)]
    EventKey.objects.bulk_create(
        [EventKey(brand_id=b, event_id=f"k-{n:03d}", day=day) for b in (brand, other) for n, day in enumerate(days)]
    )
    cutoff = dt.date(2025, 2, 15)
    old = {f"k-{n:03d}" for n, day in enumerate(days) if day < cutoff}
    assert 0 < len(old) < len(days)
    assert services.forget_keys_before(brand, cutoff, chunk=chunk) == len(old)
    left = set(EventKey.objects.filter(brand_id=brand).values_list("event_id", flat=True))
    assert left == {f"k-{n:03d}" for n in range(40)} - old
    assert EventKey.objects.filter(brand_id=other).count() == 40


def test_guide_listeners_hear_what_a_guide_did_and_a_failing_one_is_skipped() -> None:
    from siyu.platform import hooks

    heard: list[tuple[int, int, str, int | None]] = []

    def broken(*args: Any) -> None:
        raise RuntimeError("never reaches the caller")

    def listener(brand_id: int, guide_id: int, kind: str, ref_id: int | None) -> None:
        heard.append((brand_id, guide_id, kind, ref_id))

    hooks.on_guide_done(broken)
    hooks.on_guide_done(listener)
    hooks.on_guide_done(listener)
    try:
        hooks.guide_done(1, 7, "learn.passed", 3)
        assert heard == [(1, 7, "learn.passed", 3)]
    finally:
        hooks._guide_listeners.remove(broken)
        hooks._guide_listeners.remove(listener)


def test_concurrent_appends_share_fsyncs_and_every_record_is_whole(lake_dir: Path, monkeypatch: Any) -> None:
    """Group commit: threads appending at once are acknowledged by fewer fsyncs than appends, and
    each append returns only after an fsync that covered its record."""
    import threading

    synced_size = [0]  # how much of the file the latest fsync covered
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        size = os.fstat(fd).st_size
        real_fsync(fd)
        __import__("time").sleep(0.005)  # a slow disk: appends pile up behind one fsync
        synced_size[0] = max(synced_size[0], size)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    writer = wal.Writer(lake.wal_dir())
    errors: list[bytes] = []

    def append(n: int) -> None:
        for i in range(20):
            payload = b'{"event_id":"t%d-%d"}\n' % (n, i)
            writer.append(7, payload)
            assert writer.path is not None
            if payload not in writer.path.read_bytes()[: synced_size[0]]:
                errors.append(payload)  # acknowledged before an fsync covered it

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    records = list(wal.read_records(writer.path))  # type: ignore[arg-type]
    assert len(records) == 160 and {r.brand_id for r in records} == {7}
    assert 0 < writer.fsyncs < 160


def test_a_client_may_not_take_the_ids_of_the_platforms_own_events(world: Any) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    taken = services.ingest(brand, [_view(1, cid) | {"event_id": "order:1:paid"}])
    assert (taken.accepted, [e.field for e in taken.errors]) == (0, ["event_id"])
    own = services.emit(brand, [services.EventIn("order:1:paid", "order", dt.datetime(2025, 5, 1, tzinfo=dt.UTC), cid)])
    assert own.accepted == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_are_group_committed_and_each_id_is_stored_once(world: Any) -> None:
    """ADR 0021: requests of one process outside a transaction go through the group commit; batches
    sent at once by eight threads, overlapping in their ids, are each acknowledged as new exactly
    once, in the WAL once, and registered once."""
    import threading

    from siyu.events import group
    from siyu.events.models import EventKey

    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    results: list[services.IngestResult] = []
    failures: list[BaseException] = []
    committer = group.committer(services._register_group)  # the process's: earlier tests ran groups too
    groups_before = committer.groups

    def send(n: int) -> None:
        from django.db import connection

        try:
            for b in range(4):  # batch b of thread n overlaps thread n+1's: ids (n + b) % 8
                batch = [_view(1000 * ((n + b) % 8) + i, cid) for i in range(50)]
                results.append(services.ingest(brand, batch))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(r.accepted for r in results) == 400  # 8 distinct sets of 50 ids
    assert sum(r.accepted + r.duplicates for r in results) == 32 * 50
    ids = [r[0] for r in _rows(brand)]
    assert len(ids) == len(set(ids)) == 400
    assert EventKey.objects.filter(brand_id=brand).count() == 400
    assert 1 <= committer.groups - groups_before <= 32  # through the group commit, at most a group a batch
