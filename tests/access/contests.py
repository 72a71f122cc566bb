"""Who may use the pages and API of PK contests, the performance feed and learning (see
``model.py``): HQ designs, starts and settles contests, moderates the feed and writes the knowledge
base; every console role reads boards and the knowledge base; guides (and store managers on the
workbench) take part, post, like, comment, read and take quizzes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from siyu.org.services import Perm
from tests.access.model import CONSOLE, HQ, WORKBENCH, Rule, World

GUIDE_ONLY = frozenset({"guide_a"})


def _hq(w: World) -> Any:
    return w.staff["hq_admin"].scope


def _contest(w: World, name: str, *, start: bool) -> int:
    from siyu.contests import services as contests
    from siyu.contests.models import Contest
    from siyu.platform import clock

    found = Contest.objects.filter(brand=w.brand, name=name).first()
    if found is not None:
        return found.pk
    today = clock.today()
    c = contests.create_contest(
        _hq(w),
        contests.ContestIn(
            name=name,
            metric="forwards",
            starts_on=today,
            ends_on=today + dt.timedelta(days=6),
            targets=(contests.TargetIn(3, 10),),
        ),
    )
    if start:
        contests.start_contest(_hq(w), c.pk)
    return c.pk


def running(w: World) -> dict[str, Any]:
    return {"pk": _contest(w, "matrix running", start=True)}


def draft(w: World) -> dict[str, Any]:
    return {"pk": _contest(w, "matrix draft", start=False)}


def running_api(w: World) -> dict[str, Any]:
    return {"contest_id": _contest(w, "matrix running", start=True)}


def draft_api(w: World) -> dict[str, Any]:
    return {"contest_id": _contest(w, "matrix draft", start=False)}


def _post(w: World, author: Any, text: str) -> int:
    from siyu.contests import feed
    from siyu.contests.models import FeedPost

    found = FeedPost.objects.filter(brand=w.brand, text=text).first()
    return found.pk if found is not None else feed.publish(author.scope, text).pk


def east_post(w: World) -> dict[str, Any]:
    return {"pk": _post(w, w.other_guide, "matrix: 五角场店战报")}


def south_post(w: World) -> dict[str, Any]:
    return {"pk": _post(w, w.south_guide, "matrix: 天河城店战报")}


def east_post_api(w: World) -> dict[str, Any]:
    return {"post_id": east_post(w)["pk"]}


def south_post_api(w: World) -> dict[str, Any]:
    return {"post_id": south_post(w)["pk"]}


def _article(w: World) -> int:
    from siyu.learning import services as learning
    from siyu.learning.models import Article

    found = Article.objects.filter(brand=w.brand, title="matrix 跑鞋试穿").first()
    if found is not None:
        return found.pk
    return learning.create_article(_hq(w), learning.ArticleIn(title="matrix 跑鞋试穿", body="先量脚长", tags="跑鞋")).pk


def article(w: World) -> dict[str, Any]:
    return {"pk": _article(w)}


def article_api(w: World) -> dict[str, Any]:
    return {"article_id": _article(w)}


def _quiz(w: World) -> int:
    from siyu.learning import services as learning
    from siyu.learning.models import Quiz
    from siyu.platform import clock

    found = Quiz.objects.filter(brand=w.brand, title="matrix 测验").first()
    if found is not None:
        return found.pk
    now = clock.now()
    question = learning.QuestionIn("中底的作用？", [learning.ChoiceIn("缓震", True), learning.ChoiceIn("防水")])
    data = learning.QuizIn(
        title="matrix 测验",
        questions=[question],
        max_attempts=0,
        contest_starts_at=now - dt.timedelta(days=1),
        contest_ends_at=now + dt.timedelta(days=1),
    )
    return learning.create_quiz(_hq(w), data).pk


def quiz(w: World) -> dict[str, Any]:
    return {"pk": _quiz(w)}


def quiz_api(w: World) -> dict[str, Any]:
    return {"quiz_id": _quiz(w)}


def attempt_api(w: World) -> dict[str, Any]:
    from siyu.learning import services as learning

    return {"attempt_id": learning.start_attempt(w.staff["guide_a"].scope, _quiz(w)).pk}


def _contest_form(w: World) -> dict[str, Any]:
    return {
        "name": "新的 PK",
        "metric": "new_fans",
        "kind": "individual",
        "team_by": "",
        "starts_on": "2030-01-01",
        "ends_on": "2030-01-07",
        "guide_targets": "3=10",
    }


def _contest_json(w: World) -> dict[str, Any]:
    return {"name": "API PK", "metric": "forwards", "starts_on": "2030-01-01", "ends_on": "2030-01-07"}


def _article_form(w: World) -> dict[str, Any]:
    return {"kind": "script", "title": "进店问候话术", "body": "您好，欢迎光临", "tags": "话术", "published": "on"}


def _quiz_form(w: World) -> dict[str, Any]:
    return {"title": "新测验", "pass_percent": "80", "max_attempts": "3", "questions": "题一\n* 对\n- 错"}


RULES: dict[tuple[str, str], Rule] = {
    # --- HQ console: contests ---
    ("hq:contest_list", "GET"): Rule(CONSOLE),
    ("hq:contest_new", "GET"): Rule(HQ),
    ("hq:contest_new", "POST"): Rule(HQ, data=_contest_form, ok=302),
    ("hq:contest_detail", "GET"): Rule(CONSOLE, kwargs=running),
    ("hq:contest_edit", "GET"): Rule(HQ, kwargs=draft),
    ("hq:contest_edit", "POST"): Rule(HQ, kwargs=draft, data=_contest_form, ok=302),
    ("hq:contest_start", "POST"): Rule(HQ, kwargs=draft, ok=302),
    ("hq:contest_settle", "POST"): Rule(HQ, kwargs=running, ok=302),
    ("hq:contest_delete", "POST"): Rule(HQ, kwargs=draft, ok=302),
    ("hq:contest_board", "GET"): Rule(CONSOLE, kwargs=running),
    # --- HQ console: the feed ---
    ("hq:feed_list", "GET"): Rule(CONSOLE),
    ("hq:feed_audience", "POST"): Rule(HQ, data=lambda w: {"audience": "brand"}, ok=302),
    ("hq:feed_hide", "POST"): Rule(HQ, kwargs=east_post, data=lambda w: {"reason": "x"}, ok=302),
    # --- HQ console: learning ---
    ("hq:learning_list", "GET"): Rule(CONSOLE, query="q=跑鞋"),
    ("hq:article_new", "GET"): Rule(HQ),
    ("hq:article_new", "POST"): Rule(HQ, data=_article_form, ok=302),
    ("hq:article_edit", "GET"): Rule(HQ, kwargs=article),
    ("hq:article_edit", "POST"): Rule(HQ, kwargs=article, data=_article_form, ok=302),
    ("hq:quiz_list", "GET"): Rule(CONSOLE),
    ("hq:quiz_new", "GET"): Rule(HQ),
    ("hq:quiz_new", "POST"): Rule(HQ, data=_quiz_form, ok=302),
    ("hq:quiz_detail", "GET"): Rule(CONSOLE, kwargs=quiz),
    ("hq:quiz_edit", "GET"): Rule(HQ, kwargs=quiz),
    ("hq:quiz_edit", "POST"): Rule(HQ, kwargs=quiz, data=_quiz_form, ok=302),
    # --- guide workbench ---
    ("guide:my_contests", "GET"): Rule(WORKBENCH),
    ("guide:contest_board", "GET"): Rule(WORKBENCH, kwargs=running),
    ("guide:feed", "GET"): Rule(WORKBENCH),
    ("guide:feed", "POST"): Rule(WORKBENCH, data=lambda w: {"text": "今天成交 5 单"}, ok=302),
    ("guide:feed_post", "GET"): Rule(
        WORKBENCH, kwargs=east_post, out_of_scope={"guide_a": south_post, "store_manager": south_post}
    ),
    ("guide:feed_like", "POST"): Rule(
        WORKBENCH, kwargs=east_post, ok=302, out_of_scope={"guide_a": south_post, "store_manager": south_post}
    ),
    ("guide:feed_comment", "POST"): Rule(
        WORKBENCH,
        kwargs=east_post,
        data=lambda w: {"text": "学习了"},
        ok=302,
        out_of_scope={"guide_a": south_post, "store_manager": south_post},
    ),
    ("guide:learn_home", "GET"): Rule(WORKBENCH, query="q=跑鞋"),
    ("guide:learn_article", "GET"): Rule(WORKBENCH, kwargs=article),
    ("guide:learn_read", "POST"): Rule(WORKBENCH, kwargs=article, ok=302),
    ("guide:learn_quiz", "GET"): Rule(WORKBENCH, kwargs=quiz),
    ("guide:learn_quiz", "POST"): Rule(WORKBENCH, kwargs=quiz, data=lambda w: {}, ok=302),
    ("guide:learn_ranking", "GET"): Rule(WORKBENCH, kwargs=quiz),
    # --- API: contests ---
    ("api:contest_list", "GET"): Rule(CONSOLE, token_perm=Perm.CONTESTS_VIEW),
    ("api:contest_create", "POST"): Rule(HQ, data=_contest_json, ok=201, token_perm=Perm.CONTESTS_MANAGE),
    ("api:contest_mine", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
    ("api:contest_board", "GET"): Rule(CONSOLE, kwargs=running_api, token_perm=Perm.CONTESTS_VIEW),
    ("api:contest_update", "PUT"): Rule(HQ, kwargs=draft_api, data=_contest_json, token_perm=Perm.CONTESTS_MANAGE),
    ("api:contest_start", "POST"): Rule(HQ, kwargs=draft_api, token_perm=Perm.CONTESTS_MANAGE),
    ("api:contest_settle", "POST"): Rule(HQ, kwargs=running_api, token_perm=Perm.CONTESTS_MANAGE),
    # --- API: the feed ---
    ("api:feed_list", "GET"): Rule(WORKBENCH, token_perm=Perm.GUIDE_WORKBENCH),
    ("api:feed_publish", "POST"): Rule(
        WORKBENCH, data=lambda w: {"text": "今日战报"}, ok=201, token_perm=Perm.GUIDE_WORKBENCH
    ),
    ("api:feed_like", "POST"): Rule(
        WORKBENCH,
        kwargs=east_post_api,
        token_perm=Perm.GUIDE_WORKBENCH,
        out_of_scope={"guide_a": south_post_api, "store_manager": south_post_api},
    ),
    ("api:feed_comment", "POST"): Rule(
        WORKBENCH,
        kwargs=east_post_api,
        data=lambda w: {"text": "赞"},
        ok=201,
        token_perm=Perm.GUIDE_WORKBENCH,
        out_of_scope={"guide_a": south_post_api, "store_manager": south_post_api},
    ),
    ("api:feed_hide", "POST"): Rule(
        HQ, kwargs=east_post_api, data=lambda w: {"hidden": True}, token_perm=Perm.FEED_MODERATE
    ),
    ("api:feed_audience", "PUT"): Rule(HQ, data=lambda w: {"audience": "store"}, token_perm=Perm.FEED_MODERATE),
    # --- API: learning ---
    ("api:article_list", "GET"): Rule(frozenset({*CONSOLE, "guide_a"}), query="q=跑鞋", token_perm=Perm.LEARNING_VIEW),
    ("api:article_create", "POST"): Rule(
        HQ, data=lambda w: {"title": "话术", "body": "您好"}, ok=201, token_perm=Perm.LEARNING_MANAGE
    ),
    ("api:article_detail", "GET"): Rule(
        frozenset({*CONSOLE, "guide_a"}), kwargs=article_api, token_perm=Perm.LEARNING_VIEW
    ),
    ("api:article_read", "POST"): Rule(WORKBENCH, kwargs=article_api, token_perm=Perm.GUIDE_WORKBENCH),
    ("api:quiz_list", "GET"): Rule(frozenset({*CONSOLE, "guide_a"}), token_perm=Perm.LEARNING_VIEW),
    ("api:attempt_start", "POST"): Rule(WORKBENCH, kwargs=quiz_api, ok=201, token_perm=Perm.GUIDE_WORKBENCH),
    ("api:attempt_submit", "POST"): Rule(
        GUIDE_ONLY,
        kwargs=attempt_api,
        data=lambda w: {"answers": {}},
        token_perm=Perm.GUIDE_WORKBENCH,
        out_of_scope={"store_manager": attempt_api},
    ),
    ("api:quiz_ranking", "GET"): Rule(frozenset({*CONSOLE, "guide_a"}), kwargs=quiz_api, token_perm=Perm.LEARNING_VIEW),
}
