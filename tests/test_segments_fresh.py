"""Incremental freshness (ADR 0016): an ingested event re-evaluates only the customers it touches
against the whole definition, so is_member / members_of / entered_since see the change at once;
rolling windows that expire are applied by the sweep; the result is always what a full
materialisation would give."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from siyu.bench.workloads import segments as bench_segments
from siyu.events import services as events
from siyu.members import services as members
from siyu.org import services as org
from siyu.platform import clock
from siyu.segments import facts, fresh
from siyu.segments import services as segments
from siyu.segments.models import SegmentChange, SegmentRun

NOW = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)
D = dt.timedelta


@pytest.fixture
def home(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    settings.SIYU_HOME = tmp_path
    settings.SIYU_SEGMENTS_FRESH = "inline"
    monkeypatch.delenv("SIYU_LAKE", raising=False)
    events.forget_caches()
    fresh.forget_live()
    with clock.frozen(NOW):
        yield tmp_path
    for writer in events._writers.values():
        writer.close()
    events._writers.clear()
    fresh.forget_live()


# The benchmark's segment: ≥2 orders totalling ≥300 CNY in 90 days, a tag, a region, no view in 30 days.
compound = bench_segments.compound


@pytest.fixture
def setup(world: Any, home: Path) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "test")
    group = members.create_tag_group(hq, name="兴趣")
    tag = members.create_tag(hq, group=group.pk, name="跑步")
    a = world.customers["chen.guide"]  # customers of SH001, region East
    for cid in a[:3]:
        members.add_tag(hq, cid, tag.pk)
    facts.refresh_facts(world.brand.pk)
    seg = segments.create_segment(hq, name="回头客", definition=compound(tag.pk, world.east.pk))
    return {"hq": hq, "tag": tag.pk, "a": a, "seg": seg}


def _order(n: int, cid: int, at: dt.datetime, fen: int = 20000) -> dict[str, Any]:
    return {"event_id": f"o-{n}", "type": "order", "at": at.isoformat(), "customer_id": cid, "amount_fen": fen}


def _view(n: int, cid: int, at: dt.datetime) -> dict[str, Any]:
    return {"event_id": f"v-{n}", "type": "view", "at": at.isoformat(), "customer_id": cid}


def _ingest(brand: int, batch: list[dict[str, Any]], capture: Any) -> None:
    with capture(execute=True):
        result = events.ingest(brand, batch)
    assert result.errors == [] and result.accepted == len(batch)


def test_what_a_definition_reads(setup: Any) -> None:
    b = fresh.behaviour(setup["seg"].definition, NOW.replace(tzinfo=None), lambda i: {})
    assert b.types == {"order", "view"}
    assert b.since == NOW.replace(tzinfo=None) - D(days=90)
    assert b.rolling == (("order", 90), ("view", 30))
    first = {"version": 1, "root": {"type": "first_time", "event": "order", "window": {"last_days": 7}}}
    assert fresh.behaviour(first, NOW.replace(tzinfo=None), lambda i: {}).since is None  # all history


def test_events_move_customers_in_and_out_at_once(
    world: Any, setup: Any, django_capture_on_commit_callbacks: Any
) -> None:
    brand, seg, a = world.brand.pk, setup["seg"], setup["a"]
    _ingest(
        brand, [_order(1, a[0], NOW - D(days=40)), _order(2, a[1], NOW - D(days=3))], django_capture_on_commit_callbacks
    )
    assert events.compact().events == 2  # these two are read from Parquet, the later ones from the WAL
    # not live yet (never materialised): events change nothing
    assert segments.members_of(brand, seg.pk) == []
    first = segments.materialise(brand, seg.pk)
    assert first.size == 0

    # a[0]'s second order: two orders, 400 CNY, tagged, East, no view → she enters, nobody else
    _ingest(brand, [_order(3, a[0], NOW - D(hours=1))], django_capture_on_commit_callbacks)
    assert segments.is_member(brand, seg.pk, a[0])
    assert segments.members_of(brand, seg.pk) == [a[0]]
    assert segments.entered_since(brand, seg.pk, NOW) == [a[0]]
    run = SegmentRun.objects.get(segment=seg, trigger="event")
    assert (run.entered, run.left, run.size) == (1, 0, 1)
    assert list(SegmentChange.objects.filter(run=run).values_list("customer_id", "entered")) == [(a[0], True)]

    # a[2] (tagged too): two small orders (250 CNY) are not enough, a third is
    _ingest(
        brand,
        [_order(4, a[2], NOW - D(days=2), 10000), _order(5, a[2], NOW - D(days=1), 15000)],
        django_capture_on_commit_callbacks,
    )
    assert not segments.is_member(brand, seg.pk, a[2])
    _ingest(brand, [_order(6, a[2], NOW - D(minutes=5), 5000)], django_capture_on_commit_callbacks)
    assert segments.members_of(brand, seg.pk) == sorted([a[0], a[2]])

    # a view makes a[0] leave; an untagged customer's orders change nothing
    _ingest(brand, [_view(1, a[0], NOW - D(minutes=1))], django_capture_on_commit_callbacks)
    assert not segments.is_member(brand, seg.pk, a[0])
    untagged = world.customers[world.other_guide.username][0]  # SH002, East
    _ingest(
        brand,
        [_order(7, untagged, NOW - D(days=1), 90000), _order(8, untagged, NOW, 90000)],
        django_capture_on_commit_callbacks,
    )
    assert segments.members_of(brand, seg.pk) == [a[2]]
    assert segments.segment_of(setup["hq"], seg.pk).size == 1
    assert segments.entered_since(brand, seg.pk, NOW) == [a[2]]

    # what the increments built is what a full evaluation gives: a full run changes nothing
    assert segments.evaluate(brand, seg.definition) == [a[2]]
    again = segments.materialise(brand, seg.pk)
    assert (again.entered, again.left, again.size) == (0, 0, 1)
    # the size history shows the full runs only
    assert [r.trigger for r in segments.history(setup["hq"], seg.pk)] == ["demand", "demand"]


def test_a_repeated_event_and_other_brands_change_nothing(
    world: Any, setup: Any, django_capture_on_commit_callbacks: Any
) -> None:
    brand, seg, a = world.brand.pk, setup["seg"], setup["a"]
    segments.materialise(brand, seg.pk)
    _ingest(
        brand,
        [_order(1, a[0], NOW - D(days=1)), _order(2, a[0], NOW - D(hours=2), 10000)],
        django_capture_on_commit_callbacks,
    )
    assert segments.members_of(brand, seg.pk) == [a[0]]
    with django_capture_on_commit_callbacks(execute=True):
        repeated = events.ingest(brand, [_order(2, a[0], NOW - D(hours=2), 10000)])
    assert repeated.duplicates == 1
    assert SegmentRun.objects.filter(segment=seg, trigger="event").count() == 1
    rival = world.customers[world.rival_guide.username][0]
    _ingest(world.rival_brand.pk, [_view(9, rival, NOW)], django_capture_on_commit_callbacks)
    assert segments.members_of(brand, seg.pk) == [a[0]]


def test_the_sweep_applies_windows_that_expire(world: Any, setup: Any, django_capture_on_commit_callbacks: Any) -> None:
    brand, seg, a = world.brand.pk, setup["seg"], setup["a"]
    _ingest(
        brand,
        [
            _order(1, a[0], NOW - D(days=10)),
            _order(2, a[0], NOW - D(days=5)),
            _view(1, a[0], NOW - D(days=29, hours=23)),  # keeps her out for one more hour
            _order(3, a[1], NOW - D(days=89, hours=12)),  # her first order leaves the 90 days in 12 hours
            _order(4, a[1], NOW - D(days=1)),
        ],
        django_capture_on_commit_callbacks,
    )
    segments.materialise(brand, seg.pk)
    assert segments.members_of(brand, seg.pk) == [a[1]]
    assert fresh.sweep(brand) == {seg.pk: 0}  # nothing crossed a boundary yet
    with clock.frozen(NOW + D(hours=2)):  # a[0]'s view is 30 days old: she enters
        assert fresh.sweep(brand) == {seg.pk: 1}
        assert segments.members_of(brand, seg.pk) == sorted([a[0], a[1]])
        assert segments.entered_since(brand, seg.pk, NOW + D(hours=1)) == [a[0]]
    with clock.frozen(NOW + D(hours=13)):  # a[1] has one order left in the window: she leaves
        assert fresh.sweep(brand) == {seg.pk: 1}
        assert segments.members_of(brand, seg.pk) == [a[0]]
        assert SegmentRun.objects.filter(segment=seg, trigger="sweep").count() == 2
        assert segments.materialise(brand, seg.pk).entered == 0  # the full run agrees


def test_events_of_types_no_live_segment_reads_are_ignored(
    world: Any, setup: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand, seg, a = world.brand.pk, setup["seg"], setup["a"]
    segments.materialise(brand, seg.pk)
    called: list[Any] = []
    monkeypatch.setattr(fresh, "refresh_customers", lambda *args, **kw: called.append(args))
    _ingest(
        brand,
        [{"event_id": "s-1", "type": "share", "at": NOW.isoformat(), "customer_id": a[0]}],
        django_capture_on_commit_callbacks,
    )
    assert called == []
    _ingest(brand, [_view(1, a[0], NOW)], django_capture_on_commit_callbacks)
    assert called == [(brand, {a[0]: {"view"}})]
