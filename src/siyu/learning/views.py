"""Pages of knowledge and training.

HQ console (``/hq/learning/``): the knowledge base (search, tags, kind; readers per item), an
item's form (text, tags, an optional video upload checked by its bytes), quizzes (questions typed
as text: a line per question, ``-`` wrong and ``*`` right answers under it) with their pass rates,
and each quiz's or knowledge contest's ranking. Guide workbench (``/guide/learn/``, phone): the
knowledge base with what she has read, an item with "I have read it", a quiz (the clock starts
when she opens it) with its result, and a knowledge contest's ranking across guides, stores and
branch companies.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.learning import rules, services
from siyu.learning.models import Article
from siyu.org.services import Perm
from siyu.platform import clock
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.pagination import paginate, querystring_without_page

GUIDE = "guide:login"


class ArticleForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Article.Kind.choices)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
    title_en = forms.CharField(label=gettext_lazy("English title"), max_length=120, required=False)
    summary = forms.CharField(label=gettext_lazy("Summary"), max_length=240, required=False)
    tags = forms.CharField(
        label=gettext_lazy("Tags"), required=False, help_text=gettext_lazy("Separated by commas or spaces.")
    )
    body = forms.CharField(
        label=gettext_lazy("Text"), required=False, widget=forms.Textarea(attrs={"rows": 12}), max_length=20000
    )
    video = forms.FileField(
        label=gettext_lazy("Video (MP4 or WebM)"), required=False, help_text=gettext_lazy("At most 200 MB.")
    )
    published = forms.BooleanField(label=gettext_lazy("Published to guides"), required=False, initial=True)


def _article_form(request: HttpRequest, item: Article | None) -> HttpResponse:
    scope = require_scope(request)
    initial = None
    if item is not None:
        initial = {
            "kind": item.kind,
            "title": item.title,
            "title_en": item.title_en,
            "summary": item.summary,
            "tags": " ".join(item.tags or []),
            "body": item.body,
            "published": item.published,
        }
    form = ArticleForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        video = d.get("video")
        data = services.ArticleIn(
            title=d["title"],
            kind=d["kind"],
            title_en=d["title_en"],
            summary=d["summary"],
            body=d["body"],
            tags=d["tags"],
            published=d["published"],
            video=video or None,  # streamed to disk by the service
        )
        try:
            item = (
                services.create_article(scope, data) if item is None else services.update_article(scope, item.pk, data)
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("hq:learning_list")
    title = _("New knowledge item") if item is None else item.title
    status = 400 if request.method == "POST" else 200
    return render(request, "learning/article_form.html", {"form": form, "title": title, "item": item}, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_VIEW)
@require_GET
def learning_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    q, tag, kind = request.GET.get("q", "")[:60], request.GET.get("tag", "")[:20], request.GET.get("kind", "")
    page = paginate(request, services.articles(scope, q=q, tag=tag, kind=kind, published_only=False), 50)
    reads = services.read_counts(scope)
    context = {
        "page": page,
        "q": q,
        "tag": tag,
        "kind": kind,
        "kinds": Article.Kind.choices,
        "tags": services.tags(scope)[:30],
        "rows": [(a, reads.get(a.pk, 0)) for a in page.object_list],
        "counts": services.counts(scope.brand_id),
        "qs": querystring_without_page(request),
    }
    return render(request, "learning/hq_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_MANAGE)
@require_http_methods(["GET", "POST"])
def article_new(request: HttpRequest) -> HttpResponse:
    return _article_form(request, None)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_MANAGE)
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _article_form(request, services.article(require_scope(request), pk))


class QuizForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
    title_en = forms.CharField(label=gettext_lazy("English title"), max_length=120, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    pass_percent = forms.IntegerField(label=gettext_lazy("Pass mark (%)"), min_value=1, max_value=100, initial=80)
    max_attempts = forms.IntegerField(
        label=gettext_lazy("Attempts allowed (0: any)"), min_value=0, max_value=100, initial=3
    )
    contest_starts_at = forms.DateTimeField(
        label=gettext_lazy("Knowledge contest opens"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Leave both empty for a quiz without a contest."),
    )
    contest_ends_at = forms.DateTimeField(
        label=gettext_lazy("Knowledge contest closes"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    questions = forms.CharField(
        label=gettext_lazy("Questions"),
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=gettext_lazy(
            "A line per question; under it '-' for a wrong answer, '*' for a right one (several '*': several answers)."
        ),
    )
    published = forms.BooleanField(label=gettext_lazy("Published to guides"), required=False, initial=True)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_VIEW)
@require_GET
def quiz_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    rows = list(services.quizzes(scope))
    figures = services.quiz_figures(scope)
    return render(request, "learning/quiz_list.html", {"rows": [(q, figures.get(q.pk, (0, 0))) for q in rows]})


def _quiz_form(request: HttpRequest, pk: int | None) -> HttpResponse:
    scope = require_scope(request)
    quiz = services.quiz(scope, pk) if pk else None
    initial = None
    if quiz is not None:
        initial = {
            name: getattr(quiz, name)
            for name in (
                "title",
                "title_en",
                "description",
                "pass_percent",
                "max_attempts",
                "contest_starts_at",
                "contest_ends_at",
                "published",
            )
        }
        initial["questions"] = rules.questions_text(
            (q.text, [(c.text, c.correct) for c in q.choices.all()]) for q in services.questions(quiz)
        )
    form = QuizForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        parsed = rules.parse_questions(d["questions"])
        data = services.QuizIn(
            title=d["title"],
            title_en=d["title_en"],
            description=d["description"],
            pass_percent=d["pass_percent"],
            max_attempts=d["max_attempts"],
            published=d["published"],
            contest_starts_at=d["contest_starts_at"],
            contest_ends_at=d["contest_ends_at"],
            questions=[
                services.QuestionIn(p.text, [services.ChoiceIn(t, right) for t, right in p.choices], kind=p.kind)
                for p in parsed
            ],
        )
        try:
            quiz = services.create_quiz(scope, data) if quiz is None else services.update_quiz(scope, quiz.pk, data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("hq:quiz_detail", quiz.pk)
    title = _("New quiz") if quiz is None else quiz.title
    status = 400 if request.method == "POST" else 200
    return render(request, "learning/quiz_form.html", {"form": form, "title": title, "quiz": quiz}, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_MANAGE)
@require_http_methods(["GET", "POST"])
def quiz_new(request: HttpRequest) -> HttpResponse:
    return _quiz_form(request, None)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_MANAGE)
@require_http_methods(["GET", "POST"])
def quiz_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _quiz_form(request, pk)


@access(Perm.HQ_CONSOLE)
@access(Perm.LEARNING_VIEW)
@require_GET
def quiz_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    quiz = services.quiz(scope, pk)
    context = {
        "quiz": quiz,
        "questions": services.questions(quiz),
        "ranking": services.ranking(scope, pk),
        "figures": services.quiz_figures(scope).get(pk, (0, 0)),
    }
    return render(request, "learning/quiz_detail.html", context)


# --- the guide workbench ---------------------------------------------------------------------------
@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def learn_home(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    q, tag, kind = request.GET.get("q", "")[:60], request.GET.get("tag", "")[:20], request.GET.get("kind", "")
    page = paginate(request, services.articles(scope, q=q, tag=tag, kind=kind), 30)
    read = services.read_ids(scope, [a.pk for a in page.object_list])
    quizzes = list(services.quizzes(scope)[:20])
    passed = {qz.pk for qz in quizzes if scope.staff_id and services.has_passed(scope.brand_id, scope.staff_id, qz.pk)}
    context = {
        "page": page,
        "read": read,
        "q": q,
        "tag": tag,
        "kind": kind,
        "kinds": Article.Kind.choices,
        "tags": services.tags(scope)[:20],
        "quizzes": quizzes,
        "passed": passed,
        "now": clock.now(),
        "qs": querystring_without_page(request),
    }
    return render(request, "learning/guide_home.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def learn_article(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    item = services.article(scope, pk)
    read = bool(scope.staff_id) and services.has_read(scope.brand_id, scope.staff_id or 0, pk)
    return render(
        request,
        "learning/guide_article.html",
        {"a": item, "read": read, "quizzes": list(item.quizzes.filter(published=True))},
    )


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def learn_read(request: HttpRequest, pk: int) -> HttpResponse:
    if services.mark_read(require_scope(request), pk):
        messages.success(request, _("Marked as read."))
    return redirect("guide:learn_article", pk)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_http_methods(["GET", "POST"])
def learn_quiz(request: HttpRequest, pk: int) -> HttpResponse:
    """GET opens (or resumes) an attempt; POST submits it and shows the result."""
    scope = require_scope(request)
    quiz = services.quiz(scope, pk)
    done = services.my_attempts(scope, pk)
    context: dict[str, Any] = {"quiz": quiz, "done": done, "left": services.attempts_left(quiz, scope.staff_id or 0)}
    if request.method == "POST":
        answers: dict[int, list[int]] = {}
        for question in services.questions(quiz):
            answers[question.pk] = [int(v) for v in request.POST.getlist(f"q{question.pk}") if v.isdigit()]
        attempt = services.open_attempt(scope, pk)
        if attempt is None:  # submitted already, or never opened: the clock starts only on opening it
            messages.error(request, _("Open the quiz to start an attempt."))
            return redirect("guide:learn_quiz", pk)
        try:
            result = services.submit_attempt(scope, attempt.pk, answers)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("guide:learn_quiz", pk)
        context.update(
            result=result, done=services.my_attempts(scope, pk), left=services.attempts_left(quiz, scope.staff_id or 0)
        )
        return render(request, "learning/guide_quiz.html", context)
    try:
        attempt = services.start_attempt(scope, pk)
    except ValidationError as exc:
        context["closed"] = " ".join(exc.messages)
    else:
        context.update(attempt=attempt, questions=services.questions(quiz))
    return render(request, "learning/guide_quiz.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def learn_ranking(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    return render(request, "learning/guide_ranking.html", {"r": services.ranking(scope, pk)})


hq_urlpatterns = [
    path("learning/", learning_list, name="learning_list"),
    path("learning/new/", article_new, name="article_new"),
    path("learning/<int:pk>/edit/", article_edit, name="article_edit"),
    path("learning/quizzes/", quiz_list, name="quiz_list"),
    path("learning/quizzes/new/", quiz_new, name="quiz_new"),
    path("learning/quizzes/<int:pk>/", quiz_detail, name="quiz_detail"),
    path("learning/quizzes/<int:pk>/edit/", quiz_edit, name="quiz_edit"),
]
guide_urlpatterns = [
    path("learn/", learn_home, name="learn_home"),
    path("learn/a/<int:pk>/", learn_article, name="learn_article"),
    path("learn/a/<int:pk>/read/", learn_read, name="learn_read"),
    path("learn/q/<int:pk>/", learn_quiz, name="learn_quiz"),
    path("learn/q/<int:pk>/ranking/", learn_ranking, name="learn_ranking"),
]
