"""Segments end to end on the OLTP side: the facts snapshot read through the members and org
services, definitions (validated, versioned, audited, permissioned), count, sample (masked),
overlap, materialisation with who entered and left, and what other domains call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from django.core.exceptions import PermissionDenied

from siyu.members import services as members
from siyu.org import services as org
from siyu.platform import clock
from siyu.platform.audit import AuditEntry
from siyu.segments import facts, lake
from siyu.segments import services as segments
from tests import segments_lake as L

NOW = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.SIYU_HOME = tmp_path
    with clock.frozen(NOW):
        yield tmp_path


def leaf(node: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": node}


@pytest.fixture
def tagged(world: Any, home: Path) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "test")
    group = members.create_tag_group(hq, name="兴趣")
    runner = members.create_tag(hq, group=group.pk, name="跑步")
    a = world.customers["chen.guide"]
    for cid in a[:2]:
        members.add_tag(hq, cid, runner.pk)
    members.record_consent(hq, a[0], "sms", True, "test", NOW - dt.timedelta(days=3))
    members.record_consent(hq, a[0], "sms", False, "test", NOW - dt.timedelta(days=1))
    members.record_consent(hq, a[1], "sms", True, "test", NOW - dt.timedelta(days=1))
    return {"hq": hq, "tag": runner.pk, "a": a}


def test_the_facts_snapshot_holds_live_customers_their_tags_and_the_consent_in_force(world: Any, tagged: Any) -> None:
    rival = facts.refresh_facts(world.rival_brand.pk)
    v = facts.refresh_facts(world.brand.pk)
    assert v.version == 1 and v.rows["customers"] == 12 and v.rows["customer_tags"] == 2
    assert facts.refresh_facts(world.brand.pk).version == 2  # a refresh is a new version, the old file gone
    assert len(lake.fact_files("customers", world.brand.pk)) == 1 and rival.rows["customers"] == 3
    con = duckdb.connect()
    rows = con.execute(
        "SELECT customer_id, store_id, region_id, city FROM read_parquet(?) ORDER BY customer_id",
        [str(lake.fact_files("customers", world.brand.pk)[0])],
    ).fetchall()
    first = next(r for r in rows if r[0] == tagged["a"][0])
    assert first[1:] == (world.flagship.pk, world.east.pk, world.flagship.city)
    consents = con.execute(
        "SELECT customer_id, granted FROM read_parquet(?)", [str(lake.fact_files("consents", world.brand.pk)[0])]
    ).fetchall()
    assert sorted(consents) == sorted([(tagged["a"][0], False), (tagged["a"][1], True)])
    assert facts.facts_version(world.brand.pk).version == 2  # type: ignore[union-attr]


def test_an_erased_customer_leaves_the_facts(world: Any, tagged: Any) -> None:
    members.erase_customer(tagged["hq"], tagged["a"][2], "asked to be forgotten")
    facts.refresh_facts(world.brand.pk)
    assert tagged["a"][2] not in segments.evaluate(world.brand.pk, leaf({"type": "list", "customers": tagged["a"]}))


def test_a_definition_is_validated_versioned_and_audited(world: Any, tagged: Any) -> None:
    hq = tagged["hq"]
    with pytest.raises(segments.InvalidDefinition) as exc:
        segments.create_segment(hq, name="坏", definition=leaf({"type": "tags", "match": "any", "tags": [99999]}))
    assert exc.value.problems == [("root.tags", "unknown tags: 99999")]
    seg = segments.create_segment(
        hq, name="跑者", definition=leaf({"type": "tags", "match": "any", "tags": [tagged["tag"]]})
    )
    same = segments.update_segment(hq, seg.pk, definition=seg.definition, description="同一定义")
    assert same.version == 1
    edited = segments.update_segment(
        hq, seg.pk, definition=leaf({"type": "tags", "match": "none", "tags": [tagged["tag"]]})
    )
    assert edited.version == 2 and [v.number for v in segments.versions(hq, seg.pk)] == [2, 1]
    assert AuditEntry.objects.filter(object_type="segment", object_id=str(seg.pk)).count() == 3
    with pytest.raises(segments.InvalidDefinition):  # no cycles
        segments.update_segment(hq, seg.pk, definition=leaf({"type": "segment", "segment": seg.pk}))
    other = segments.create_segment(hq, name="引用", definition=leaf({"type": "segment", "segment": seg.pk}))
    with pytest.raises(segments.InvalidDefinition) as exc:
        segments.update_segment(hq, seg.pk, definition=leaf({"type": "segment", "segment": other.pk}))
    assert "contain itself" in exc.value.problems[0][1]


def test_only_hq_may_define_and_read_segments(world: Any, tagged: Any, scope_of: Any) -> None:
    definition = leaf({"type": "list", "customers": tagged["a"]})
    for key in ("region_manager", "store_manager", "guide_a"):
        with pytest.raises(PermissionDenied):
            segments.create_segment(scope_of(world.staff[key]), name="x", definition=definition)
        with pytest.raises(PermissionDenied):
            segments.segments(scope_of(world.staff[key]))
    assert segments.create_segment(scope_of(world.staff["hq_operator"]), name="x", definition=definition).pk


def test_uploaded_phones_become_customers_and_unknown_numbers_are_refused(world: Any, tagged: Any) -> None:
    hq = tagged["hq"]
    seg = segments.create_segment(hq, name="名单", definition=leaf({"type": "list", "phones": ["137 0000 0004"]}))
    found = members.customer_by_phone(world.brand.pk, "13700000004")
    assert seg.definition["root"] == {"type": "list", "customers": [found.pk]}
    with pytest.raises(segments.InvalidDefinition) as exc:
        segments.create_segment(hq, name="名单2", definition=leaf({"type": "list", "phones": ["13799999999"]}))
    assert exc.value.problems[0][0] == "root.phones"


def test_count_sample_overlap_and_materialise(world: Any, tagged: Any, scope_of: Any) -> None:
    hq, a = tagged["hq"], tagged["a"]
    facts.refresh_facts(world.brand.pk)
    L.write_events(
        world.brand.pk, [L.event(world.brand.pk, a[0], "order", NOW - dt.timedelta(days=2), amount_fen=50000)]
    )
    runners = segments.create_segment(
        hq, name="跑者", definition=leaf({"type": "tags", "match": "any", "tags": [tagged["tag"]]})
    )
    buyers = segments.create_segment(
        hq,
        name="近期下单",
        definition=leaf(
            {"type": "event", "event": "order", "count": {"op": ">=", "value": 1}, "window": {"last_days": 30}}
        ),
        shared_with_guides=True,
    )
    c = segments.count(hq, runners.pk)
    assert (c.size, c.facts_version) == (2, 1)
    ov = segments.overlap(hq, runners.pk, buyers.pk)
    assert (ov.a, ov.b, ov.both, ov.only_a, ov.only_b) == (2, 1, 1, 1, 0)
    rows = segments.sample(hq, runners.pk, 5)
    assert sorted(r.id for r in rows) == sorted(a[:2]) and all(r.masked and "*" in r.phone for r in rows)

    first = segments.materialise(world.brand.pk, runners.pk)
    assert (first.size, first.entered, first.left) == (2, 2, 0)
    assert segments.members_of(world.brand.pk, runners.pk) == sorted(a[:2])
    assert segments.is_member(world.brand.pk, runners.pk, a[0]) and not segments.is_member(
        world.brand.pk, runners.pk, a[2]
    )
    again = segments.materialise(world.brand.pk, runners.pk)
    assert (again.size, again.entered, again.left) == (2, 0, 0)

    members.remove_tag(hq, a[1], tagged["tag"])
    members.add_tag(hq, world.customers["sun.guide"][0], tagged["tag"])
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        run = segments.materialise_now(hq, runners.pk)  # refreshes the facts first
    assert (run.size, run.entered, run.left, run.facts_version) == (2, 1, 1, 2)
    assert segments.changes(hq, run.pk, entered=True) == [world.customers["sun.guide"][0]]
    assert segments.changes(hq, run.pk, entered=False) == [a[1]]
    assert segments.entered_since(world.brand.pk, runners.pk, NOW + dt.timedelta(minutes=30)) == [
        world.customers["sun.guide"][0]
    ]
    assert [r.size for r in segments.history(hq, runners.pk)] == [2, 2, 2]
    assert segments.members_of_guide(world.brand.pk, runners.pk, world.staff["guide_a"].pk) == [a[0]]
    assert segments.members_of_guide(world.brand.pk, runners.pk, world.other_guide.pk) == [
        world.customers["sun.guide"][0]
    ]
    with pytest.raises(LookupError):
        segments.members_of(world.rival_brand.pk, runners.pk)

    segments.materialise(world.brand.pk, buyers.pk)
    mine = segments.shared_with_me(scope_of(world.staff["guide_a"]))
    assert [(s.name, s.customer_ids) for s in mine] == [("近期下单", [a[0]])]
    assert segments.shared_with_me(scope_of(world.staff["guide_b"]))[0].customer_ids == []


def test_scheduled_segments_materialise_when_due(world: Any, tagged: Any) -> None:
    hq = tagged["hq"]
    seg = segments.create_segment(
        hq, name="定时", definition=leaf({"type": "tags", "match": "any", "tags": [tagged["tag"]]}), schedule_minutes=60
    )
    segments.create_segment(hq, name="手动", definition=leaf({"type": "list", "customers": tagged["a"]}))
    assert segments.materialise_due() == {seg.pk: 2}
    assert segments.materialise_due() == {}  # not due again within the hour
    with clock.frozen(NOW + dt.timedelta(minutes=61)):
        assert segments.materialise_due() == {seg.pk: 2}
