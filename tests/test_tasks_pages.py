"""The task pages end to end: HQ designs a task in the console, previews who receives it and
publishes it; a guide finds it under Today on her phone and finishes it with one tap; the store
manager approves a photo from the workbench; the completion dashboard draws its charts. In
Chinese and in English."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.platform import clock
from siyu.tasks.models import Assignment, Task
from tests.test_tasks_verify import png

NOW = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)


def client(world: Any, who: str, lang: str = "zh-hans") -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=lang)
    world.login(c, who)
    return c


def form(**over: str) -> dict[str, str]:
    data = {
        "title": "转发春季海报",
        "kind": "forward",
        "share_channel": "any",
        "count_mode": "times",
        "named": "chen.guide 2\nliu.guide",
        "target": "1",
        "repeat": "daily",
        "starts_at": "2026-07-01T09:00",
        "deadline_at": "2026-07-01T21:00",
        "auto_close": "on",
        "coins": "8",
    }
    data.update(over)
    return data


@pytest.fixture(autouse=True)
def _now() -> Any:
    with clock.frozen(NOW):
        yield


def test_hq_designs_previews_and_publishes_a_task(world: Any) -> None:
    hq = client(world, "hq_operator")
    page = hq.get(reverse("hq:task_new"))
    assert page.status_code == 200 and "新建任务" in page.content.decode()
    bad = hq.post(reverse("hq:task_new"), form(named="nobody.here"))
    assert bad.status_code == 400 and "nobody.here" in bad.content.decode()
    saved = hq.post(reverse("hq:task_new"), form())
    task = Task.objects.get()
    assert saved.status_code == 302 and saved["Location"] == reverse("hq:task_detail", args=[task.pk])
    assert task.targets == {str(world.staff["guide_a"].pk): 2} and task.repeat == "daily"
    preview = hq.get(saved["Location"]).content.decode()
    assert "2 人将收到此任务" in preview and "陈静" in preview and "目标合计 3" in preview
    hq.post(reverse("hq:task_publish", args=[task.pk]))
    assert Assignment.objects.filter(task=task).count() == 2
    detail = hq.get(reverse("hq:task_detail", args=[task.pk])).content.decode()
    assert "<svg" in detail and "各门店完成率" in detail
    en = client(world, "hq_operator", "en").get(reverse("hq:task_detail", args=[task.pk])).content.decode()
    assert "Completion by store" in en


def test_a_guide_finishes_her_task_from_today_with_one_tap(world: Any) -> None:
    hq = client(world, "hq_operator")
    hq.post(reverse("hq:task_new"), form(named="chen.guide", target="1", share_channel="moments"))
    task = Task.objects.get()
    hq.post(reverse("hq:task_publish", args=[task.pk]))
    guide = client(world, "guide_a")
    today = guide.get(reverse("guide:today")).content.decode()
    assert "转发春季海报" in today and "0/1" in today and "今日" in today
    (a,) = Assignment.objects.filter(task=task)
    detail = guide.get(reverse("guide:assignment_detail", args=[a.pk])).content.decode()
    assert "已分享到朋友圈" in detail
    guide.post(reverse("guide:assignment_share", args=[a.pk]), {"channel": "moments"})
    a.refresh_from_db()
    assert (a.status, a.progress) == ("done", 1)
    assert "已完成" in guide.get(reverse("guide:today")).content.decode()
    # her colleague sees none of it
    assert client(world, "guide_b").get(reverse("guide:assignment_detail", args=[a.pk])).status_code == 404


def test_today_links_every_page_of_her_enablement_and_a_learn_task_opens_its_article(world: Any) -> None:
    from siyu.tasks import views_guide

    guide = client(world, "guide_a")
    today = guide.get(reverse("guide:today")).content.decode()
    for name in (
        "guide:incentives_coins",
        "guide:incentives_mall",
        "guide:incentives_rank",
        "guide:my_contests",
        "guide:incentives_wall",
        "guide:feed",
        "guide:learn_home",
    ):
        assert f'href="{reverse(name)}"' in today, name
    assert len(views_guide.more_links()) == len(views_guide.MORE)  # every name resolves
    read = Task(brand_id=world.brand.pk, learn_kind="read", learn_ref=7)
    assert views_guide.learn_link(read) == reverse("guide:learn_article", args=[7])
    quiz = Task(brand_id=world.brand.pk, learn_kind="quiz", learn_ref=3)
    assert views_guide.learn_link(quiz) == reverse("guide:learn_quiz", args=[3])


def test_the_store_manager_sees_her_stores_tasks_and_team_without_dead_links(world: Any) -> None:
    hq = client(world, "hq_operator")
    hq.post(reverse("hq:task_new"), form(named="chen.guide\nliu.guide", target="1"))
    hq.post(reverse("hq:task_publish", args=[Task.objects.get().pk]))
    today = client(world, "store_manager").get(reverse("guide:today")).content.decode()
    assert "本店今日任务" in today and "转发春季海报" in today and "0/2" in today
    assert "团队今日进度" in today and "陈静" in today and reverse("guide:incentives_rank") + "#team-rank" in today
    assert 'href="#"' not in today


def test_the_store_manager_approves_a_photo_from_the_workbench(world: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    hq = client(world, "hq_operator")
    hq.post(reverse("hq:task_new"), form(kind="store_action", named="chen.guide", title="橱窗陈列"))
    task = Task.objects.get()
    hq.post(reverse("hq:task_publish", args=[task.pk]))
    (a,) = Assignment.objects.filter(task=task)
    guide = client(world, "guide_a")
    from django.core.files.uploadedfile import SimpleUploadedFile

    guide.post(reverse("guide:assignment_photo", args=[a.pk]), {"photo": SimpleUploadedFile("x.png", png())})
    manager = client(world, "store_manager")
    today = manager.get(reverse("guide:today")).content.decode()
    assert "待审核照片" in today and "橱窗陈列" in today and "陈静" in today
    sub = a.submissions.get()
    manager.post(reverse("guide:submission_decide", args=[sub.pk]), {"decision": "approve"})
    a.refresh_from_db()
    assert a.status == "done"


def test_the_completion_dashboard_charts_and_lists_overdue_work(world: Any) -> None:
    hq = client(world, "hq_operator")
    hq.post(reverse("hq:task_new"), form(named="chen.guide\nliu.guide\nsun.guide", repeat="once"))
    task = Task.objects.get()
    hq.post(reverse("hq:task_publish", args=[task.pk]))
    with clock.frozen(NOW + dt.timedelta(hours=13)):
        page = hq.get(reverse("hq:task_dashboard"), {"day": "2026-07-01"}).content.decode()
        region = client(world, "region_manager").get(reverse("hq:task_dashboard"), {"day": "2026-07-01"})
    assert page.count("<svg") >= 3 and "当前逾期" in page and "孙丽" in page
    assert region.status_code == 200
