"""Benchmarks (标杆): each day the rules HQ sets pick the best guides of the day before on a metric
(top seller: ``sales_fen``; top recommender: ``share_sales_fen``, sales converted from her shares;
most new fans: ``new_fans``), brand-wide or in each region, award them coins (keyed per rule, day
and guide: a rerun pays nothing more) and put them on the benchmark wall, where the guide adds her
method notes and a short video."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.incentives import leaderboards
from siyu.incentives.models import Benchmark, BenchmarkRule
from siyu.incentives.services import MANAGE, CoinError, Missing, award
from siyu.org import services as org
from siyu.platform import clock, media
from siyu.platform.tenancy import Scope

METRICS = {
    "sales_fen": gettext_lazy("Top seller (attributed sales)"),
    "share_sales_fen": gettext_lazy("Top recommender (sales from her shares)"),
    "new_fans": gettext_lazy("Most new fans"),
    "conversions": gettext_lazy("Most conversions from shares"),
    "forwards": gettext_lazy("Most forwards"),
    "tasks_done": gettext_lazy("Most tasks done"),
}
MONEY_METRICS = frozenset({"sales_fen", "share_sales_fen"})
VIDEO_MAX_BYTES = 20 * 1024 * 1024
VIDEO_DIR = "benchmarks"


@dataclass(frozen=True)
class RuleInfo:
    id: int
    title: str
    metric: str
    scope: str
    how_many: int
    minimum: int
    award_coins: int
    active: bool


@dataclass(frozen=True)
class WallEntry:
    id: int
    rule_id: int
    rule_title: str
    metric: str
    day: dt.date
    guide_id: int
    guide_name: str
    region_id: int | None
    place: int
    score: int
    coins: int
    notes: str
    video_url: str


def _rule_info(r: BenchmarkRule) -> RuleInfo:
    return RuleInfo(r.pk, r.title, r.metric, r.scope, r.how_many, r.minimum, r.award_coins, r.active)


def rules(brand_id: int) -> list[RuleInfo]:
    return [_rule_info(r) for r in BenchmarkRule.objects.filter(brand_id=brand_id).order_by("pk")]


def save_rule(
    scope: Scope,
    *,
    rule_id: int | None = None,
    title: str,
    metric: str,
    scope_kind: str = "brand",
    how_many: int = 3,
    minimum: int = 1,
    award_coins: int = 0,
    active: bool = True,
) -> RuleInfo:
    if not scope.can(MANAGE):
        raise PermissionDenied(_("You may not set benchmark rules."))
    title = title.strip()
    if not title or len(title) > 60:
        raise CoinError(_("A rule needs a title of 1 to 60 characters."), field="title")
    if metric not in METRICS:
        raise CoinError(_("Choose one of the benchmark metrics."), field="metric")
    if scope_kind not in BenchmarkRule.Scope.values:
        raise CoinError(_("The scope is the whole brand or each region."), field="scope")
    if not 1 <= how_many <= 50 or minimum < 0 or not 0 <= award_coins <= 100_000:
        raise CoinError(_("Pick 1 to 50 guides, a minimum of 0 or more and at most 100000 coins."))
    if BenchmarkRule.objects.filter(brand_id=scope.brand_id, title=title).exclude(pk=rule_id or 0).exists():
        raise CoinError(_("Another rule already has this title."), field="title")
    fields = {
        "title": title,
        "metric": metric,
        "scope": scope_kind,
        "how_many": how_many,
        "minimum": minimum,
        "award_coins": award_coins,
        "active": active,
    }
    if rule_id is None:
        rule = BenchmarkRule.objects.create(brand_id=scope.brand_id, created_at=clock.now(), **fields)
    else:
        rule = BenchmarkRule.objects.filter(brand_id=scope.brand_id, pk=rule_id).first()  # type: ignore[assignment]
        if rule is None:
            raise Missing(_("No such rule."))
        for k, v in fields.items():
            setattr(rule, k, v)
        rule.save()
    return _rule_info(rule)


def rule(brand_id: int, rule_id: int) -> RuleInfo:
    found = BenchmarkRule.objects.filter(brand_id=brand_id, pk=rule_id).first()
    if found is None:
        raise Missing(_("No such rule."))
    return _rule_info(found)


def delete_rule(scope: Scope, rule_id: int) -> None:
    """Delete a rule that has picked nobody yet; one with picks on the wall is switched off instead
    (``active=False``), so the wall and the coins it paid keep their reason."""
    if not scope.can(MANAGE):
        raise PermissionDenied(_("You may not set benchmark rules."))
    found = BenchmarkRule.objects.filter(brand_id=scope.brand_id, pk=rule_id).first()
    if found is None:
        raise Missing(_("No such rule."))
    if Benchmark.objects.filter(rule=found).exists():
        raise CoinError(_("This rule has picked guides already: switch it off instead of deleting it."))
    found.delete()


def pick(brand_id: int, day: dt.date) -> int:
    """Run every active rule of the brand for ``day``: pick, award, put on the wall. Idempotent
    (a guide is picked once per rule and day; the award's key is the pick's). Returns the picks made."""
    made = 0
    for rule in BenchmarkRule.objects.filter(brand_id=brand_id, active=True).order_by("pk"):
        regions: list[int | None] = [None]
        if rule.scope == BenchmarkRule.Scope.REGION:
            regions = list(sorted(org.region_ids(brand_id).values()))
        for region_id in regions:
            board = leaderboards.top(brand_id, rule.metric, ("day", day), limit=rule.how_many, region_id=region_id)
            for p in board:
                if p.score < max(rule.minimum, 1):
                    continue
                made += _pick_one(brand_id, rule, day, p, region_id)
    return made


def _pick_one(brand_id: int, rule: BenchmarkRule, day: dt.date, p: leaderboards.Place, region_id: int | None) -> int:
    if Benchmark.objects.filter(rule=rule, day=day, guide_id=p.subject_id).exists():
        return 0
    try:
        with transaction.atomic():
            Benchmark.objects.create(
                brand_id=brand_id,
                rule=rule,
                day=day,
                guide_id=p.subject_id,
                region_id=region_id,
                place=p.place,
                score=p.score,
                coins=rule.award_coins,
                created_at=clock.now(),
            )
            if rule.award_coins:
                award(
                    brand_id,
                    p.subject_id,
                    rule.award_coins,
                    key=f"benchmark:{rule.pk}:{day.isoformat()}:{p.subject_id}",
                    reason=f"{rule.title} {day.isoformat()} #{p.place}",
                    source_type="benchmark",
                    source_id=rule.pk,
                )
    except IntegrityError:
        return 0
    return 1


def yesterday() -> dt.date:
    """The day the nightly pick reads: yesterday in the platform's time zone."""
    return leaderboards.local_day(clock.now()) - dt.timedelta(days=1)


def pick_all(day: dt.date | None = None) -> dict[int, int]:
    """Every brand with rules, for ``day`` (default: :func:`yesterday`)."""
    if day is None:
        day = yesterday()
    brands = BenchmarkRule.objects.filter(active=True).values_list("brand_id", flat=True).distinct()
    return {b: pick(b, day) for b in sorted(set(brands))}


def wall(brand_id: int, *, day: dt.date | None = None, metric: str | None = None, limit: int = 60) -> list[WallEntry]:
    """The benchmark wall: the latest day's picks (or ``day``'s), rule by rule, place by place;
    with ``metric``, only the picks of rules on that metric."""
    qs = Benchmark.objects.filter(brand_id=brand_id).select_related("rule", "guide")
    if metric:
        qs = qs.filter(rule__metric=metric)
    if day is None:
        day = qs.order_by("-day").values_list("day", flat=True).first()
        if day is None:
            return []
    qs = qs.filter(day=day).order_by("rule_id", "region_id", "place", "guide_id")[:limit]
    return [_wall(b) for b in qs]


def _wall(b: Benchmark) -> WallEntry:
    return WallEntry(
        id=b.pk,
        rule_id=b.rule_id,
        rule_title=b.rule.title,
        metric=b.rule.metric,
        day=b.day,
        guide_id=b.guide_id,
        guide_name=b.guide.name,
        region_id=b.region_id,
        place=b.place,
        score=b.score,
        coins=b.coins,
        notes=b.notes,
        video_url=f"{settings.MEDIA_URL}{b.video}" if b.video else "",
    )


def mine(brand_id: int, guide_id: int) -> list[WallEntry]:
    qs = Benchmark.objects.filter(brand_id=brand_id, guide_id=guide_id).select_related("rule", "guide")
    return [_wall(b) for b in qs.order_by("-day", "rule_id")[:30]]


def write_up(brand_id: int, guide_id: int, benchmark_id: int, *, notes: str, video: object | None = None) -> WallEntry:
    """The picked guide writes her method notes and may upload a short video (MP4, MOV or WebM,
    checked by content, at most 20 MB), stored under ``MEDIA_ROOT`` with a random name."""
    b = (
        Benchmark.objects.filter(brand_id=brand_id, guide_id=guide_id, pk=benchmark_id)
        .select_related("rule", "guide")
        .first()
    )
    if b is None:
        raise Missing(_("No such benchmark of yours."))
    notes = notes.strip()
    if len(notes) > 2000:
        raise CoinError(_("Method notes are at most 2000 characters."), field="notes")
    name = b.video
    if video is not None:
        size = int(getattr(video, "size", 0) or 0)
        if size <= 0 or size > VIDEO_MAX_BYTES:
            raise CoinError(_("A video is at most 20 MB."), field="video")
        try:
            name = media.store_video(video.chunks(), VIDEO_DIR, max_bytes=VIDEO_MAX_BYTES)  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise CoinError(exc.message_dict["video"][0], field="video") from exc
    Benchmark.objects.filter(pk=b.pk).update(notes=notes, video=name)
    b.refresh_from_db()
    return _wall(b)
