"""Guide tasks: the designer (validation, permissions, audit), targeting and its preview, the
fan-out of rounds (one assignment per guide per round, never twice) and the daily schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.org import services as org
from siyu.platform import clock
from siyu.platform.audit import AuditEntry
from siyu.tasks import fanout, rules
from siyu.tasks import services as tasks
from siyu.tasks.models import Assignment, Occurrence, Task

NOW = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def draft(scope: Any, **over: Any) -> Task:
    data: dict[str, Any] = {
        "title": "转发新品海报",
        "kind": "forward",
        "whole_brand": True,
        "target": 3,
        "starts_at": NOW,
        "deadline_at": NOW + dt.timedelta(hours=12),
        "coins": 10,
    }
    data.update(over)
    return tasks.create_task(scope, **data)


@pytest.fixture
def hq(world: Any, scope_of: Any) -> Any:
    with clock.frozen(NOW):
        yield scope_of(world.staff["hq_operator"])


def test_a_draft_is_validated_field_by_field_and_nothing_is_written(world: Any, hq: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        tasks.create_task(
            hq,
            title="",
            kind="nonsense",
            target=0,
            starts_at=NOW,
            deadline_at=NOW - dt.timedelta(hours=1),
            region_ids=[world.rival_store.region_id],
        )
    fields = set(caught.value.message_dict)
    assert {"title", "kind", "target", "deadline_at", "region_ids"} <= fields
    assert not Task.objects.exists()
    with pytest.raises(ValidationError) as caught:
        draft(hq, repeat="daily", deadline_at=NOW + dt.timedelta(days=2))
    assert "deadline_at" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        draft(hq, whole_brand=False)
    assert "whole_brand" in caught.value.message_dict


def test_only_hq_designs_tasks(world: Any, scope_of: Any) -> None:
    with clock.frozen(NOW):
        for persona in ("region_manager", "store_manager", "guide_a"):
            with pytest.raises(PermissionDenied):
                draft(scope_of(world.staff[persona]))
    assert not Task.objects.exists()


def test_targeting_reaches_regions_stores_roles_and_named_guides_with_own_targets(world: Any, hq: Any) -> None:
    guide_a, guide_b = world.staff["guide_a"], world.staff["guide_b"]
    everyone = fanout.plan(draft(hq))
    assert {p.id for p in everyone.people} == {guide_a.pk, guide_b.pk, world.other_guide.pk, world.south_guide.pk}
    assert world.rival_guide.pk not in everyone.targets
    south = fanout.plan(draft(hq, whole_brand=False, region_ids=[world.south.pk]))
    assert [p.id for p in south.people] == [world.south_guide.pk]
    store = fanout.plan(draft(hq, whole_brand=False, store_ids=[world.flagship.pk], roles=["guide", "store_manager"]))
    assert {p.id for p in store.people} == {guide_a.pk, guide_b.pk, world.staff["store_manager"].pk}
    named = fanout.plan(
        draft(hq, whole_brand=False, guide_ids=[guide_a.pk, world.south_guide.pk], targets={str(guide_a.pk): 7})
    )
    assert named.targets == {guide_a.pk: 7, world.south_guide.pk: 3}
    with pytest.raises(ValidationError):
        draft(hq, whole_brand=False, guide_ids=[guide_a.pk], targets={str(guide_b.pk): 2})


def test_preview_says_who_receives_it_before_publishing(world: Any, hq: Any) -> None:
    task = draft(hq, whole_brand=False, region_ids=[world.east.pk])
    p = tasks.preview(hq, task.pk)
    assert p.total == 3 and p.target_total == 9
    assert dict(p.by_region) == {world.east.code: 3}
    assert dict(p.by_store) == {world.flagship.name: 2, world.sh2.name: 1}
    assert {name for name, _store, _t in p.sample} == {"陈静", "刘洋", "孙丽"}
    assert not Assignment.objects.exists()  # a preview writes nothing


def test_publishing_fans_out_one_assignment_per_guide_and_is_audited(world: Any, hq: Any) -> None:
    task = draft(hq)
    tasks.publish(hq, task.pk)
    task.refresh_from_db()
    assert task.status == "published" and task.last_seq == 1
    rows = list(
        Assignment.objects.filter(task=task).values_list("guide_id", "store_id", "region_id", "target", "coins")
    )
    assert sorted(rows) == sorted(
        [
            (world.staff["guide_a"].pk, world.flagship.pk, world.east.pk, 3, 10),
            (world.staff["guide_b"].pk, world.flagship.pk, world.east.pk, 3, 10),
            (world.other_guide.pk, world.sh2.pk, world.east.pk, 3, 10),
            (world.south_guide.pk, world.gz1.pk, world.south.pk, 3, 10),
        ]
    )
    assert AuditEntry.objects.filter(action="task.publish").count() == 1
    with pytest.raises(ValidationError):
        tasks.publish(hq, task.pk)
    with pytest.raises(ValidationError):
        tasks.update_task(hq, task.pk, title="改")
    # running the schedule again adds nothing to a one-off task
    assert tasks.run_schedules(world.brand.pk) == 0
    assert Assignment.objects.filter(task=task).count() == 4


def test_a_daily_task_gets_a_round_each_day_until_its_last_day(world: Any, hq: Any) -> None:
    task = draft(hq, repeat="daily", repeat_until=dt.date(2026, 7, 3))
    tasks.publish(hq, task.pk)
    assert Occurrence.objects.filter(task=task).count() == 1
    with clock.frozen(NOW + dt.timedelta(hours=23)):
        assert tasks.run_schedules(world.brand.pk) == 0
    with clock.frozen(NOW + dt.timedelta(days=1, minutes=5)):
        assert tasks.run_schedules(world.brand.pk) == 4
        assert tasks.run_schedules(world.brand.pk) == 0  # idempotent
    with clock.frozen(NOW + dt.timedelta(days=5)):  # the job was down for days: catches up, then stops
        assert tasks.run_schedules(world.brand.pk) == 4
    occ = list(Occurrence.objects.filter(task=task).order_by("seq").values_list("seq", "due_at"))
    assert [s for s, _ in occ] == [1, 2, 3]
    assert occ[2][1] == NOW + dt.timedelta(days=2, hours=12)


def test_fan_out_of_a_round_never_assigns_twice(world: Any, hq: Any) -> None:
    task = draft(hq)
    tasks.publish(hq, task.pk)
    r = rules.round_of(1, "once", task.starts_at, task.deadline_at)
    assert fanout.fan_out(Task.objects.get(pk=task.pk), r, now=NOW) == 0
    assert Assignment.objects.filter(task=task).count() == 4


def test_fan_out_reads_and_writes_a_chunk_at_a_time_and_misses_nobody(
    world: Any, hq: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 2 staff: the chunk boundaries fall between guides, managers and named people.
    monkeypatch.setattr(fanout, "BATCH", 2)
    chunks = list(org.posted_staff_chunks(world.brand.pk, roles=["guide", "store_manager"], size=2))
    assert all(0 < len(c) <= 2 for c in chunks) and len(chunks) >= 3
    ids = [p.id for c in chunks for p in c]
    assert ids == sorted(ids) and ids == [
        p.id for p in org.posted_staff(world.brand.pk, roles=["guide", "store_manager"])
    ]
    task = draft(hq, guide_ids=[world.south_guide.pk], targets={str(world.south_guide.pk): 5})
    tasks.publish(hq, task.pk)
    got = dict(Assignment.objects.filter(task=task).values_list("guide_id", "target"))
    assert got == {p.id: (5 if p.id == world.south_guide.pk else 3) for p in fanout.plan(task).people}
    assert len(got) == 4 and Occurrence.objects.get(task=task).assigned == 4


def test_closing_marks_open_work_missed(world: Any, hq: Any) -> None:
    task = draft(hq)
    tasks.publish(hq, task.pk)
    tasks.close(hq, task.pk)
    assert set(Assignment.objects.filter(task=task).values_list("status", flat=True)) == {"missed"}


def test_the_schedule_rules() -> None:
    tz = dt.UTC
    start, due = NOW, NOW + dt.timedelta(hours=8)
    assert [r.seq for r in rules.rounds_due("weekly", start, due, None, 0, NOW + dt.timedelta(days=15), tz)] == [
        1,
        2,
        3,
    ]
    assert rules.rounds_due("once", start, due, None, 1, NOW, tz) == []
    assert (
        rules.rounds_due("daily", start + dt.timedelta(days=2), due + dt.timedelta(days=2), None, 0, NOW, tz)[0].seq
        == 1
    )
    assert rules.schedule_problems("weekly", start, start + dt.timedelta(days=8), None, tz) == {
        "deadline_at": "deadline_within_period"
    }
    assert org.hq_scope(1).can("tasks.manage")
