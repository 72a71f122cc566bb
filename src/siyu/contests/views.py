"""Pages of PK contests and the feed.

HQ console (``/hq/contests/``): the list, the designer (daily targets as ``threshold=coins`` lists,
custom groups one per line as ``name: login, login``), a contest's page with its actions, the live
board (refreshes itself every 15 s; readable on a phone, for the big screen of a morning meeting)
and the feed's moderation. Guide workbench (``/guide/contests/``, ``/guide/feed/``): my contests
with my rank and the gap to the next place, a contest's board, the feed with likes and comments.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contests import feed, services
from siyu.contests.models import Contest, ContestTarget, FeedPolicy, Metric
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.pagination import paginate
from siyu.platform.tenancy import Scope

GUIDE = "guide:login"
_PAIR = re.compile(r"^\s*(\d{1,12})\s*[=:：]\s*(\d{1,9})\s*$")


def parse_targets(text: str, level: str) -> list[services.TargetIn]:
    """``"3=10, 5=30"``: reach 3 points in a day, earn 10 coins; reach 5, 30 more."""
    out = []
    for part in re.split(r"[,，;；\n]+", text or ""):
        if not part.strip():
            continue
        m = _PAIR.match(part)
        if m is None:
            raise ValidationError({"targets": _("Write each daily target as points=coins, e.g. 3=10, 5=30.")})
        out.append(services.TargetIn(int(m.group(1)), int(m.group(2)), level))
    return out


def parse_groups(brand_id: int, text: str) -> list[services.TeamIn]:
    """One group per line: ``先锋队: chen.guide, 13900000006``."""
    guides = org.guides_by_login(brand_id)
    out = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, sep, rest = line.partition(":") if ":" in line else line.partition("：")
        if not sep:
            raise ValidationError({"teams": _("Write each group as a name, a colon and its guides' logins.")})
        ids = []
        for login in re.split(r"[,，\s]+", rest.strip()):
            if not login:
                continue
            found = guides.get(login.lower()) or guides.get(login)
            if found is None:
                raise ValidationError({"teams": _("No guide signs in as %(login)s.") % {"login": login}})
            ids.append(found.id)
        out.append(services.TeamIn(name.strip(), tuple(ids)))
    return out


class ContestForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    metric = forms.ChoiceField(label=gettext_lazy("What counts"), choices=Metric.choices)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Contest.Kind.choices)
    team_by = forms.ChoiceField(
        label=gettext_lazy("Teams (team PK)"), choices=[("", "—"), *Contest.TeamBy.choices], required=False
    )
    starts_on = forms.DateField(label=gettext_lazy("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=gettext_lazy("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    regions = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Branch companies taking part"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None chosen and no store chosen: the whole brand."),
    )
    stores = forms.TypedMultipleChoiceField(label=gettext_lazy("Stores taking part"), coerce=int, required=False)
    guide_targets = forms.CharField(
        label=gettext_lazy("Daily targets per guide"),
        required=False,
        help_text=gettext_lazy("points=coins, e.g. 3=10, 5=30 (sales in fen)."),
    )
    team_targets = forms.CharField(
        label=gettext_lazy("Daily targets per team"),
        required=False,
        help_text=gettext_lazy("points=coins; every member of the team is paid."),
    )
    groups = forms.CharField(
        label=gettext_lazy("Custom groups"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One group per line: name: login, login, …"),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = cast(forms.ChoiceField, self.fields["regions"])
        regions.choices = list(org.region_names(scope.brand_id).items())
        stores = cast(forms.ChoiceField, self.fields["stores"])
        stores.choices = [(s.id, f"{s.code} {s.name}") for s in org.stores(scope.brand_id)]


def _initial(c: Contest) -> dict[str, Any]:
    logins = {g.id: g for g in org.guides(c.brand_id, active_only=False)}
    usernames = {v.id: k for k, v in org.guides_by_login(c.brand_id).items() if not k.isdigit()}

    def targets(level: str) -> str:
        return ", ".join(f"{t.threshold}={t.coins}" for t in c.targets.filter(level=level))

    return {
        "name": c.name,
        "metric": c.metric,
        "kind": c.kind,
        "team_by": c.team_by,
        "starts_on": c.starts_on,
        "ends_on": c.ends_on,
        "regions": c.region_ids,
        "stores": c.store_ids,
        "guide_targets": targets(ContestTarget.Level.GUIDE),
        "team_targets": targets(ContestTarget.Level.TEAM),
        "groups": "\n".join(
            f"{t.name}: {', '.join(usernames.get(i, str(i)) for i in t.member_ids if i in logins)}"
            for t in c.teams.all()
        )
        if c.team_by == Contest.TeamBy.CUSTOM
        else "",
        "description": c.description,
    }


def _design(request: HttpRequest, scope: Scope, contest: Contest | None) -> HttpResponse:
    form = ContestForm(scope, request.POST or None, initial=_initial(contest) if contest else None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            data = services.ContestIn(
                name=d["name"],
                metric=d["metric"],
                starts_on=d["starts_on"],
                ends_on=d["ends_on"],
                kind=d["kind"],
                team_by=d["team_by"],
                description=d["description"],
                region_ids=tuple(d["regions"]),
                store_ids=tuple(d["stores"]),
                targets=(
                    *parse_targets(d["guide_targets"], "guide"),
                    *parse_targets(d["team_targets"], "team"),
                ),
                teams=tuple(parse_groups(scope.brand_id, d["groups"])),
            )
            if contest is None:
                contest = services.create_contest(scope, data)
            else:
                contest = services.update_contest(scope, contest.pk, data)
        except ValidationError as exc:
            apply_errors(
                form,
                exc,
                {"targets": "guide_targets", "teams": "groups", "region_ids": "regions", "store_ids": "stores"},
            )
        else:
            messages.success(request, _("Contest saved."))
            return redirect("hq:contest_detail", contest.pk)
    title = _("New contest") if contest is None else _("Change %(name)s") % {"name": contest.name}
    status = 400 if request.method == "POST" else 200
    return render(
        request, "contests/contest_form.html", {"form": form, "title": title, "contest": contest}, status=status
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_VIEW)
@require_GET
def contest_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    state = request.GET.get("state", "")
    rows = services.contests(scope, state=state or None)
    return render(
        request, "contests/contest_list.html", {"rows": rows, "state": state, "states": Contest.State.choices}
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contest_new(request: HttpRequest) -> HttpResponse:
    return _design(request, require_scope(request), None)


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contest_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    c = services.contest(scope, pk)
    if c.state != Contest.State.DRAFT:
        messages.error(request, _("Only a draft can be changed."))
        return redirect("hq:contest_detail", c.pk)
    return _design(request, scope, c)


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_VIEW)
@require_GET
def contest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    c = services.contest(scope, pk)
    names = {g.id: g.name for g in org.guides(c.brand_id, active_only=False)}
    context = {
        "c": c,
        "targets": list(c.targets.all()),
        "teams": list(c.teams.all()),
        "board": services.board(scope, pk, limit=10),
        "rewards": [(r, names.get(r.guide_id, str(r.guide_id))) for r in services.rewards(scope, pk, limit=20)],
        "region_names": [n for i, n in org.region_names(c.brand_id).items() if i in c.region_ids],
        "store_names": [s.name for s in org.stores(c.brand_id) if s.id in c.store_ids],
    }
    return render(request, "contests/contest_detail.html", context)


def _act(request: HttpRequest, pk: int, verb: Any, done: str) -> HttpResponse:
    scope = require_scope(request)
    try:
        verb(scope, pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("hq:contest_detail", pk) if verb is not services.delete_draft else redirect("hq:contest_list")


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_MANAGE)
@require_POST
def contest_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.start_contest, _("The contest is running: scores count from now."))


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_MANAGE)
@require_POST
def contest_settle(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.settle_contest, _("The contest is settled: its results are final."))


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_MANAGE)
@require_POST
def contest_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.delete_draft, _("Draft deleted."))


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_VIEW)
@require_GET
def contest_board(request: HttpRequest, pk: int) -> HttpResponse:
    """The live board: refreshes itself while the contest runs."""
    scope = require_scope(request)
    board = services.board(scope, pk, limit=100)
    return render(request, "contests/board.html", {"b": board, "c": board.contest, "refresh": not board.frozen})


# --- the feed in the console ---------------------------------------------------------------------
class AudienceForm(forms.Form):
    audience = forms.ChoiceField(label=gettext_lazy("Guides see the reports of"), choices=FeedPolicy.Audience.choices)


@access(Perm.HQ_CONSOLE)
@access(Perm.CONTESTS_VIEW)
@require_GET
def feed_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    page = paginate(request, feed.posts(scope, with_hidden=True), 30)
    form = AudienceForm(initial={"audience": feed.audience(scope.brand_id)})
    return render(
        request, "contests/feed_hq.html", {"page": page, "form": form, "moderate": scope.can(Perm.FEED_MODERATE)}
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.FEED_MODERATE)
@require_POST
def feed_audience(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    try:
        feed.set_audience(scope, request.POST.get("audience", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Saved."))
    return redirect("hq:feed_list")


@access(Perm.HQ_CONSOLE)
@access(Perm.FEED_MODERATE)
@require_POST
def feed_hide(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    hidden = request.POST.get("show") != "1"
    feed.hide(scope, pk, reason=request.POST.get("reason", ""), hidden=hidden)
    messages.success(request, _("The post is hidden from guides.") if hidden else _("The post is shown again."))
    return redirect("hq:feed_list")


# --- the guide workbench ---------------------------------------------------------------------------
@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def my_contests(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    return render(request, "contests/guide_contests.html", {"rows": services.my_contests(scope)})


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_board(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    board = services.board(scope, pk, limit=50)
    if board.contest.state == Contest.State.DRAFT:
        from django.http import Http404

        raise Http404("not found")
    mine = next((m for m in services.my_contests(scope) if m.contest.pk == pk), None)
    return render(request, "contests/guide_board.html", {"b": board, "c": board.contest, "mine": mine})


class PostForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("My day"),
        max_length=feed.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": gettext_lazy("Sales, new fans, what worked today…")}),
    )
    picture = forms.FileField(label=gettext_lazy("Picture (optional)"), required=False)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_http_methods(["GET", "POST"])
def guide_feed(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = PostForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data.get("picture")
            try:
                feed.publish(scope, form.cleaned_data["text"], picture=upload.read() if upload else None)
            except ValidationError as exc:
                apply_errors(form, exc, {"image": "picture"})
            else:
                messages.success(request, _("Your report is posted."))
                return redirect("guide:feed")
        status = 400
    page = paginate(request, feed.posts(scope, workbench=True), 20)
    liked = feed.liked(scope, [p.pk for p in page.object_list])
    context = {"page": page, "form": form, "liked": liked, "audience": feed.audience(scope.brand_id)}
    return render(request, "contests/guide_feed.html", context, status=status)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_post(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    post = feed.post_of(scope, pk, workbench=True)
    context = {"p": post, "comments": feed.comments(post), "liked": pk in feed.liked(scope, [pk])}
    return render(request, "contests/guide_post.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def guide_like(request: HttpRequest, pk: int) -> HttpResponse:
    feed.like(require_scope(request), pk)
    return redirect("guide:feed_post", pk) if request.POST.get("back") == "post" else redirect("guide:feed")


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def guide_comment(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        feed.comment(require_scope(request), pk, request.POST.get("text", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("guide:feed_post", pk)


hq_urlpatterns = [
    path("contests/", contest_list, name="contest_list"),
    path("contests/new/", contest_new, name="contest_new"),
    path("contests/<int:pk>/", contest_detail, name="contest_detail"),
    path("contests/<int:pk>/edit/", contest_edit, name="contest_edit"),
    path("contests/<int:pk>/start/", contest_start, name="contest_start"),
    path("contests/<int:pk>/settle/", contest_settle, name="contest_settle"),
    path("contests/<int:pk>/delete/", contest_delete, name="contest_delete"),
    path("contests/<int:pk>/board/", contest_board, name="contest_board"),
    path("feed/", feed_list, name="feed_list"),
    path("feed/audience/", feed_audience, name="feed_audience"),
    path("feed/<int:pk>/hide/", feed_hide, name="feed_hide"),
]
guide_urlpatterns = [
    path("contests/", my_contests, name="my_contests"),
    path("contests/<int:pk>/", guide_board, name="contest_board"),
    path("feed/", guide_feed, name="feed"),
    path("feed/<int:pk>/", guide_post, name="feed_post"),
    path("feed/<int:pk>/like/", guide_like, name="feed_like"),
    path("feed/<int:pk>/comment/", guide_comment, name="feed_comment"),
]
