"""The behaviour summary (ADR 0020): built for closed days from their parts, never read once the
day's parts changed, deleted with the change when the lake rewrites a day (compaction, erasure,
retention), rebuilt by the refresh."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from siyu.events import lake as events_lake
from siyu.events import services as events
from siyu.segments import summary
from tests import segments_lake as L
from tests.test_events_lake import lake_dir  # noqa: F401  (autouse: a lake of the test's own)

T = dt.datetime(2025, 5, 1, 10, 0)  # UTC
TODAY = dt.date(2025, 5, 3)


def _rows(directory: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return con.execute(
            f"SELECT type, hour, customer_id, events, amount_fen, quantity FROM read_parquet('{directory}/*.parquet') "
            "ORDER BY type, customer_id, hour"
        ).fetchall()


def test_a_closed_day_is_summarised_per_type_customer_and_hour() -> None:
    L.write_events(
        1,
        [
            L.event(1, 7, "order", T, amount_fen=100, quantity=2),
            L.event(1, 7, "order", T + dt.timedelta(minutes=30), amount_fen=250),
            L.event(1, 7, "order", T + dt.timedelta(hours=1)),
            L.event(1, 8, "view", T),
            L.event(1, None, "view", T),  # nobody's: no condition can count it
            L.event(1, 8, "custom:try_on", T),
            L.event(1, 8, "view", dt.datetime(2025, 5, 3, 1)),  # today: not closed yet
        ],
    )
    done = summary.refresh(1, today=TODAY)
    assert (done.built, done.current) == (1, 1)
    days = summary.current(1)
    assert list(days) == ["2025-05-01"]
    hour = dt.datetime(2025, 5, 1, 10)
    assert _rows(days["2025-05-01"]) == [
        ("custom:try_on", hour, 8, 1, None, None),
        ("order", hour, 7, 2, 350, 2),
        ("order", hour + dt.timedelta(hours=1), 7, 1, None, None),
        ("view", hour, 8, 1, None, None),
    ]
    assert [f.name for f in summary.files(days, ["order", "custom:try_on", "scan"])] == [
        "custom%3Atry_on.parquet",
        "order.parquet",
    ]
    assert summary.refresh(1, today=TODAY).built == 0  # nothing changed: nothing built


def test_a_day_whose_parts_changed_is_not_read_until_summarised_again() -> None:
    L.write_events(1, [L.event(1, 7, "order", T, amount_fen=100)])
    summary.refresh(1, today=TODAY)
    assert list(summary.current(1)) == ["2025-05-01"]
    L.write_events(1, [L.event(1, 7, "order", T, amount_fen=200, event_id="late")], name="part-1")
    assert summary.current(1) == {}  # stale: its fingerprint names other parts
    assert summary.refresh(1, today=TODAY).built == 1
    assert [r[3:5] for r in _rows(summary.current(1)["2025-05-01"])] == [(2, 300)]
    # the stale version is gone, one version per day
    assert len(list((summary.root(1) / "day=2025-05-01").iterdir())) == 1


def _view(n: int, customer_id: int, at: str) -> dict[str, Any]:
    return {"event_id": f"v-{n}", "type": "view", "at": at, "customer_id": customer_id}


def test_compaction_erasure_and_retention_delete_the_summary_of_the_days_they_change(
    world: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from huey.contrib.djhuey import HUEY as huey

    from siyu.members import services as members
    from siyu.org import services as org

    monkeypatch.setattr(huey, "immediate", True)
    brand = world.brand.pk
    gone, kept = world.customers["chen.guide"][:2]
    events.ingest(
        brand,
        [
            _view(1, gone, "2025-01-01T10:00:00+00:00"),
            _view(2, gone, "2025-04-20T10:00:00+00:00"),
            _view(3, kept, "2025-04-20T11:00:00+00:00"),
            _view(4, kept, "2025-04-21T11:00:00+00:00"),
        ],
    )
    events.compact()
    assert summary.refresh(brand, today=TODAY).built == 3
    # a late event compacted into a summarised day: that day's summary goes with the change
    events.ingest(brand, [_view(5, kept, "2025-04-21T12:00:00+00:00")])
    events.compact()
    assert sorted(summary.current(brand)) == ["2025-01-01", "2025-04-20"]
    assert not (summary.root(brand) / "day=2025-04-21").exists()
    summary.refresh(brand, today=TODAY)

    with django_capture_on_commit_callbacks(execute=True):
        members.erase_customer(org.hq_scope(brand, "test"), gone, reason="asked in store")
    # her days were rewritten: their summaries are deleted, the untouched day's kept
    assert sorted(summary.current(brand)) == ["2025-04-21"]
    assert [d.name for d in summary.root(brand).iterdir()] == ["day=2025-04-21"]
    summary.refresh(brand, today=TODAY)
    everyone = {r[2] for d in summary.current(brand).values() for r in _rows(d)}
    assert everyone == {kept}
    assert sorted(summary.current(brand)) == ["2025-04-20", "2025-04-21"]  # 1 January held only hers

    events.set_retention(org.hq_scope(brand, "t"), 30)
    assert events.apply_retention(brand, now=dt.datetime(2025, 5, 21, tzinfo=dt.UTC)) == 1
    assert sorted(summary.current(brand)) == ["2025-04-21"]
    assert not (summary.root(brand) / "day=2025-04-20").exists()


def test_a_summary_of_a_day_the_lake_no_longer_has_is_removed_by_the_refresh() -> None:
    L.write_events(1, [L.event(1, 7, "order", T, amount_fen=100)])
    summary.refresh(1, today=TODAY)
    for part in events_lake.parts(1):  # gone without telling (a restore, a hand-made change)
        part.unlink()
    part.parent.rmdir()
    assert summary.current(1) == {}
    assert summary.refresh(1, today=TODAY).removed == 1
    assert not summary.root(1).exists() or not any(summary.root(1).iterdir())
