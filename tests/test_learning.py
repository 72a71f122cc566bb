"""Knowledge and training: the knowledge base (search, tags, videos checked by their bytes), read
tracking, quiz scoring and attempts, knowledge contest rankings, and the hooks the tasks app hears."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.learning import rules
from siyu.learning import services as learning
from siyu.platform import clock, hooks

T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def _quiz(hq: Any, **kw: Any) -> Any:
    questions = [
        learning.QuestionIn(
            "跑鞋的中底主要作用是？",
            [learning.ChoiceIn("缓震", True), learning.ChoiceIn("防水"), learning.ChoiceIn("装饰")],
        ),
        learning.QuestionIn(
            "顾客试穿时要确认哪些？",
            [learning.ChoiceIn("脚长", True), learning.ChoiceIn("脚宽", True), learning.ChoiceIn("鞋盒颜色")],
            kind="multiple",
        ),
    ]
    return learning.create_quiz(hq, learning.QuizIn(title="跑鞋基础", questions=questions, **kw))


def _answers(q: Any, right: tuple[bool, bool]) -> dict[int, list[int]]:
    qs = learning.questions(q)
    one, many = qs
    ok1 = [c.pk for c in one.choices.all() if c.correct]
    bad1 = [c.pk for c in one.choices.all() if not c.correct][:1]
    ok2 = [c.pk for c in many.choices.all() if c.correct]
    return {one.pk: ok1 if right[0] else bad1, many.pk: ok2 if right[1] else ok2[:1]}


# --- rules ------------------------------------------------------------------------------------------------
def test_multiple_choice_scores_only_the_exact_set() -> None:
    q = [
        rules.QuestionKey(1, "single", 1, frozenset({10}), frozenset({10, 11})),
        rules.QuestionKey(2, "multiple", 2, frozenset({20, 21}), frozenset({20, 21, 22})),
    ]
    assert rules.score_quiz(q, {1: [10], 2: [20, 21]}, 80).percent == 100
    assert rules.score_quiz(q, {1: [10], 2: [20, 21, 22]}, 80).score == 1  # ticking every box never pays
    assert rules.score_quiz(q, {1: [10, 11], 2: [20]}, 80).score == 0
    partial = rules.score_quiz(q, {2: [21, 20]}, 60)
    assert (partial.score, partial.percent, partial.passed) == (2, 66, True)
    assert rules.score_quiz(q, {1: [99]}, 50).score == 0  # an answer of another question


def test_contest_ranking_best_score_then_time() -> None:
    at = T0
    best = rules.best_attempts(
        [
            rules.Best(1, 80, 50, at, 100, 1),
            rules.Best(1, 90, 70, at, 100, 1),  # her best: 90
            rules.Best(2, 90, 40, at, 100, 1),  # same score, faster: first
            rules.Best(3, 60, 10, at, 200, 2),
        ]
    )
    assert [(b.guide_id, b.percent) for b in best] == [(2, 90), (1, 90), (3, 60)]
    stores = rules.rank_groups(best, "store")
    assert [(s.subject_id, s.percent, s.people) for s in stores] == [(100, 90.0, 2), (200, 60.0, 1)]


def test_hq_writes_everyone_reads_and_searches(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    chen = scope_of(world.staff["guide_a"])
    learning.create_article(
        hq,
        learning.ArticleIn(
            title="跑鞋试穿五步法", title_en="Five steps of a running-shoe fitting", body="先量脚长……", tags="跑鞋 话术"
        ),
    )
    learning.create_article(hq, learning.ArticleIn(title="草稿", body="x", published=False))
    learning.create_article(hq, learning.ArticleIn(title="新品陈列", body="橱窗", tags=["陈列"]))
    assert [a.title for a in learning.articles(chen, q="fitting")] == ["跑鞋试穿五步法"]
    assert [a.title for a in learning.articles(chen, tag="陈列")] == ["新品陈列"]
    assert "草稿" not in [a.title for a in learning.articles(chen)]
    assert ("跑鞋", 1) in learning.tags(chen)
    with pytest.raises(PermissionDenied):
        learning.create_article(chen, learning.ArticleIn(title="x", body="y"))


def test_a_video_item_needs_a_real_video(world: Any, scope_of: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    hq = scope_of(world.staff["hq_operator"])
    with pytest.raises(ValidationError) as err:
        learning.create_article(hq, learning.ArticleIn(title="陈列视频", kind="video", video=b"GIF89a not a video"))
    assert "video" in err.value.message_dict
    item = learning.create_article(hq, learning.ArticleIn(title="陈列视频", kind="video", video=MP4))
    assert item.video.name.endswith(".mp4") and (tmp_path / item.video.name).exists()


def test_reading_is_tracked_once_and_announced(
    world: Any, scope_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[tuple[int, int, str, int | None]] = []
    hooks.on_guide_done(lambda *a: heard.append(a))
    hq = scope_of(world.staff["hq_operator"])
    chen = world.staff["guide_a"]
    item = learning.create_article(hq, learning.ArticleIn(title="会员权益话术", kind="script", body="您好……"))
    assert not learning.has_read(world.brand.pk, chen.pk, item.pk)
    with pytest.raises(PermissionDenied):
        learning.mark_read(hq, item.pk)  # HQ reads without being tracked as a guide
    with django_capture_on_commit_callbacks(execute=True):
        assert learning.mark_read(scope_of(chen), item.pk) is True
        assert learning.mark_read(scope_of(chen), item.pk) is False
    assert learning.has_read(world.brand.pk, chen.pk, item.pk)
    assert [h for h in heard if h[2] == "learn.read"] == [(world.brand.pk, chen.pk, "learn.read", item.pk)]


# --- quizzes ------------------------------------------------------------------------------------------------
def test_a_quiz_is_scored_passed_once_and_attempts_are_limited(
    world: Any, scope_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[tuple[Any, ...]] = []
    hooks.on_guide_done(lambda *a: heard.append(a))
    hq = scope_of(world.staff["hq_operator"])
    chen = scope_of(world.staff["guide_a"])
    q = _quiz(hq, pass_percent=100, max_attempts=2)
    first = learning.start_attempt(chen, q.pk)
    assert learning.start_attempt(chen, q.pk).pk == first.pk  # reopening keeps the same clock
    done = learning.submit_attempt(chen, first.pk, _answers(q, (True, False)))
    assert (done.score, done.max_score, done.percent, done.passed) == (1, 2, 50, False)
    with pytest.raises(ValidationError):
        learning.submit_attempt(chen, first.pk, _answers(q, (True, True)))  # submitted already
    second = learning.start_attempt(chen, q.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert learning.submit_attempt(chen, second.pk, _answers(q, (True, True))).passed
    assert learning.has_passed(world.brand.pk, world.staff["guide_a"].pk, q.pk)
    with pytest.raises(ValidationError):
        learning.start_attempt(chen, q.pk)  # two attempts used
    assert [h[2:] for h in heard if h[2] == "learn.passed"] == [("learn.passed", q.pk)]


def test_a_guide_cannot_submit_someone_elses_attempt(world: Any, scope_of: Any) -> None:
    from django.http import Http404

    hq = scope_of(world.staff["hq_operator"])
    q = _quiz(hq)
    mine = learning.start_attempt(scope_of(world.staff["guide_a"]), q.pk)
    with pytest.raises(Http404):
        learning.submit_attempt(scope_of(world.staff["guide_b"]), mine.pk, _answers(q, (True, True)))


def test_bad_quizzes_are_refused(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    bad = learning.QuestionIn("单选两个对？", [learning.ChoiceIn("a", True), learning.ChoiceIn("b", True)])
    with pytest.raises(ValidationError):
        learning.create_quiz(hq, learning.QuizIn(title="x", questions=[bad]))
    with pytest.raises(ValidationError):
        learning.create_quiz(hq, learning.QuizIn(title="x", questions=[]))


def test_knowledge_contest_ranks_guides_stores_and_regions(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    q = _quiz(hq, max_attempts=0, contest_starts_at=T0, contest_ends_at=T0 + dt.timedelta(days=3))

    def take(staff: Any, right: tuple[bool, bool], seconds: int, start: dt.datetime) -> None:
        scope = scope_of(staff)
        with clock.frozen(start):
            a = learning.start_attempt(scope, q.pk)
        with clock.frozen(start + dt.timedelta(seconds=seconds)):
            learning.submit_attempt(scope, a.pk, _answers(q, right))

    take(world.staff["guide_a"], (True, True), 90, T0 + dt.timedelta(hours=1))
    take(world.staff["guide_b"], (True, True), 60, T0 + dt.timedelta(hours=2))
    take(world.other_guide, (True, False), 30, T0 + dt.timedelta(hours=3))
    take(world.south_guide, (True, True), 45, T0 - dt.timedelta(hours=3))  # before it opened: not ranked
    ranking = learning.ranking(scope_of(world.staff["guide_a"]), q.pk)
    assert [(p.rank, p.label, p.percent) for p in ranking.guides] == [
        (1, "刘洋", 100),
        (2, "陈静", 100),
        (3, "孙丽", 50),
    ]
    assert ranking.guides[1].me
    assert [p.label for p in ranking.stores] == ["南京西路旗舰店", "五角场店"]
    assert [(p.label, p.people) for p in ranking.regions] == [("华东分公司", 3)]
