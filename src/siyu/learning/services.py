"""Use-cases of knowledge and training: the knowledge base (HQ writes, everyone of the brand reads),
read tracking, quizzes and their attempts, knowledge contests and their rankings.

Other domains use :func:`has_read` and :func:`has_passed` (the tasks app's learn tasks); a first
read and a first pass are announced after the commit with ``platform.hooks.guide_done`` (kinds
``learn.read`` and ``learn.passed``), so learning never imports tasks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils.translation import gettext as _

from siyu.learning import rules
from siyu.learning.models import Article, ArticleRead, Attempt, Choice, Question, Quiz
from siyu.platform import audit, clock, hooks, media
from siyu.platform.tenancy import Scope, get_scoped, restrict

VIEW = "learning.view"
MANAGE = "learning.manage"
WORKBENCH = "guide.workbench"
MAX_QUESTIONS = 100


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


# --- the knowledge base ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ArticleIn:
    title: str
    kind: str = "article"
    title_en: str = ""
    summary: str = ""
    body: str = ""
    tags: Sequence[str] | str = ()
    published: bool = True
    # A new video: its bytes, or an upload (anything with ``chunks()``, streamed to disk, never held
    # whole in memory); None keeps the current one.
    video: bytes | Any | None = None


def _store_video(article: Article, video: bytes | Any) -> str:
    """Write the new video under ``MEDIA_ROOT`` (checked by content and size) and return its name."""
    chunks = [video] if isinstance(video, bytes) else video.chunks()
    return media.store_video(chunks, f"learning/{article.brand_id}", max_bytes=rules.MAX_VIDEO_BYTES)


def _apply(article: Article, data: ArticleIn) -> str | None:
    """Check and copy ``data`` onto ``article``; the name of the newly stored video, if any (the
    caller saves the article; on any error here nothing is left on disk)."""
    errors: dict[str, str] = {}
    stored = ""
    if data.video:
        try:
            stored = _store_video(article, data.video)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    title = data.title.strip()
    if not title or len(title) > 120:
        errors["title"] = _("Give a title of 1 to 120 characters.")
    if data.kind not in Article.Kind.values:
        errors["kind"] = _("Choose an article, a sales script or a video.")
    if data.kind == Article.Kind.VIDEO and not (stored or article.video) and "video" not in errors:
        errors["video"] = _("A video item needs its video file.")
    if data.kind != Article.Kind.VIDEO and not data.body.strip():
        errors["body"] = _("Write the text.")
    if errors:
        if stored:
            default_storage.delete(stored)
        raise ValidationError(errors)
    article.title = title
    article.kind = data.kind
    article.title_en = data.title_en.strip()[:120]
    article.summary = data.summary.strip()[:240]
    article.body = data.body.strip()[:20000]
    article.tags = rules.clean_tags(data.tags)
    article.published = data.published
    article.search_text = rules.search_text(
        article.title, article.title_en, article.summary, article.tags, article.body
    )
    article.updated_at = clock.now()
    return stored or None


def _save_with_video(article: Article, stored: str | None) -> None:
    old = article.video.name if stored and article.video else ""
    if stored:
        article.video.name = stored
    try:
        article.save()
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise
    if old:
        transaction.on_commit(lambda: default_storage.delete(old))


AUDITED = ("kind", "title", "title_en", "summary", "tags", "published")


@transaction.atomic
def create_article(scope: Scope, data: ArticleIn) -> Article:
    _require(scope, MANAGE)
    now = clock.now()
    article = Article(brand_id=scope.brand_id, created_at=now, updated_at=now)
    stored = _apply(article, data)
    _save_with_video(article, stored)
    audit.record_by(scope, "learning.article_create", article, after=audit.snapshot(article, AUDITED))
    return article


@transaction.atomic
def update_article(scope: Scope, article_id: int, data: ArticleIn) -> Article:
    _require(scope, MANAGE)
    article = get_scoped(Article.objects.select_for_update(), scope, pk=article_id)
    before = audit.snapshot(article, AUDITED)
    stored = _apply(article, data)
    _save_with_video(article, stored)
    audit.record_by(scope, "learning.article_update", article, before=before, after=audit.snapshot(article, AUDITED))
    return article


def articles(
    scope: Scope, *, q: str = "", tag: str = "", kind: str = "", published_only: bool = True
) -> QuerySet[Article]:
    """The knowledge base as ``scope`` reads it: searched in title, English title, summary, tags
    and text (every word must appear), by tag and kind."""
    qs = restrict(Article, scope)
    if published_only or not scope.can(MANAGE):
        qs = qs.filter(published=True)
    for word in q.lower().split()[:8]:
        qs = qs.filter(search_text__contains=word[:40])
    if tag:
        qs = qs.filter(search_text__contains=tag.lower()[:20])
        qs = qs.filter(pk__in=[a.pk for a in qs.only("pk", "tags") if tag in (a.tags or [])])
    if kind in Article.Kind.values:
        qs = qs.filter(kind=kind)
    return qs.order_by("-updated_at", "-id")


def article(scope: Scope, article_id: int) -> Article:
    qs = restrict(Article, scope)
    if not scope.can(MANAGE):
        qs = qs.filter(published=True)
    return get_scoped(qs, scope, pk=article_id)


def tags(scope: Scope) -> list[tuple[str, int]]:
    """The tags in use on published items, most used first."""
    counts: Counter[str] = Counter()
    for row in restrict(Article, scope).filter(published=True).values_list("tags", flat=True):
        counts.update(row or [])
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# --- reading ---------------------------------------------------------------------------------------
def _where(scope: Scope) -> tuple[int | None, int | None]:
    return scope.store_id, scope.region_id


@transaction.atomic
def mark_read(scope: Scope, article_id: int) -> bool:
    """The guide read the article; ``True`` the first time (then ``learn.read`` is announced after
    the commit), ``False`` after (nothing changes)."""
    if scope.staff_id is None or not scope.can(WORKBENCH):
        raise PermissionDenied(WORKBENCH)
    item = article(scope, article_id)
    store_id, region_id = _where(scope)
    try:
        with transaction.atomic():
            ArticleRead.objects.create(
                brand_id=scope.brand_id,
                article=item,
                guide_id=scope.staff_id,
                store_id=store_id,
                region_id=region_id,
                at=clock.now(),
            )
    except IntegrityError:
        return False
    Article.objects.filter(pk=item.pk).update(reads=F("reads") + 1)
    brand_id, guide_id, pk = scope.brand_id, scope.staff_id, item.pk
    transaction.on_commit(lambda: hooks.guide_done(brand_id, guide_id, "learn.read", pk))
    return True


def has_read(brand_id: int, guide_id: int, article_id: int) -> bool:
    return ArticleRead.objects.filter(brand_id=brand_id, guide_id=guide_id, article_id=article_id).exists()


def has_passed(brand_id: int, guide_id: int, quiz_id: int) -> bool:
    return Attempt.objects.filter(brand_id=brand_id, guide_id=guide_id, quiz_id=quiz_id, passed=True).exists()


def read_ids(scope: Scope, article_ids: Iterable[int]) -> set[int]:
    if scope.staff_id is None:
        return set()
    return set(
        ArticleRead.objects.filter(
            brand_id=scope.brand_id, guide_id=scope.staff_id, article_id__in=list(article_ids)
        ).values_list("article_id", flat=True)
    )


# --- quizzes -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChoiceIn:
    text: str
    correct: bool = False


@dataclass(frozen=True)
class QuestionIn:
    text: str
    choices: Sequence[ChoiceIn]
    kind: str = "single"
    points: int = 1


@dataclass(frozen=True)
class QuizIn:
    title: str
    questions: Sequence[QuestionIn]
    title_en: str = ""
    description: str = ""
    pass_percent: int = 80
    max_attempts: int = 3
    article_id: int | None = None
    published: bool = True
    contest_starts_at: dt.datetime | None = None
    contest_ends_at: dt.datetime | None = None


def _check_quiz(scope: Scope, data: QuizIn) -> None:
    errors: dict[str, str] = {}
    if not data.title.strip() or len(data.title.strip()) > 120:
        errors["title"] = _("Give a title of 1 to 120 characters.")
    if not (0 < data.pass_percent <= 100):
        errors["pass_percent"] = _("The pass mark is a percentage from 1 to 100.")
    if not (0 <= data.max_attempts <= 100):
        errors["max_attempts"] = _("Attempts allowed: 0 (any number) to 100.")
    if (data.contest_starts_at is None) != (data.contest_ends_at is None) or (
        data.contest_starts_at is not None
        and data.contest_ends_at is not None
        and data.contest_ends_at <= data.contest_starts_at
    ):
        errors["contest_ends_at"] = _("A knowledge contest has an opening and a later closing time.")
    if data.article_id is not None and not restrict(Article, scope).filter(pk=data.article_id).exists():
        errors["article_id"] = _("Choose an item of this brand's knowledge base.")
    if not data.questions:
        errors["questions"] = _("A quiz has at least one question.")
    elif len(data.questions) > MAX_QUESTIONS:
        errors["questions"] = _("A quiz has at most %(n)d questions.") % {"n": MAX_QUESTIONS}
    for i, q in enumerate(data.questions, start=1):
        right = sum(1 for c in q.choices if c.correct)
        problem = ""
        if not q.text.strip() or len(q.text.strip()) > 300:
            problem = _("Question %(n)d needs its text (at most 300 characters).")
        elif q.kind not in Question.Kind.values or not (1 <= q.points <= 100):
            problem = _("Question %(n)d: choose one or several answers, worth 1 to 100 points.")
        elif (
            len(q.choices) < 2
            or len(q.choices) > 8
            or any(not c.text.strip() or len(c.text.strip()) > 200 for c in q.choices)
        ):
            problem = _("Question %(n)d has 2 to 8 answers, each 1 to 200 characters.")
        elif (q.kind == "single" and right != 1) or (q.kind == "multiple" and right < 1):
            problem = _("Question %(n)d: one answer is right (several: at least one).")
        if problem:
            errors["questions"] = problem % {"n": i}
            break
    if errors:
        raise ValidationError(errors)


QUIZ_FIELDS = (
    "title",
    "title_en",
    "description",
    "pass_percent",
    "max_attempts",
    "published",
    "contest_starts_at",
    "contest_ends_at",
)


def _write_questions(quiz: Quiz, data: QuizIn) -> None:
    quiz.questions.all().delete()
    for pos, q in enumerate(data.questions):
        question = Question.objects.create(
            brand_id=quiz.brand_id, quiz=quiz, position=pos, text=q.text.strip(), kind=q.kind, points=q.points
        )
        Choice.objects.bulk_create(
            Choice(brand_id=quiz.brand_id, question=question, position=i, text=c.text.strip(), correct=c.correct)
            for i, c in enumerate(q.choices)
        )


@transaction.atomic
def create_quiz(scope: Scope, data: QuizIn) -> Quiz:
    _require(scope, MANAGE)
    _check_quiz(scope, data)
    quiz = Quiz.objects.create(
        brand_id=scope.brand_id,
        title=data.title.strip(),
        title_en=data.title_en.strip()[:120],
        description=data.description.strip()[:2000],
        article_id=data.article_id,
        pass_percent=data.pass_percent,
        max_attempts=data.max_attempts,
        published=data.published,
        contest_starts_at=data.contest_starts_at,
        contest_ends_at=data.contest_ends_at,
        created_at=clock.now(),
    )
    _write_questions(quiz, data)
    audit.record_by(scope, "learning.quiz_create", quiz, after=audit.snapshot(quiz, QUIZ_FIELDS))
    return quiz


@transaction.atomic
def update_quiz(scope: Scope, quiz_id: int, data: QuizIn) -> Quiz:
    """Change a quiz; its questions only while nobody has submitted an attempt (scores stay
    comparable)."""
    _require(scope, MANAGE)
    quiz = get_scoped(Quiz.objects.select_for_update(), scope, pk=quiz_id)
    _check_quiz(scope, data)
    before = audit.snapshot(quiz, QUIZ_FIELDS)
    if quiz.attempts.exclude(submitted_at=None).exists() and _questions_in(quiz) != _shape(data):
        raise ValidationError({"questions": _("Guides have taken this quiz: its questions can no longer change.")})
    for name in QUIZ_FIELDS:
        value = getattr(data, name)
        setattr(quiz, name, value.strip() if isinstance(value, str) else value)
    quiz.article_id = data.article_id
    quiz.save()
    if not quiz.attempts.exclude(submitted_at=None).exists():
        _write_questions(quiz, data)
    audit.record_by(scope, "learning.quiz_update", quiz, before=before, after=audit.snapshot(quiz, QUIZ_FIELDS))
    return quiz


def _questions_in(quiz: Quiz) -> list[tuple[str, str, int, list[tuple[str, bool]]]]:
    return [
        (q.text, q.kind, q.points, [(c.text, c.correct) for c in q.choices.all()])
        for q in quiz.questions.prefetch_related("choices")
    ]


def _shape(data: QuizIn) -> list[tuple[str, str, int, list[tuple[str, bool]]]]:
    return [
        (q.text.strip(), q.kind, q.points, [(c.text.strip(), c.correct) for c in q.choices]) for q in data.questions
    ]


def quizzes(scope: Scope, *, contests_only: bool = False) -> QuerySet[Quiz]:
    qs = restrict(Quiz, scope).annotate(n_questions=Count("questions", distinct=True))
    if not scope.can(MANAGE):
        qs = qs.filter(published=True)
    if contests_only:
        qs = qs.exclude(contest_starts_at=None)
    return qs.order_by("-created_at", "-id")


def quiz(scope: Scope, quiz_id: int) -> Quiz:
    qs = restrict(Quiz, scope)
    if not scope.can(MANAGE):
        qs = qs.filter(published=True)
    return get_scoped(qs, scope, pk=quiz_id)


def questions(q: Quiz) -> list[Question]:
    return list(q.questions.prefetch_related("choices").order_by("position", "id"))


def _keys(q: Quiz) -> list[rules.QuestionKey]:
    return [
        rules.QuestionKey(
            question.pk,
            question.kind,
            question.points,
            frozenset(c.pk for c in question.choices.all() if c.correct),
            frozenset(c.pk for c in question.choices.all()),
        )
        for question in questions(q)
    ]


def attempts_left(q: Quiz, guide_id: int) -> int | None:
    """How many more attempts she may submit (``None``: any number)."""
    if q.max_attempts == 0:
        return None
    used = Attempt.objects.filter(quiz=q, guide_id=guide_id).exclude(submitted_at=None).count()
    return max(0, q.max_attempts - used)


def open_attempt(scope: Scope, quiz_id: int) -> Attempt | None:
    """Her attempt at the quiz that is open (started, not submitted), if any."""
    if scope.staff_id is None:
        return None
    qs = Attempt.objects.filter(brand_id=scope.brand_id, quiz_id=quiz_id, guide_id=scope.staff_id, submitted_at=None)
    return qs.order_by("-started_at").first()


@transaction.atomic
def start_attempt(scope: Scope, quiz_id: int) -> Attempt:
    """Open an attempt (or return the one she left open): its clock starts now, on the server."""
    if scope.staff_id is None or not scope.can(WORKBENCH):
        raise PermissionDenied(WORKBENCH)
    q = quiz(scope, quiz_id)
    open_one = (
        Attempt.objects.filter(quiz=q, guide_id=scope.staff_id, submitted_at=None).order_by("-started_at").first()
    )
    if open_one is not None:
        return open_one
    left = attempts_left(q, scope.staff_id)
    if left == 0:
        raise ValidationError(_("You have used every attempt at this quiz."))
    now = clock.now()  # a closed knowledge contest may still be practised; only attempts inside its window rank
    store_id, region_id = _where(scope)
    return Attempt.objects.create(
        brand_id=scope.brand_id, quiz=q, guide_id=scope.staff_id, store_id=store_id, region_id=region_id, started_at=now
    )


@transaction.atomic
def submit_attempt(scope: Scope, attempt_id: int, answers: Mapping[int, Iterable[int]]) -> Attempt:
    """Score an open attempt (once): a second submit of the same attempt is refused."""
    if scope.staff_id is None:
        raise PermissionDenied(WORKBENCH)
    attempt = get_scoped(Attempt.objects.select_for_update(), scope, pk=attempt_id, guide_id=scope.staff_id)
    if attempt.submitted_at is not None:
        raise ValidationError(_("This attempt was submitted already."))
    q = Quiz.objects.get(pk=attempt.quiz_id)
    scored = rules.score_quiz(_keys(q), answers, q.pass_percent)
    first_pass = scored.passed and not has_passed(scope.brand_id, scope.staff_id, q.pk)
    now = clock.now()
    attempt.submitted_at = now
    attempt.seconds = max(0, int((now - attempt.started_at).total_seconds()))
    attempt.score, attempt.max_score, attempt.percent, attempt.passed = (
        scored.score,
        scored.max_score,
        scored.percent,
        scored.passed,
    )
    attempt.answers = {str(k): sorted(int(c) for c in v) for k, v in answers.items()}
    attempt.save()
    if first_pass:
        brand_id, guide_id, pk = scope.brand_id, scope.staff_id, q.pk
        transaction.on_commit(lambda: hooks.guide_done(brand_id, guide_id, "learn.passed", pk))
    return attempt


def my_attempts(scope: Scope, quiz_id: int) -> list[Attempt]:
    if scope.staff_id is None:
        return []
    mine = restrict(Attempt, scope).filter(quiz_id=quiz_id, guide_id=scope.staff_id)
    return list(mine.exclude(submitted_at=None))


# --- knowledge contests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Placing:
    rank: int
    label: str
    percent: float
    seconds: float
    people: int
    subject_id: int | None
    me: bool = False


@dataclass
class Ranking:
    quiz: Quiz
    guides: list[Placing] = field(default_factory=list)
    stores: list[Placing] = field(default_factory=list)
    regions: list[Placing] = field(default_factory=list)
    participants: int = 0


def ranking(scope: Scope, quiz_id: int, *, limit: int = 50) -> Ranking:
    """A knowledge contest's ranking across guides, stores and regions (the whole brand: rankings
    are shown to everyone who takes part)."""
    from siyu.org import services as org

    q = quiz(scope, quiz_id)
    rows = Attempt.objects.filter(quiz=q).exclude(submitted_at=None)
    if q.contest_starts_at is not None and q.contest_ends_at is not None:
        rows = rows.filter(submitted_at__gte=q.contest_starts_at, submitted_at__lt=q.contest_ends_at)
    best = rules.best_attempts(
        rules.Best(a.guide_id, a.percent, a.seconds or 0, a.submitted_at, a.store_id, a.region_id)
        for a in rows.only("guide_id", "percent", "seconds", "submitted_at", "store_id", "region_id")
        if a.submitted_at is not None
    )
    names = {
        s.id: s.name for s in org.visible_staff(org.hq_scope(scope.brand_id)) if s.id in {b.guide_id for b in best}
    }
    stores = {s.id: s.name for s in org.stores(scope.brand_id)}
    regions = org.region_names(scope.brand_id)
    out = Ranking(q, participants=len(best))
    out.guides = [
        Placing(
            s.rank,
            names.get(s.subject_id or 0, "?"),
            s.percent,
            s.seconds,
            1,
            s.subject_id,
            s.subject_id == scope.staff_id,
        )
        for s in rules.rank_guides(best)[:limit]
    ]
    out.stores = [
        Placing(
            s.rank,
            stores.get(s.subject_id or 0, "?"),
            s.percent,
            s.seconds,
            s.people,
            s.subject_id,
            s.subject_id == scope.store_id,
        )
        for s in rules.rank_groups(best, "store")[:limit]
    ]
    out.regions = [
        Placing(
            s.rank,
            regions.get(s.subject_id or 0, "?"),
            s.percent,
            s.seconds,
            s.people,
            s.subject_id,
            s.subject_id == scope.region_id,
        )
        for s in rules.rank_groups(best, "region")
    ]
    return out


# --- figures for HQ ---------------------------------------------------------------------------------
def read_counts(scope: Scope) -> dict[int, int]:
    """Readers per article within the viewer's reach."""
    return dict(
        restrict(ArticleRead, scope).values_list("article_id").annotate(n=Count("id")).values_list("article_id", "n")
    )


def quiz_figures(scope: Scope) -> dict[int, tuple[int, int]]:
    """Per quiz, within reach: (guides who submitted, guides who passed)."""
    rows = (
        restrict(Attempt, scope)
        .exclude(submitted_at=None)
        .values("quiz_id")
        .annotate(took=Count("guide_id", distinct=True), passed=Count("guide_id", distinct=True, filter=Q(passed=True)))
    )
    return {r["quiz_id"]: (r["took"], r["passed"]) for r in rows}


def counts(brand_id: int) -> dict[str, int]:
    return {
        "articles": Article.objects.filter(brand_id=brand_id).count(),
        "quizzes": Quiz.objects.filter(brand_id=brand_id).count(),
        "attempts": Attempt.objects.filter(brand_id=brand_id).exclude(submitted_at=None).count(),
        "reads": ArticleRead.objects.filter(brand_id=brand_id).count(),
    }
