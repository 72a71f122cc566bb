"""REST endpoints of knowledge and training (through :mod:`siyu.learning.services`)."""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.learning import services
from siyu.learning.models import Article
from siyu.org.services import Perm
from siyu.platform.api import Input, PageQuery, answers, created, current_scope, page_of, paginate, requires

router = Router()


class ArticleOut(Schema):
    id: int
    kind: str
    title: str
    title_en: str
    summary: str
    body: str
    tags: list[str]
    video: str | None
    published: bool
    updated_at: dt.datetime


class ArticleIn(Input):
    title: str
    kind: Literal["article", "script", "video"] = "article"
    title_en: str = ""
    summary: str = ""
    body: str = ""
    tags: list[str] = Field(default_factory=list)
    published: bool = True


class ArticleFilter(Schema):
    q: str = Field("", max_length=60, description="Words that must all appear (title, tags, text).")
    tag: str = Field("", max_length=20)
    kind: Literal["article", "script", "video"] | None = None


def _article(a: Article) -> dict[str, Any]:
    return {
        "id": a.pk,
        "kind": a.kind,
        "title": a.title,
        "title_en": a.title_en,
        "summary": a.summary,
        "body": a.body,
        "tags": a.tags or [],
        "video": a.video.url if a.video else None,
        "published": a.published,
        "updated_at": a.updated_at,
    }


@router.get(
    "/learning/articles", response=answers(page_of(ArticleOut)), summary="The knowledge base", tags=["learning"]
)
@requires(Perm.LEARNING_VIEW)
def article_list(request: HttpRequest, filters: Query[ArticleFilter], page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    qs = services.articles(scope, q=filters.q, tag=filters.tag, kind=filters.kind or "")
    return paginate(qs, page, _article)


@router.post(
    "/learning/articles", response=answers(ArticleOut, 201), summary="Write a knowledge item", tags=["learning"]
)
@requires(Perm.LEARNING_MANAGE)
def article_create(request: HttpRequest, body: ArticleIn) -> Any:
    data = services.ArticleIn(
        title=body.title,
        kind=body.kind,
        title_en=body.title_en,
        summary=body.summary,
        body=body.body,
        tags=body.tags,
        published=body.published,
    )
    return created(_article(services.create_article(current_scope(request), data)))


@router.get(
    "/learning/articles/{int:article_id}", response=answers(ArticleOut), summary="A knowledge item", tags=["learning"]
)
@requires(Perm.LEARNING_VIEW)
def article_detail(request: HttpRequest, article_id: int) -> dict[str, Any]:
    return _article(services.article(current_scope(request), article_id))


class ReadOut(Schema):
    first: bool = Field(description="True the first time she reads it.")


@router.post(
    "/learning/articles/{int:article_id}/read", response=answers(ReadOut), summary="I have read it", tags=["learning"]
)
@requires(Perm.GUIDE_WORKBENCH)
def article_read(request: HttpRequest, article_id: int) -> dict[str, Any]:
    return {"first": services.mark_read(current_scope(request), article_id)}


class ChoiceOut(Schema):
    id: int
    text: str


class QuestionOut(Schema):
    id: int
    text: str
    kind: str
    points: int
    choices: list[ChoiceOut]


class QuizOut(Schema):
    id: int
    title: str
    title_en: str
    pass_percent: int
    max_attempts: int
    contest_starts_at: dt.datetime | None
    contest_ends_at: dt.datetime | None


class AttemptOut(Schema):
    id: int
    quiz_id: int
    started_at: dt.datetime
    submitted_at: dt.datetime | None
    score: int
    max_score: int
    percent: int
    passed: bool
    seconds: int | None
    questions: list[QuestionOut] = Field(default_factory=list, description="Without the right answers.")


class AnswersIn(Input):
    answers: dict[int, list[int]] = Field(description="Question id -> the chosen answer ids.")


def _quiz(q: Any) -> dict[str, Any]:
    return {k: getattr(q, k) for k in QuizOut.model_fields if k != "id"} | {"id": q.pk}


def _attempt(a: Any, with_questions: bool = False) -> dict[str, Any]:
    out = {k: getattr(a, k) for k in AttemptOut.model_fields if k not in ("id", "questions")} | {"id": a.pk}
    if with_questions:
        out["questions"] = [
            {
                "id": q.pk,
                "text": q.text,
                "kind": q.kind,
                "points": q.points,
                "choices": [{"id": c.pk, "text": c.text} for c in q.choices.all()],
            }
            for q in services.questions(a.quiz)
        ]
    return out


@router.get(
    "/learning/quizzes", response=answers(list[QuizOut]), summary="Quizzes and knowledge contests", tags=["learning"]
)
@requires(Perm.LEARNING_VIEW)
def quiz_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [_quiz(q) for q in services.quizzes(current_scope(request))[:200]]


@router.post(
    "/learning/quizzes/{int:quiz_id}/attempts",
    response=answers(AttemptOut, 201),
    summary="Start (or resume) an attempt: its clock starts now",
    tags=["learning"],
)
@requires(Perm.GUIDE_WORKBENCH)
def attempt_start(request: HttpRequest, quiz_id: int) -> Any:
    return created(_attempt(services.start_attempt(current_scope(request), quiz_id), with_questions=True))


@router.post(
    "/learning/attempts/{int:attempt_id}/submit",
    response=answers(AttemptOut),
    summary="Submit answers (once)",
    tags=["learning"],
)
@requires(Perm.GUIDE_WORKBENCH)
def attempt_submit(request: HttpRequest, attempt_id: int, body: AnswersIn) -> dict[str, Any]:
    return _attempt(services.submit_attempt(current_scope(request), attempt_id, body.answers))


class PlacingOut(Schema):
    rank: int
    label: str
    percent: float
    seconds: float
    people: int
    subject_id: int | None
    me: bool


class RankingOut(Schema):
    quiz: QuizOut
    participants: int
    guides: list[PlacingOut]
    stores: list[PlacingOut]
    regions: list[PlacingOut]


@router.get(
    "/learning/quizzes/{int:quiz_id}/ranking",
    response=answers(RankingOut),
    summary="Knowledge contest ranking: guides, stores, regions (best score, then time)",
    tags=["learning"],
)
@requires(Perm.LEARNING_VIEW)
def quiz_ranking(request: HttpRequest, quiz_id: int) -> dict[str, Any]:
    r = services.ranking(current_scope(request), quiz_id)
    return {
        "quiz": _quiz(r.quiz),
        "participants": r.participants,
        "guides": r.guides,
        "stores": r.stores,
        "regions": r.regions,
    }
