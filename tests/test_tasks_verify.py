"""Guide tasks verify themselves: a binding and a share event complete tasks live, the recompute from
the facts finds what the listeners missed, a store action's photo is approved by the store
manager, outreach and learning count, coins are paid exactly once (also under concurrency on
PostgreSQL), reminders stop at three a day and overdue work reaches the store manager."""

from __future__ import annotations

import datetime as dt
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from siyu.channels.models import SmsMessage
from siyu.events import services as events
from siyu.incentives import services as incentives
from siyu.members.codes import create_code, scan
from siyu.members.identity import IdentityIn
from siyu.platform import clock, hooks
from siyu.tasks import notify, verify
from siyu.tasks import services as tasks
from siyu.tasks.models import Assignment, Credit, Escalation, FollowUp, Reminder, Submission

NOW = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)


def png(width: int = 80, height: int = 60) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def hq(world: Any, scope_of: Any) -> Any:
    with clock.frozen(NOW):
        yield scope_of(world.staff["hq_operator"])


def publish(hq: Any, guides: list[Any], **over: Any) -> list[Assignment]:
    data: dict[str, Any] = {
        "title": "任务",
        "kind": "forward",
        "guide_ids": [g.pk for g in guides],
        "target": 1,
        "starts_at": NOW,
        "deadline_at": NOW + dt.timedelta(hours=12),
        "coins": 20,
    }
    data.update(over)
    task = tasks.create_task(hq, **data)
    tasks.publish(hq, task.pk)
    return list(Assignment.objects.filter(task=task).order_by("guide_id"))


def south_manager(world: Any) -> Any:
    from siyu.org import services as org

    hq = org.hq_scope(world.brand.pk, "test")
    return org.create_staff(
        hq, username="gz.manager", name="黄经理", role="store_manager", store=world.gz1, password="x" * 8
    )


def state(a: Assignment) -> tuple[str, int]:
    a.refresh_from_db()
    return a.status, a.progress


def test_a_binding_completes_a_fans_task_live_and_pays_once(
    world: Any, hq: Any, scope_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    guide = world.staff["guide_a"]
    (a,) = publish(hq, [guide], kind="fans", target=1)
    done: list[tuple[int, str, int | None]] = []

    def heard(brand_id: int, guide_id: int, kind: str, ref: int | None) -> None:
        done.append((guide_id, kind, ref))

    hooks.on_guide_done(heard)
    try:
        code = create_code(scope_of(world.staff["hq_admin"]), kind="guide", guide=guide.pk)
        with clock.frozen(NOW + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
            scan(code, [IdentityIn(kind="openid", key="fan-1", app_id="wx1")])
    finally:
        hooks._guide_listeners.remove(heard)
    assert state(a) == ("done", 1)
    assert incentives.balance(world.brand.pk, guide.pk) == 20
    assert (guide.pk, "task.done", a.pk) in done
    # every later path pays nothing more
    assert verify.complete(a.pk) is False
    with clock.frozen(NOW + dt.timedelta(hours=2)):
        verify.pay(Assignment.objects.select_related("task").get(pk=a.pk), at=clock.now())
        verify.recompute(world.brand.pk)
    assert incentives.balance(world.brand.pk, guide.pk) == 20


def test_share_events_complete_a_forward_task_counted_in_customers(
    world: Any, hq: Any, django_capture_on_commit_callbacks: Any
) -> None:
    guide = world.staff["guide_a"]
    (a,) = publish(hq, [guide], target=2, count_mode="customers", content_id="poster-7")
    c1, c2 = world.customers["chen.guide"][:2]

    def share(n: int, customer: int, content: str = "poster-7") -> None:
        with clock.frozen(NOW + dt.timedelta(minutes=n)), django_capture_on_commit_callbacks(execute=True):
            events.emit(
                world.brand.pk,
                [
                    events.EventIn(
                        event_id=f"s-{n}",
                        type="share",
                        at=NOW + dt.timedelta(minutes=n),
                        customer_id=customer,
                        guide_id=guide.pk,
                        content_id=content,
                    )
                ],
            )

    share(1, c1)
    share(2, c1)  # the same customer again: still one
    share(3, c2, content="other")  # another item: does not count
    assert state(a) == ("open", 1)
    share(4, c2)
    assert state(a) == ("done", 2)
    assert set(Credit.objects.filter(assignment=a).values_list("key", flat=True)) == {f"cust:{c1}", f"cust:{c2}"}


def test_the_recompute_finds_what_the_listeners_missed(world: Any, hq: Any, scope_of: Any) -> None:
    guide, other = world.staff["guide_a"], world.staff["guide_b"]
    fans, _fans_b = publish(hq, [guide, other], kind="fans", target=1)
    forward, _forward_b = publish(hq, [guide, other], target=2)
    code = create_code(scope_of(world.staff["hq_admin"]), kind="guide", guide=guide.pk)
    with clock.frozen(NOW + dt.timedelta(hours=1)):  # no commit callbacks run: nobody listened
        scan(code, [IdentityIn(kind="openid", key="fan-2", app_id="wx1")])
        events.ingest(
            world.brand.pk,
            [
                {"event_id": "x-1", "type": "share", "at": (NOW + dt.timedelta(minutes=5)).isoformat(),
                 "customer_id": world.customers["chen.guide"][0], "guide": guide.pk},
                {"event_id": "x-0", "type": "share", "at": (NOW - dt.timedelta(minutes=5)).isoformat(),
                 "customer_id": world.customers["chen.guide"][0], "guide": guide.pk},
            ],
            platform=True,
        )  # fmt: skip
        tasks.record_share(scope_of(guide), channel="moments", content_id="poster-7")
        assert state(forward) == ("open", 1)  # the Moments share counted at once
        done = tasks.recompute(world.brand.pk)
    assert sorted(done) == sorted([fans.pk, forward.pk])
    assert state(fans) == ("done", 1) and state(forward) == ("done", 2)  # the share before the start did not count
    assert state(_fans_b) == ("open", 0)


def test_a_store_action_photo_is_approved_by_the_store_manager(world: Any, hq: Any, scope_of: Any, media: Path) -> None:
    guide, manager = world.staff["guide_a"], world.staff["store_manager"]
    (a,) = publish(hq, [guide], kind="store_action", title="陈列检查")
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        with pytest.raises(ValidationError):
            tasks.submit_photo(scope_of(guide), a.pk, data=b"GIF89a not a photo")
        with pytest.raises(Http404):  # someone else's task looks missing
            tasks.submit_photo(scope_of(world.staff["guide_b"]), a.pk, data=png())
        sub = tasks.submit_photo(scope_of(guide), a.pk, data=png(), note="橱窗已更新")
        with pytest.raises(ValidationError):  # one photo waits at a time
            tasks.submit_photo(scope_of(guide), a.pk, data=png())
        assert (media / sub.photo.name).exists()
        assert [s.pk for s in tasks.pending_submissions(scope_of(manager))] == [sub.pk]
        assert tasks.pending_submissions(scope_of(world.staff["hq_admin"]))
        with pytest.raises(PermissionDenied):
            tasks.decide(scope_of(guide), sub.pk, approve=True)
        with pytest.raises(Http404):  # another store's manager cannot reach it
            tasks.decide(scope_of(south_manager(world)), sub.pk, approve=True)
        with pytest.raises(ValidationError):
            tasks.decide(scope_of(manager), sub.pk, approve=False)  # a rejection says why
        tasks.decide(scope_of(manager), sub.pk, approve=False, reason="照片太暗")
        assert state(a) == ("open", 0)
        again = tasks.submit_photo(scope_of(guide), a.pk, data=png())
        tasks.decide(scope_of(manager), again.pk, approve=True)
        with pytest.raises(ValidationError):
            tasks.decide(scope_of(manager), again.pk, approve=True)
    assert state(a) == ("done", 1)
    assert Submission.objects.get(pk=again.pk).status == "approved"
    assert incentives.balance(world.brand.pk, guide.pk) == 20


def test_a_store_manager_never_approves_her_own_photo(world: Any, hq: Any, scope_of: Any, media: Path) -> None:
    manager = world.staff["store_manager"]
    (a,) = publish(hq, [manager], kind="store_action")
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        sub = tasks.submit_photo(scope_of(manager), a.pk, data=png())
        with pytest.raises(PermissionDenied):
            tasks.decide(scope_of(manager), sub.pk, approve=True)
        tasks.decide(scope_of(world.staff["region_manager"]), sub.pk, approve=True)
    assert state(a) == ("done", 1)


def test_follow_up_of_a_segment_intersected_with_her_customers(world: Any, hq: Any, scope_of: Any) -> None:
    from siyu.segments import services as segments

    guide = world.staff["guide_a"]
    mine = world.customers["chen.guide"]
    listed = [mine[0], mine[1], world.customers["liu.guide"][0]]
    seg = segments.create_segment(
        hq, name="回访", definition={"version": 1, "root": {"type": "list", "customers": listed}}
    )
    segments.materialise_now(hq, seg.pk)
    a, b = publish(hq, [guide, world.staff["guide_b"]], kind="follow_up", segment_id=seg.pk, target=0)
    assert (a.target, b.target) == (2, 1)
    rows = list(FollowUp.objects.filter(assignment=a).order_by("customer_id"))
    assert [f.customer_id for f in rows] == sorted(mine[:2])
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        with pytest.raises(Http404):
            tasks.record_outreach(scope_of(world.staff["guide_b"]), rows[0].pk, outcome="reached")
        tasks.record_outreach(scope_of(guide), rows[0].pk, outcome="no_answer")
        assert state(a) == ("open", 0)  # nobody answered: try again
        tasks.record_outreach(scope_of(guide), rows[0].pk, outcome="visit", note="周末到店")
        tasks.record_outreach(scope_of(guide), rows[1].pk, outcome="bought")
    assert state(a) == ("done", 2)
    assert FollowUp.objects.get(pk=rows[0].pk).attempts == 2
    assert rows[0].outreaches.count() == 2


def test_learning_completes_a_learn_task_live(world: Any, hq: Any) -> None:
    guide = world.staff["guide_a"]
    (a,) = publish(hq, [guide], kind="learn", learn_kind="read", learn_ref=41)
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        hooks.guide_done(world.brand.pk, guide.pk, "learn.read", 40)  # another article
        assert state(a) == ("open", 0)
        hooks.guide_done(world.brand.pk, guide.pk, "learn.passed", 41)  # a quiz of that id, not the article
        assert state(a) == ("open", 0)
        hooks.guide_done(world.brand.pk, guide.pk, "learn.read", 41)
    assert state(a) == ("done", 1)


def test_at_most_three_reminders_per_guide_in_24_hours(world: Any) -> None:
    guide = world.staff["guide_a"]
    b = world.brand.pk
    t0 = NOW
    with clock.frozen(t0):
        assert notify.remind(b, guide.pk, "1") is not None
    with clock.frozen(t0 + dt.timedelta(hours=1)):
        assert notify.remind(b, guide.pk, "2") is not None
        assert notify.remind(b, guide.pk, "3") is not None
        assert notify.remind(b, guide.pk, "4") is None
    with clock.frozen(t0 + dt.timedelta(hours=24) - dt.timedelta(seconds=1)):
        assert notify.remind(b, guide.pk, "5") is None  # the first is still within 24 hours
    with clock.frozen(t0 + dt.timedelta(hours=24)):
        assert notify.remind(b, guide.pk, "6") is not None  # the first left the window
        assert notify.remind(b, guide.pk, "7") is None
    assert Reminder.objects.filter(guide=guide).count() == 4
    # each went through the channel adapter (the SMS sandbox) to her mobile
    assert SmsMessage.objects.filter(brand_id=b, purpose="tasks.reminder").count() == 4
    assert notify.remind(b, world.staff["guide_b"].pk, "x") is not None  # the limit is per guide


def test_remind_open_reminds_each_guide_with_open_work_once(world: Any, hq: Any) -> None:
    publish(hq, [world.staff["guide_a"], world.staff["guide_b"]])
    publish(hq, [world.staff["guide_a"]], kind="fans")
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        assert notify.remind_open(world.brand.pk) == (2, 0)
        assert notify.remind_open(world.brand.pk) == (2, 0)
        assert notify.remind_open(world.brand.pk) == (2, 0)
        assert notify.remind_open(world.brand.pk) == (0, 2)
    text = Reminder.objects.filter(guide=world.staff["guide_a"]).first()
    assert text is not None and "2" in text.text


def test_overdue_work_closes_and_escalates_to_the_store_manager_once(world: Any, hq: Any, scope_of: Any) -> None:
    a, _b = publish(hq, [world.staff["guide_a"], world.south_guide])
    late = NOW + dt.timedelta(hours=13)
    with clock.frozen(late):
        assert notify.close_expired() == 2
        assert (
            notify.escalate() == 2
        )  # one notice per store: the flagship's manager; the South store (no manager yet) keeps its own
        assert notify.escalate() == 0
    assert state(a)[0] == "missed"
    notice = Escalation.objects.get(store=world.flagship)
    assert notice.manager_id == world.staff["store_manager"].pk and notice.overdue == 1
    assert SmsMessage.objects.filter(purpose="tasks.overdue").count() == 1
    assert Escalation.objects.filter(store=world.gz1, manager=None).count() == 1
    with clock.frozen(late):
        overdue = tasks.overdue(scope_of(world.staff["store_manager"]))
    assert [x.pk for x in overdue] == [a.pk]


def test_work_past_the_deadline_of_a_task_that_stays_open_still_counts(world: Any, hq: Any, scope_of: Any) -> None:
    guide = world.staff["guide_a"]
    (a,) = publish(hq, [guide], auto_close=False)
    with clock.frozen(NOW + dt.timedelta(hours=14)):
        assert notify.close_expired() == 0
        assert notify.escalate() == 1
        tasks.record_share(scope_of(guide), channel="group")
    assert state(a) == ("done", 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_completion_pays_exactly_once_under_concurrency_on_postgresql(world: Any, scope_of: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    guide = world.staff["guide_a"]
    with clock.frozen(NOW):
        hq = scope_of(world.staff["hq_operator"])
        (a,) = publish(hq, [guide], target=3)
    clients = 8
    barrier = threading.Barrier(clients)
    errors: list[BaseException] = []
    completed: list[int] = []

    def go(i: int) -> None:
        try:
            barrier.wait()
            with clock.frozen(NOW + dt.timedelta(minutes=1)):
                # every client credits the same three shares and then tries to complete
                keys = [(a.pk, f"event:e{k}", "share") for k in range(3)]
                completed.extend(verify.add_credits(world.brand.pk, keys))
                if verify.complete(a.pk):
                    completed.append(a.pk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert completed == [a.pk]
    assert state(a) == ("done", 3)
    assert incentives.balance(world.brand.pk, guide.pk) == 20
    assert Credit.objects.filter(assignment=a).count() == 3
