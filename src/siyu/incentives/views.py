"""Pages of guides' incentives.

Guide workbench (phone): my coins with their history, the reward mall (redeem, my redemptions,
confirm a gift arrived), my rank on each metric and period with the gap to the next place, the
benchmark wall (and my own write-up with a short video).

HQ console: leaderboards by metric, level and period within the viewer's reach (a region manager
sees her region, a store manager her store), with a bar chart; the reward mall's gifts and stock,
redemptions (HQ approves, rejects, ships; managers see their people's), benchmark rules."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.incentives import benchmarks, leaderboards, services
from siyu.incentives.models import Redemption
from siyu.org.services import Perm
from siyu.platform import clock, money
from siyu.platform.access import access, require_scope
from siyu.platform.tenancy import Level

GUIDE = "guide:login"
METRICS = services.BOARD_METRICS
PERIODS = services.BOARD_PERIODS
GUIDE_PERIODS = {"day": gettext_lazy("Today"), "week": gettext_lazy("This week"), "month": gettext_lazy("This month")}
LEVELS = services.BOARD_LEVELS


def _today() -> dt.date:
    return leaderboards.local_day(clock.now())


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def _day(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        return _today()


def _minimum(metric: str, text: str | None) -> int:
    """A rule's minimum as HQ types it: yuan for the sales metrics (kept in fen), a count otherwise."""
    text = (text or "").strip() or "0"
    try:
        if metric in benchmarks.MONEY_METRICS:
            return money.yuan_to_fen(text)
        return int(text)
    except ValueError:
        raise services.CoinError(
            _("Write the minimum as an amount in yuan, e.g. 500 or 499.50.")
            if metric in benchmarks.MONEY_METRICS
            else _("Write the minimum as a whole number.")
        ) from None


def show(metric: str, score: int) -> str:
    if metric in benchmarks.MONEY_METRICS:
        return f"¥{score / 100:,.2f}"
    return f"{score:,}"


# ---- guide workbench ----------------------------------------------------------------------------


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def my_coins(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    assert scope.staff_id is not None
    context = {
        "balance": services.balance(scope.brand_id, scope.staff_id),
        "entries": services.history(scope.brand_id, scope.staff_id, limit=100),
    }
    return render(request, "incentives/guide_coins.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def mall(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    assert scope.staff_id is not None
    context = {
        "balance": services.balance(scope.brand_id, scope.staff_id),
        "gifts": services.gifts(scope.brand_id),
        "mine": services.my_redemptions(scope.brand_id, scope.staff_id),
        "key": secrets.token_hex(12),
    }
    return render(request, "incentives/guide_mall.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def redeem_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """One more tap before coins are spent: the gift, its cost and her balance before and after."""
    scope = require_scope(request)
    assert scope.staff_id is not None
    try:
        gift = services.gift(scope.brand_id, pk)
    except services.Missing as exc:
        raise Http404(str(exc)) from None
    balance = services.balance(scope.brand_id, scope.staff_id)
    context = {
        "gift": gift,
        "balance": balance,
        "after": balance - gift.cost,
        "can": gift.active and gift.stock > 0 and gift.cost <= balance,
        "key": secrets.token_hex(12),
    }
    return render(request, "incentives/guide_redeem.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def redeem(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    assert scope.staff_id is not None
    try:
        services.redeem(
            scope.brand_id,
            scope.staff_id,
            _int(request.POST.get("gift")),
            quantity=_int(request.POST.get("quantity"), 1),
            key=f"web:{scope.staff_id}:{request.POST.get('key', '')[:40]}",
        )
        messages.success(request, _("Redeemed. HQ will approve it soon."))
    except services.CoinError as exc:
        messages.error(request, str(exc))
    return redirect("guide:incentives_mall")


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def received(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    assert scope.staff_id is not None
    try:
        services.confirm_received(scope.brand_id, scope.staff_id, pk)
        messages.success(request, _("Marked as received."))
    except services.CoinError as exc:
        messages.error(request, str(exc))
    return redirect("guide:incentives_mall")


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def my_rank(request: HttpRequest) -> HttpResponse:
    """Her place on a board (metric, period up to today) with the gap to the next place, the
    places around her and the top 10; for a store manager also her team: her store's guides."""
    scope = require_scope(request)
    assert scope.staff_id is not None
    metric = request.GET.get("metric", "sales_fen")
    metric = metric if metric in METRICS else "sales_fen"
    period = request.GET.get("period", "day")
    period = period if period in PERIODS else "day"
    view = services.my_rank(scope.brand_id, scope.staff_id, metric=metric, period=period, neighbours=2, top_n=10)
    team = (
        services.board(scope, metric=metric, period=period, limit=50).places
        if scope.level is Level.STORE and scope.store_id and scope.can(Perm.TASKS_APPROVE)
        else None
    )

    def row(p: services.Standing) -> dict[str, Any]:
        me = p.subject_id == scope.staff_id
        return {"rank": p.place, "label": p.name, "shown": show(metric, p.score), "me": me}

    around = [row(p) for p in view.above]
    around.append({"rank": view.rank, "label": _("You"), "shown": show(metric, view.score), "me": True})
    around += [row(p) for p in view.below]
    context = {
        "metrics": METRICS.items(),
        "periods": GUIDE_PERIODS.items(),
        "metric": metric,
        "period": period,
        "view": view,
        "score": show(metric, view.score),
        "gap": show(metric, view.gap) if view.gap is not None else None,
        "around": around,
        "top": [row(p) for p in view.top],
        "team": None if team is None else [row(p) for p in team],
    }
    return render(request, "incentives/guide_rank.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def wall(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    assert scope.staff_id is not None
    entries = benchmarks.wall(scope.brand_id)
    context = {
        "entries": [(e, show(e.metric, e.score)) for e in entries],
        "mine": benchmarks.mine(scope.brand_id, scope.staff_id)[:5],
    }
    return render(request, "incentives/guide_wall.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def write_up(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    assert scope.staff_id is not None
    try:
        benchmarks.write_up(
            scope.brand_id, scope.staff_id, pk, notes=request.POST.get("notes", ""), video=request.FILES.get("video")
        )
        messages.success(request, _("Your method notes are on the wall."))
    except services.CoinError as exc:
        messages.error(request, str(exc))
    return redirect("guide:incentives_wall")


# ---- HQ console ---------------------------------------------------------------------------------


@access(Perm.HQ_CONSOLE)
@require_GET
def hq_leaderboards(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    metric = request.GET.get("metric", "sales_fen")
    metric = metric if metric in METRICS else "sales_fen"
    period = request.GET.get("period", "day")
    period = period if period in PERIODS else "day"
    levels = services.levels_within(scope)
    level = request.GET.get("level", "guide")
    if level not in levels:  # a store manager's board is her guides; a region manager's not regions
        level = "store" if level == "region" and "store" in levels else "guide"
    day = _day(request.GET.get("day"))
    view = services.board(scope, metric=metric, period=period, day=day, level=level, limit=30)
    best = max((p.score for p in view.places), default=0) or 1
    rows = [
        {
            "place": p.place,
            "name": p.name,
            "score": show(metric, p.score),
            "pct": max(1, round(100 * p.score / best)) if p.score > 0 else 0,
        }
        for p in view.places
    ]
    context = {
        "metrics": METRICS.items(),
        "periods": PERIODS.items(),
        "levels": [(k, v) for k, v in LEVELS.items() if k in levels],
        "metric": metric,
        "period": period,
        "level": level,
        "day": day,
        "rows": rows,
        "total": view.count,
    }
    return render(request, "incentives/hq_leaderboards.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.INCENTIVES_MANAGE)
@require_http_methods(["GET", "POST"])
def hq_gifts(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    if request.method == "POST":
        try:
            gift_id = _int(request.POST.get("gift")) or None
            if request.POST.get("action") == "restock":
                services.restock(
                    scope,
                    gift_id or 0,
                    _int(request.POST.get("quantity")),
                    key=request.POST.get("key", "")[:60] or secrets.token_hex(8),
                )
                messages.success(request, _("Stock changed."))
            else:
                services.save_gift(
                    scope,
                    gift_id=gift_id,
                    name=request.POST.get("name", ""),
                    description=request.POST.get("description", ""),
                    cost=_int(request.POST.get("cost")),
                    active=request.POST.get("active", "on") == "on",
                )
                messages.success(request, _("Gift saved."))
        except services.CoinError as exc:
            messages.error(request, str(exc))
        return redirect("hq:incentives_gifts")
    context = {"gifts": services.gifts(scope.brand_id, offered_only=False), "key": secrets.token_hex(12)}
    return render(request, "incentives/hq_gifts.html", context)


@access(Perm.HQ_CONSOLE)
@require_GET
def hq_redemptions(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    status = request.GET.get("status", "")
    status = status if status in Redemption.Status.values else ""
    rows = services.redemptions(scope, status=status or None)
    names = services.subject_names(scope.brand_id, "guide", sorted({r.guide_id for r in rows}))
    context = {
        "rows": [(r, names[r.guide_id]) for r in rows],
        "statuses": Redemption.Status.choices,
        "status": status,
        "can_manage": scope.can(Perm.INCENTIVES_MANAGE),
    }
    return render(request, "incentives/hq_redemptions.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.INCENTIVES_MANAGE)
@require_POST
def hq_redemption_action(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    action = request.POST.get("action", "")
    try:
        if action in ("approve", "reject"):
            services.decide(scope, pk, approve=action == "approve", note=request.POST.get("note", ""))
        elif action == "ship":
            services.ship(scope, pk, tracking=request.POST.get("tracking", ""))
        else:
            raise services.CoinError(_("Unknown action."))
        messages.success(request, _("Redemption updated."))
    except services.CoinError as exc:
        messages.error(request, str(exc))
    except PermissionDenied:
        raise
    return redirect("hq:incentives_redemptions")


@access(Perm.HQ_CONSOLE)
@access(Perm.INCENTIVES_MANAGE)
@require_http_methods(["GET", "POST"])
def hq_benchmarks(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "pick":
                n = benchmarks.pick(scope.brand_id, _day(request.POST.get("day")))
                messages.success(request, _("%(n)d benchmark(s) picked.") % {"n": n})
            else:
                benchmarks.save_rule(
                    scope,
                    rule_id=_int(request.POST.get("rule")) or None,
                    title=request.POST.get("title", ""),
                    metric=request.POST.get("metric", ""),
                    scope_kind=request.POST.get("scope", "brand"),
                    how_many=_int(request.POST.get("how_many"), 3),
                    minimum=_minimum(request.POST.get("metric", ""), request.POST.get("minimum")),
                    award_coins=_int(request.POST.get("award_coins")),
                    active=request.POST.get("active", "on") == "on",
                )
                messages.success(request, _("Rule saved."))
        except services.CoinError as exc:
            messages.error(request, str(exc))
        return redirect("hq:incentives_benchmarks")
    entries = benchmarks.wall(scope.brand_id)
    context = {
        "rules": [(r, show(r.metric, r.minimum)) for r in benchmarks.rules(scope.brand_id)],
        "metrics": benchmarks.METRICS.items(),
        "metric_names": dict(benchmarks.METRICS),
        "entries": [(e, show(e.metric, e.score)) for e in entries],
        "yesterday": _today() - dt.timedelta(days=1),
    }
    return render(request, "incentives/hq_benchmarks.html", context)


guide_urlpatterns = [
    path("coins/", my_coins, name="incentives_coins"),
    path("mall/", mall, name="incentives_mall"),
    path("mall/redeem/", redeem, name="incentives_redeem"),
    path("mall/<int:pk>/redeem/", redeem_confirm, name="incentives_redeem_confirm"),
    path("mall/<int:pk>/received/", received, name="incentives_received"),
    path("rank/", my_rank, name="incentives_rank"),
    path("wall/", wall, name="incentives_wall"),
    path("wall/<int:pk>/", write_up, name="incentives_write_up"),
]

hq_urlpatterns = [
    path("leaderboards/", hq_leaderboards, name="incentives_leaderboards"),
    path("rewards/gifts/", hq_gifts, name="incentives_gifts"),
    path("rewards/redemptions/", hq_redemptions, name="incentives_redemptions"),
    path("rewards/redemptions/<int:pk>/", hq_redemption_action, name="incentives_redemption_action"),
    path("benchmarks/", hq_benchmarks, name="incentives_benchmarks"),
]
