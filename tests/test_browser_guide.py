"""A guide's and her store manager's enablement pages in a real browser (headless Chromium,
Playwright), on a phone: from her Today tab the guide finishes a task with one tap, redeems a gift
in the reward mall, sees her rank with the gap to the next place, opens her contest's live board,
likes a colleague's report in the feed and passes a quiz — every page reached from Today, none
wider than the phone, in Chinese and in English. Her store manager sees the store's tasks,
approves a photo, reads her team's ranks and the overdue list.

The platform clock is frozen at a Wednesday noon for the whole walk (the pages and the fixtures
agree on "today", whenever the suite runs). Screenshots of a failing step land in ``test-results/``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from siyu.demo import personas
from tests import test_browser
from tests.test_browser import Steps, _sign_in, in_the_database, no_sideways_scroll, on_a_phone
from tests.test_tasks_verify import png

browser = test_browser.browser  # the headless Chromium fixture of the browser tests

pytestmark = pytest.mark.browser

NOW = dt.datetime(2026, 12, 9, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _task(hq: Client, **over: str) -> None:
    data = {
        "title": "转发春季海报",
        "kind": "forward",
        "share_channel": "any",
        "count_mode": "times",
        "named": "chen.guide",
        "target": "1",
        "repeat": "once",
        "starts_at": "2026-12-09T09:00",
        "deadline_at": "2026-12-09T21:00",
        "auto_close": "on",
        "coins": "8",
    }
    data.update(over)
    saved = hq.post(reverse("hq:task_new"), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    pk = int(saved["Location"].rstrip("/").rsplit("/", 1)[1])
    hq.post(reverse("hq:task_publish", args=[pk]))


@pytest.fixture
def enabled(world: Any, scope_of: Any, settings: Any, tmp_path: Any) -> Iterator[dict[str, Any]]:
    """Her day: two tasks (a forward; a shop-window photo she already sent), 500 coins and a gift of
    300, sales on today's board (刘洋 ahead of her), a running contest, a colleague's report and
    a quiz. Made before the browser starts: the ORM is not called on Playwright's thread."""
    from siyu.contests import feed
    from siyu.contests import services as contests
    from siyu.incentives import services as incentives
    from siyu.learning import services as learning
    from siyu.platform import clock
    from siyu.tasks.models import Assignment

    settings.MEDIA_ROOT = tmp_path
    b, chen, liu = world.brand.pk, world.staff["guide_a"], world.staff["guide_b"]
    hq = scope_of(world.staff["hq_admin"])
    with clock.frozen(NOW):
        console = world.login(Client(), "hq_operator")
        _task(console)
        _task(console, title="橱窗陈列", kind="store_action")
        photo = Assignment.objects.get(task__title="橱窗陈列")
        guide = world.login(Client(), "guide_a")
        guide.post(reverse("guide:assignment_photo", args=[photo.pk]), {"photo": SimpleUploadedFile("w.png", png())})
        incentives.award(b, chen.pk, 500, key="walk-coins", reason="任务完成", source_type="task")
        gift = incentives.save_gift(hq, name="运动水壶", cost=300)
        incentives.restock(hq, gift.id, 3, key="walk-gift")
        incentives.record(b, "sales_fen", chen.pk, 30_000, key="walk-s1", at=NOW)
        incentives.record(b, "sales_fen", liu.pk, 45_000, key="walk-s2", at=NOW)
        day = NOW.date()
        contest = contests.create_contest(
            hq,
            contests.ContestIn(
                name="双十二转发 PK", metric="forwards", starts_on=day, ends_on=day + dt.timedelta(days=5)
            ),
        )
        contests.start_contest(hq, contest.pk)
        feed.publish(scope_of(liu), "今天成交 12 单，新增好友 8 位！")
        learning.create_quiz(
            hq,
            learning.QuizIn(
                title="跑鞋基础",
                questions=[
                    learning.QuestionIn(
                        "跑鞋的中底主要作用是？",
                        [learning.ChoiceIn("缓震", True), learning.ChoiceIn("防水"), learning.ChoiceIn("装饰")],
                    ),
                    learning.QuestionIn(
                        "顾客试穿时要确认哪些？",
                        [learning.ChoiceIn("脚长", True), learning.ChoiceIn("脚宽", True), learning.ChoiceIn("鞋盒")],
                        kind="multiple",
                    ),
                ],
            ),
        )
        yield {"gift": gift.id}


def test_a_guide_and_her_store_manager_walk_their_enablement_pages_on_a_phone(
    transactional_db: None,
    live_server: Any,
    world: Any,
    enabled: dict[str, Any],
    browser: Any,
    request: pytest.FixtureRequest,
) -> None:
    from playwright.sync_api import expect

    from siyu.incentives import services as incentives
    from siyu.tasks.models import Assignment, Submission

    base = live_server.url
    b, chen = world.brand.pk, world.staff["guide_a"]
    context, page = on_a_phone(browser)
    step = Steps(page, request.node.name)
    body = page.locator("body")

    def from_today(tile: str) -> None:
        page.goto(base + reverse("guide:today"))
        page.locator("#more").get_by_role("link", name=tile, exact=True).click()
        page.wait_for_load_state()
        no_sideways_scroll(page)

    with step("today-lists-her-tasks-and-every-page"):
        _sign_in(page, base, reverse("guide:login"), personas.GUIDE_A.username)
        page.locator("nav.tabbar").get_by_role("link", name="今日").click()
        page.wait_for_load_state()
        expect(page.locator("#today-open")).to_contain_text("转发春季海报")
        expect(page.locator("#today-open")).to_contain_text("橱窗陈列")
        for tile in ("我的金币", "积分商城", "我的排名", "我的比赛", "标杆墙", "业绩动态", "学习"):
            expect(page.locator("#more").get_by_role("link", name=tile, exact=True)).to_be_visible()
        no_sideways_scroll(page)

    with step("one-tap-finishes-the-forward-task"):
        page.locator("#today-open").get_by_role("link", name=re.compile("转发春季海报")).click()
        page.get_by_role("button", name="已分享到朋友圈").click()
        page.wait_for_load_state()
        expect(body).to_contain_text("已记录分享")
        no_sideways_scroll(page)
        page.get_by_role("link", name=re.compile("今日")).first.click()
        expect(page.locator("#today-finished")).to_contain_text("转发春季海报")
        forward = in_the_database(lambda: Assignment.objects.get(task__title="转发春季海报"))
        assert (forward.status, forward.progress) == ("done", 1)

    with step("she-redeems-a-gift-in-the-reward-mall"):
        from_today("积分商城")
        expect(body).to_contain_text("您有 508 金币")  # 500, and 8 for the task she just finished
        gift = page.locator("#gifts li", has_text="运动水壶")
        gift.get_by_role("link", name="兑换").click()  # one more tap before coins are spent
        expect(page.locator("#redeem")).to_contain_text("您现有 508 金币，兑换后剩 208 金币")
        no_sideways_scroll(page)
        page.get_by_role("button", name="确认花 300 金币兑换").click()
        page.wait_for_load_state()
        expect(body).to_contain_text("已兑换，等待总部审批")
        expect(body).to_contain_text("您有 208 金币")
        expect(page.locator("#my-redemptions")).to_contain_text("运动水壶")
        expect(page.locator("#my-redemptions")).to_contain_text("待审批")
        no_sideways_scroll(page)
        assert in_the_database(lambda: incentives.balance(b, chen.pk)) == 208

    with step("she-sees-her-rank-and-the-gap-to-the-next-place"):
        from_today("我的排名")
        expect(page.locator("#my-place")).to_contain_text("第 2 名")
        expect(page.locator("#my-place")).to_contain_text("¥150.00")  # to catch up with 刘洋
        expect(page.locator("#top")).to_contain_text("刘洋")
        expect(page.locator("#top .board-row.me")).to_contain_text("陈静")
        expect(page.locator("#team-rank")).to_have_count(0)  # a guide has no team to lead

    with step("her-contest-and-its-live-board"):
        from_today("我的比赛")
        page.locator("#my-contests").get_by_role("link", name=re.compile("双十二转发 PK")).click()
        page.wait_for_load_state()
        expect(page.locator("h1")).to_contain_text("双十二转发 PK")
        expect(page.locator(".my-standing")).to_contain_text("第 1 名 / 共 4 人")  # SH001's three and GZ001's
        expect(page.locator(".my-standing")).to_contain_text("还没有得分")  # not "you lead" at 0 points
        expect(page.locator(".my-standing")).not_to_contain_text("领先")
        no_sideways_scroll(page)

    with step("she-likes-a-colleagues-report"):
        from_today("业绩动态")
        post = page.locator("#feed li", has_text="今天成交 12 单")
        post.get_by_role("button", name=re.compile("点赞")).click()
        page.wait_for_load_state()
        expect(page.locator("#feed li", has_text="今天成交 12 单").locator(".liked")).to_contain_text("1")

    with step("she-passes-a-quiz"):
        from_today("学习")
        page.locator("#quizzes").get_by_role("link", name=re.compile("跑鞋基础")).click()
        page.wait_for_load_state()
        page.get_by_label("缓震").check()
        page.get_by_label("脚长").check()
        page.get_by_label("脚宽").check()
        page.get_by_role("button", name="提交").click()
        page.wait_for_load_state()
        expect(page.locator(".quiz-result.pass")).to_contain_text("通过了")
        no_sideways_scroll(page)

    with step("the-wall-and-her-coins-say-something-when-empty"):
        from_today("标杆墙")
        expect(page.locator("#wall")).to_contain_text("还没有")
        from_today("我的金币")
        expect(page.locator("#coin-history")).to_contain_text("运动水壶")

    with step("in-english-too"):
        with page.expect_navigation():  # the language menu posts its form on change
            page.locator("form.lang select").select_option("en")
        page.goto(base + reverse("guide:today"))
        for tile in ("My coins", "Reward mall", "My rank", "My contests", "Benchmark wall", "Performance feed"):
            expect(page.locator("#more").get_by_role("link", name=tile, exact=True)).to_be_visible()
        from_today("My rank")
        expect(page.locator("#my-place")).to_contain_text("No. 2")
        from_today("Reward mall")
        expect(body).to_contain_text("You have 208 coins")
    context.close()

    manager_context, manager = on_a_phone(browser)
    m_step = Steps(manager, request.node.name + "-manager")
    with m_step("her-stores-tasks-photos-team-and-overdue"):
        _sign_in(manager, base, reverse("guide:login"), personas.STORE_MANAGER.username)
        manager.goto(base + reverse("guide:today"))
        tasks = manager.locator("#store-tasks")
        expect(tasks).to_contain_text("转发春季海报")
        expect(tasks).to_contain_text("1/1")
        expect(tasks).to_contain_text("橱窗陈列")
        expect(manager.locator("#team")).to_contain_text("陈静")
        expect(manager.locator("#overdue")).to_be_visible()
        assert manager.locator("a[href='#']").count() == 0
        no_sideways_scroll(manager)

    with m_step("she-approves-the-photo"):
        approval = manager.locator(".approvals li", has_text="橱窗陈列")
        expect(approval).to_contain_text("陈静")
        approval.get_by_role("button", name="批准").click()
        manager.wait_for_load_state()
        expect(manager.locator(".approvals")).to_contain_text("没有待审核的照片")
        assert in_the_database(lambda: Submission.objects.get().status) == "approved"

    with m_step("her-teams-ranks"):
        manager.get_by_role("link", name=re.compile("团队排名")).click()
        manager.wait_for_load_state()
        team = manager.locator("#team-rank")
        expect(team).to_contain_text("刘洋")
        expect(team).to_contain_text("陈静")
        expect(team).not_to_contain_text(world.south_guide.name)
        no_sideways_scroll(manager)
    manager_context.close()
