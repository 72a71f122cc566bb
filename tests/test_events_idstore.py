"""Imported ids live beside the events, not in the OLTP dedupe index (ADR 0011, ``events/idstore.py``):
a re-import stores nothing new, an imported id sent again over HTTP is stored once, erasure and
retention take the ids with the rows, and a crash in the middle of an import leaves the lake whole."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from siyu.events import compaction, idstore, importer, lake, services, wal
from siyu.events.models import EventKey

AT = "2025-05-01T10:00:00+08:00"  # 2025-05-01 02:00 UTC
DAY = "2025-05-01"


@pytest.fixture(autouse=True)
def lake_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SIYU_LAKE", str(tmp_path / "lake"))
    services.forget_caches()
    yield tmp_path / "lake"
    services.close_writers()


def _file(path: Path, customer_id: int, n: int = 50, *, prefix: str = "imp") -> Path:
    """A Parquet file of ``n`` views on one day, written by DuckDB."""
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT '{prefix}-' || i AS event_id, 'view' AS type, '{AT}' AS at, {customer_id} AS customer_id "
            f"FROM range({n}) t(i)) TO '{path}' (FORMAT parquet)"
        )
    return path


def _stored(brand_id: int) -> list[tuple[str, str]]:
    """Each stored (event_id, day), as the engines read them (WAL part included)."""
    with duckdb.connect() as con:
        rows = lake.relation(con, brand_id).project('event_id, CAST("at" AS DATE)').fetchall()
    return sorted((e, str(d)) for e, d in rows)


def _view(event_id: str, customer_id: int, at: str = AT) -> dict[str, Any]:
    return {"event_id": event_id, "type": "view", "at": at, "customer_id": customer_id}


def test_a_reimport_stores_nothing_new_and_the_ids_stay_out_of_the_index(world: Any, tmp_path: Path) -> None:
    brand = world.brand.pk
    path = _file(tmp_path / "e.parquet", world.customers["chen.guide"][0])
    first = importer.import_file(brand, path)
    assert (first.accepted, first.duplicates) == (50, 0)
    parts = lake.parts(brand)
    assert parts and all(idstore.is_imported(p) for p in parts)
    assert not EventKey.objects.filter(brand_id=brand).exists()
    again = importer.import_file(brand, path)
    assert (again.accepted, again.duplicates) == (0, 50)
    assert lake.parts(brand) == parts  # not a file written
    services.compact()
    assert len(_stored(brand)) == 50
    assert idstore.stored(brand, [("imp-3", dt.date(2025, 5, 1)), ("imp-3", dt.date(2025, 5, 2)), ("x", DAY)]) == {
        "imp-3"
    }


def test_an_imported_id_sent_again_over_http_is_stored_once(world: Any, tmp_path: Path) -> None:
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    importer.import_file(brand, _file(tmp_path / "e.parquet", cid, 10))
    sent = services.ingest(brand, [_view("imp-1", cid), _view("imp-2", cid), _view("new-1", cid)])
    assert (sent.accepted, sent.duplicates) == (1, 2)
    # the WAL's rows are merged into the imported day's part: it stays an imported part, still consulted
    services.compact()
    assert [idstore.is_imported(p) for p in lake.parts(brand)] == [True]
    assert services.ingest(brand, [_view("imp-3", cid), _view("new-1", cid)]).duplicates == 2
    assert len(_stored(brand)) == 11
    # an HTTP id is also known to a later import of the same day (it is in the WAL, then in a part)
    services.ingest(brand, [_view("imp-20", cid)])
    later = importer.import_file(brand, _file(tmp_path / "more.parquet", cid, 25))
    assert (later.accepted, later.duplicates) == (14, 11)
    services.compact()
    assert len(_stored(brand)) == 26
    assert [e for e, _d in _stored(brand)].count("imp-20") == 1


def test_compaction_keeps_the_imported_copy_of_an_id_whose_registration_was_lost(world: Any, tmp_path: Path) -> None:
    """A WAL record was fsync-ed but its process died before registering its ids; one of them was
    imported on the same day: compaction registers it with that day and keeps one copy."""
    brand = world.brand.pk
    cid = world.customers["chen.guide"][0]
    importer.import_file(brand, _file(tmp_path / "e.parquet", cid, 5))
    row = (
        b'{"event_id":"imp-4","brand_id":%d,"type":"click","at":"2025-05-01 03:00:00.000000","customer_id":%d,'
        b'"received_at":"2025-05-01 04:00:00.000000"}\n' % (brand, cid)
    )
    orphan = wal.Writer(lake.wal_dir())
    orphan.append(brand, row)
    orphan.close()
    services.compact()
    assert _stored(brand) == [(f"imp-{i}", DAY) for i in range(5)]
    assert list(EventKey.objects.filter(brand_id=brand).values_list("event_id", "day")) == [
        ("imp-4", dt.date(2025, 5, 1))
    ]


def test_erasure_and_retention_remove_imported_ids_with_their_rows(
    world: Any, tmp_path: Path, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from huey.contrib.djhuey import HUEY as huey

    from siyu.members import services as members
    from siyu.org import services as org

    monkeypatch.setattr(huey, "immediate", True)
    brand = world.brand.pk
    gone, kept = world.customers["chen.guide"][:2]
    importer.import_file(brand, _file(tmp_path / "gone.parquet", gone, 3, prefix="g"))
    importer.import_file(brand, _file(tmp_path / "kept.parquet", kept, 3, prefix="k"))
    old = tmp_path / "old.ndjson"
    old.write_text(json.dumps(_view("old-1", kept, "2024-01-01T10:00:00+00:00")) + "\n")
    importer.import_file(brand, old)
    with django_capture_on_commit_callbacks(execute=True):
        members.erase_customer(org.hq_scope(brand, "test"), gone, reason="asked in store")
    assert [e for e, _d in _stored(brand)] == ["k-0", "k-1", "k-2", "old-1"]
    assert all(idstore.is_imported(p) for p in lake.parts(brand))  # rewritten parts keep their kind
    assert idstore.stored(brand, [("g-0", DAY), ("k-0", DAY)]) == {"k-0"}
    services.set_retention(org.hq_scope(brand, "t"), 60)
    assert services.apply_retention(brand, now=dt.datetime(2025, 5, 2, tzinfo=dt.UTC)) == 1
    assert idstore.stored(brand, [("old-1", "2024-01-01")]) == set()
    # both ids may come again and are stored anew, over HTTP or from a file
    assert services.ingest(brand, [_view("g-0", kept)]).accepted == 1
    assert importer.import_file(brand, old).accepted == 1


@pytest.mark.parametrize("dies", ["before the journal", "after the journal"])
def test_a_crash_in_the_middle_of_an_import_leaves_each_event_once(
    world: Any, tmp_path: Path, monkeypatch: Any, dies: str
) -> None:
    brand = world.brand.pk
    path = _file(tmp_path / "e.parquet", world.customers["chen.guide"][0], 40)
    with duckdb.connect() as con:  # two days, so the journal renames two parts
        con.execute(
            "COPY (SELECT * REPLACE (CASE WHEN event_id < 'imp-2' THEN '2025-05-03T10:00:00+08:00' "
            'ELSE "at" END AS "at") '
            f"FROM '{path}') TO '{tmp_path / 'two.parquet'}' (FORMAT parquet)"
        )
    path = tmp_path / "two.parquet"

    class Killed(Exception):
        pass

    name = "commit" if dies == "before the journal" else "_apply"
    real = getattr(compaction, name)

    def die(*args: Any, **kwargs: Any) -> None:
        raise Killed

    monkeypatch.setattr(compaction, name, die)
    with pytest.raises(Killed):
        importer.import_file(brand, path)
    monkeypatch.setattr(compaction, name, real)  # the next process
    if dies == "before the journal":
        assert lake.parts(brand) == [] and _stored(brand) == []
        assert importer.import_file(brand, path).accepted == 40
    else:
        assert (lake.root() / "journal.json").exists()
        again = importer.import_file(brand, path)  # the lock's recovery finishes the journal first
        assert (again.accepted, again.duplicates) == (0, 40)
    services.compact()
    assert len(_stored(brand)) == 40 and len({e for e, _d in _stored(brand)}) == 40
    assert not (lake.root() / "journal.json").exists()


def test_a_day_listing_is_kept_only_while_the_directory_is_unchanged_and_not_racy(tmp_path: Path) -> None:
    """The API path lists a day's imported parts once per change of the directory: a part added,
    renamed or removed changes its mtime; a listing taken within ``RACY_NS`` of the last change is
    not kept (a second change in the same clock tick would not show in the mtime)."""
    import os

    day = tmp_path / "day=2025-05-01"
    day.mkdir()
    first = day / f"{idstore.IMPORTED_PREFIX}a.parquet"
    first.write_bytes(b"")
    assert idstore._imported_in(str(day)) == [first]
    assert str(day) not in idstore._listings  # just changed: racy, not kept
    old = day.stat().st_mtime_ns - 10 * idstore.RACY_NS
    os.utime(day, ns=(old, old))
    assert idstore._imported_in(str(day)) == [first]
    assert idstore._listings[str(day)][2] == [first]  # kept
    second = day / f"{idstore.IMPORTED_PREFIX}b.parquet"
    (day / ".b.tmp").write_bytes(b"")
    os.replace(day / ".b.tmp", second)  # how compaction and the importer put a part in place
    assert idstore._imported_in(str(day)) == [first, second]
    first.unlink()
    assert idstore._imported_in(str(day)) == [second]
