"""Use-cases of PK contests (ADR 0019): design (HQ, draft), start (entrants frozen), live boards,
settlement (results frozen), a guide's own contests. The scoring itself is in
:mod:`siyu.contests.scoring`; the performance feed in :mod:`siyu.contests.feed` (re-exported
below for other domains).

Lifecycle: ``draft`` → ``running`` (:func:`start_contest`) → ``settled`` (:func:`settle_contest`,
or the nightly job once the last day is over). Any other move is refused with a clear error and
changes nothing; only a draft may be edited or deleted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils.translation import gettext as _

from siyu.contests import rules, scoring
from siyu.contests.models import (
    Contest,
    ContestEntrant,
    ContestResult,
    ContestReward,
    ContestScore,
    ContestTally,
    ContestTarget,
    ContestTeam,
    Metric,
)
from siyu.platform import audit, clock
from siyu.platform.tenancy import Scope, get_scoped, restrict

VIEW = "contests.view"
MANAGE = "contests.manage"
MAX_TARGETS = 10
MAX_TEAMS = 200


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


# --- design ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetIn:
    threshold: int
    coins: int
    level: str = "guide"


@dataclass(frozen=True)
class TeamIn:
    name: str
    member_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ContestIn:
    name: str
    metric: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    kind: str = "individual"
    team_by: str = ""
    description: str = ""
    region_ids: tuple[int, ...] = ()
    store_ids: tuple[int, ...] = ()
    targets: tuple[TargetIn, ...] = ()
    teams: tuple[TeamIn, ...] = ()  # custom groups only


def _clean(scope: Scope, data: ContestIn) -> dict[str, Any]:
    from siyu.org import services as org

    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name or len(name) > 80:
        errors["name"] = _("Give the contest a name of 1 to 80 characters.")
    if data.metric not in Metric.values:
        errors["metric"] = _("Choose what the contest counts.")
    if data.kind not in Contest.Kind.values:
        errors["kind"] = _("Choose an individual or a team PK.")
    team_by = data.team_by if data.kind == Contest.Kind.TEAM else ""
    if data.kind == Contest.Kind.TEAM and team_by not in Contest.TeamBy.values:
        errors["team_by"] = _("Choose what the teams are: branch companies, stores or custom groups.")
    if data.starts_on is None:
        errors["starts_on"] = _("Give the first day.")
    if data.ends_on is None:
        errors["ends_on"] = _("Give the last day.")
    elif data.starts_on is not None and data.ends_on < data.starts_on:
        errors["ends_on"] = _("The last day comes on or after the first day.")
    elif data.starts_on is not None and (data.ends_on - data.starts_on).days > 365:
        errors["ends_on"] = _("A contest lasts at most a year.")
    regions = set(org.region_names(scope.brand_id))
    stores = {s.id for s in org.stores(scope.brand_id)}
    if set(data.region_ids) - regions:
        errors["region_ids"] = _("Choose branch companies of this brand.")
    if set(data.store_ids) - stores:
        errors["store_ids"] = _("Choose stores of this brand.")
    targets: list[TargetIn] = []
    seen: set[tuple[str, int]] = set()
    for t in data.targets:
        level = t.level if t.level in ContestTarget.Level.values else ""
        if not level or (level == "team" and data.kind != Contest.Kind.TEAM):
            errors["targets"] = _("A team target needs a team PK.")
            break
        if not isinstance(t.threshold, int) or not isinstance(t.coins, int) or t.threshold <= 0 or t.coins <= 0:
            errors["targets"] = _("A daily target and its coins are whole numbers above zero.")
            break
        if (level, t.threshold) in seen:
            errors["targets"] = _("Each daily target appears once.")
            break
        seen.add((level, t.threshold))
        targets.append(TargetIn(t.threshold, t.coins, level))
    if len(targets) > MAX_TARGETS:
        errors["targets"] = _("At most %(n)d daily targets.") % {"n": MAX_TARGETS}
    teams: list[TeamIn] = []
    if team_by == Contest.TeamBy.CUSTOM:
        guides = {g.id for g in org.guides(scope.brand_id)}
        names: set[str] = set()
        placed: set[int] = set()
        for team in data.teams:
            tname = team.name.strip()
            members = tuple(dict.fromkeys(int(i) for i in team.member_ids))
            if not tname or len(tname) > 60 or tname in names:
                errors["teams"] = _("Each group needs its own name of 1 to 60 characters.")
                break
            if not members or set(members) - guides:
                errors["teams"] = _("Each group holds guides of this brand (at least one).")
                break
            if placed & set(members):
                errors["teams"] = _("A guide belongs to one group only.")
                break
            names.add(tname)
            placed |= set(members)
            teams.append(TeamIn(tname, members))
        if len(teams) < 2 and "teams" not in errors:
            errors["teams"] = _("A team PK needs at least two groups.")
        if len(teams) > MAX_TEAMS:
            errors["teams"] = _("At most %(n)d groups.") % {"n": MAX_TEAMS}
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "description": data.description.strip()[:2000],
        "kind": data.kind,
        "team_by": team_by,
        "metric": data.metric,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "region_ids": sorted(set(data.region_ids)),
        "store_ids": sorted(set(data.store_ids)),
        "targets": targets,
        "teams": teams,
    }


def _write_parts(contest: Contest, clean: dict[str, Any]) -> None:
    contest.targets.all().delete()
    contest.teams.all().delete()
    ContestTarget.objects.bulk_create(
        ContestTarget(brand_id=contest.brand_id, contest=contest, level=t.level, threshold=t.threshold, coins=t.coins)
        for t in clean["targets"]
    )
    ContestTeam.objects.bulk_create(
        ContestTeam(brand_id=contest.brand_id, contest=contest, name=t.name, member_ids=list(t.member_ids))
        for t in clean["teams"]
    )


FIELDS = ("name", "description", "kind", "team_by", "metric", "starts_on", "ends_on", "region_ids", "store_ids")


@transaction.atomic
def create_contest(scope: Scope, data: ContestIn) -> Contest:
    _require(scope, MANAGE)
    clean = _clean(scope, data)
    contest = Contest.objects.create(brand_id=scope.brand_id, created_at=clock.now(), **{k: clean[k] for k in FIELDS})
    _write_parts(contest, clean)
    audit.record_by(scope, "contest.create", contest, after=audit.snapshot(contest, FIELDS))
    return contest


def _locked(scope: Scope, contest_id: int) -> Contest:
    get_scoped(Contest, scope, pk=contest_id)  # 404 outside the brand
    return Contest.objects.select_for_update().get(pk=contest_id)


@transaction.atomic
def update_contest(scope: Scope, contest_id: int, data: ContestIn) -> Contest:
    _require(scope, MANAGE)
    contest = _locked(scope, contest_id)
    if contest.state != Contest.State.DRAFT:
        raise ValidationError(
            _("Only a draft can be changed; this contest is %(state)s.") % {"state": contest.get_state_display()}
        )
    clean = _clean(scope, data)
    before = audit.snapshot(contest, FIELDS)
    for k in FIELDS:
        setattr(contest, k, clean[k])
    contest.save()
    _write_parts(contest, clean)
    audit.record_by(scope, "contest.update", contest, before=before, after=audit.snapshot(contest, FIELDS))
    return contest


@transaction.atomic
def delete_draft(scope: Scope, contest_id: int) -> None:
    _require(scope, MANAGE)
    contest = _locked(scope, contest_id)
    if contest.state != Contest.State.DRAFT:
        raise ValidationError(_("Only a draft can be deleted; a started contest stays on record."))
    audit.record_by(scope, "contest.delete", contest, before=audit.snapshot(contest, FIELDS))
    contest.delete()


# --- start: the entrants are frozen -------------------------------------------------------------------
def _roster(contest: Contest) -> list[tuple[Any, ContestTeam | None]]:
    """The guides who take part (with their team), as the organisation stands now."""
    from siyu.org import services as org

    store_region = {s.id: s.region_id for s in org.stores(contest.brand_id)}
    guides = org.guides(contest.brand_id)
    regions, stores = set(contest.region_ids), set(contest.store_ids)

    def region_of(g: Any) -> int | None:
        return store_region.get(g.store_id) if g.store_id else g.region_id

    if regions or stores:
        guides = [g for g in guides if region_of(g) in regions or g.store_id in stores]
    out: list[tuple[Any, ContestTeam | None]] = []
    if contest.kind == Contest.Kind.INDIVIDUAL:
        return [(g, None) for g in guides]
    if contest.team_by == Contest.TeamBy.CUSTOM:
        by_id = {g.id: g for g in org.guides(contest.brand_id)}
        for team in contest.teams.all():
            out += [(by_id[i], team) for i in team.member_ids if i in by_id]
        return out
    names = org.region_names(contest.brand_id)
    store_names = {s.id: s.name for s in org.stores(contest.brand_id)}
    teams: dict[int, ContestTeam] = {}
    for g in guides:
        key = region_of(g) if contest.team_by == Contest.TeamBy.REGION else g.store_id
        if key is None:
            continue
        if key not in teams:
            label = names.get(key, str(key)) if contest.team_by == "region" else store_names.get(key, str(key))
            teams[key] = ContestTeam.objects.create(
                brand_id=contest.brand_id,
                contest=contest,
                name=label[:60],
                region_id=key if contest.team_by == "region" else None,
                store_id=key if contest.team_by == "store" else None,
            )
        out.append((g, teams[key]))
    return out


@transaction.atomic
def start_contest(scope: Scope, contest_id: int) -> Contest:
    """Draft → running: the entrants (and the teams of a branch-company or store PK) are frozen
    from the organisation as it stands now; scoring begins."""
    from siyu.org import services as org

    _require(scope, MANAGE)
    contest = _locked(scope, contest_id)
    if contest.state != Contest.State.DRAFT:
        raise ValidationError(
            _("Only a draft can be started; this contest is %(state)s.") % {"state": contest.get_state_display()}
        )
    if contest.ends_on < clock.today():
        raise ValidationError(_("The last day of this contest is past; change its days first."))
    roster = _roster(contest)
    if not roster:
        raise ValidationError(_("No guide takes part: choose branch companies, stores or groups with guides."))
    if contest.kind == Contest.Kind.TEAM and len({t.pk for _, t in roster if t is not None}) < 2:
        raise ValidationError(_("A team PK needs at least two teams with guides."))
    store_region = {s.id: s.region_id for s in org.stores(contest.brand_id)}
    ContestEntrant.objects.bulk_create(
        ContestEntrant(
            brand_id=contest.brand_id,
            contest=contest,
            guide_id=g.id,
            name=g.name[:60],
            team=team,
            store_id=g.store_id,
            region_id=store_region.get(g.store_id) if g.store_id else g.region_id,
        )
        for g, team in roster
    )
    contest.state = Contest.State.RUNNING
    contest.started_at = clock.now()
    contest.save(update_fields=["state", "started_at"])
    audit.record_by(scope, "contest.start", contest, after={"state": contest.state, "entrants": len(roster)})
    return contest


# --- settlement: results frozen -------------------------------------------------------------------------
@transaction.atomic
def settle_contest(scope: Scope, contest_id: int) -> Contest:
    """Running → settled: every entrant's and team's total is ranked and copied into
    ``ContestResult``; later events and tasks no longer score (the scorers hold the contest row
    ``FOR SHARE`` and find it settled)."""
    _require(scope, MANAGE)
    contest = _locked(scope, contest_id)
    if contest.state != Contest.State.RUNNING:
        raise ValidationError(
            _("Only a running contest can be settled; this contest is %(state)s.")
            % {"state": contest.get_state_display()}
        )
    _freeze(contest)
    contest.state = Contest.State.SETTLED
    contest.settled_at = clock.now()
    contest.save(update_fields=["state", "settled_at"])
    audit.record_by(scope, "contest.settle", contest, after={"state": contest.state})
    return contest


def _freeze(contest: Contest) -> None:
    totals = _totals(contest)
    coins = dict(
        ContestReward.objects.filter(contest=contest)
        .values_list("guide_id")
        .annotate(c=Sum("coins"))
        .values_list("guide_id", "c")
    )
    entrants = list(ContestEntrant.objects.filter(contest=contest))
    rows = [
        ContestResult(
            brand_id=contest.brand_id,
            contest=contest,
            subject="g",
            subject_id=e.guide_id,
            label=e.name,
            team_id=e.team_id,
            rank=rank,
            points=points,
            coins=coins.get(e.guide_id, 0),
        )
        for rank, e, points in rules.ranked((e, totals["g"].get(e.guide_id, 0)) for e in entrants)
    ]
    teams = list(contest.teams.all())
    team_coins: dict[int, int] = defaultdict(int)
    for e in entrants:
        if e.team_id is not None:
            team_coins[e.team_id] += coins.get(e.guide_id, 0)
    rows += [
        ContestResult(
            brand_id=contest.brand_id,
            contest=contest,
            subject="t",
            subject_id=t.pk,
            label=t.name,
            rank=rank,
            points=points,
            coins=team_coins.get(t.pk, 0),
        )
        for rank, t, points in rules.ranked((t, totals["t"].get(t.pk, 0)) for t in teams if t.entrants.exists())
    ]
    ContestResult.objects.bulk_create(rows)


def _totals(contest: Contest, day: dt.date | None = None) -> dict[str, dict[int, int]]:
    qs = ContestTally.objects.filter(contest=contest)
    if day is not None:
        qs = qs.filter(day=day)
    out: dict[str, dict[int, int]] = {"g": {}, "t": {}}
    for subject, subject_id, points in (
        qs.values_list("subject", "subject_id").annotate(p=Sum("points")).values_list("subject", "subject_id", "p")
    ):
        out[subject][subject_id] = int(points or 0)
    return out


def settle_due(today: dt.date | None = None) -> int:
    """Settle every running contest whose last day ended before yesterday (a day's grace for late
    events); returns how many. The nightly job calls it."""
    from siyu.org import services as org

    today = today or clock.today()
    done = 0
    for contest in Contest.objects.filter(state=Contest.State.RUNNING, ends_on__lt=today - dt.timedelta(days=1)):
        settle_contest(org.hq_scope(contest.brand_id, "contest settlement"), contest.pk)
        done += 1
    return done


# --- reading: lists, boards, a guide's own contests ------------------------------------------------------
def contests(scope: Scope, *, state: str | None = None) -> list[Contest]:
    qs = restrict(Contest, scope).annotate(n_entrants=Count("entrants"))
    if state in Contest.State.values:
        qs = qs.filter(state=state)
    return list(qs.order_by("-starts_on", "-id"))


def contest(scope: Scope, contest_id: int) -> Contest:
    return get_scoped(Contest, scope, pk=contest_id)


@dataclass(frozen=True)
class Row:
    rank: int
    subject_id: int
    label: str
    points: int
    detail: str = ""  # a guide's store or team
    coins: int = 0
    me: bool = False
    money: bool = False  # points are fen (attributed sales)

    @property
    def shown(self) -> str:
        return shown(self.points, self.money)


shown = rules.shown  # points as a person reads them (sales in yuan, the rest as counts)


@dataclass
class Board:
    contest: Contest
    guides: list[Row] = field(default_factory=list)
    teams: list[Row] = field(default_factory=list)
    today: list[Row] = field(default_factory=list)  # running: today's ranking
    entrants: int = 0
    coins_paid: int = 0
    frozen: bool = False


def _store_names(brand_id: int) -> dict[int, str]:
    from siyu.org import services as org

    return {s.id: s.name for s in org.stores(brand_id)}


def board(scope: Scope, contest_id: int, *, limit: int = 50) -> Board:
    """The live board of a running contest (individuals from the leaderboards, teams from the
    contest's tallies) or the frozen results of a settled one."""
    c = contest(scope, contest_id)
    out = Board(c, entrants=ContestEntrant.objects.filter(contest=c).count())
    out.coins_paid = int(ContestReward.objects.filter(contest=c).aggregate(s=Sum("coins"))["s"] or 0)
    me = scope.staff_id
    money = c.metric == Metric.SALES
    if c.state == Contest.State.SETTLED:
        out.frozen = True
        teams = {t.pk: t.name for t in c.teams.all()}
        for r in ContestResult.objects.filter(contest=c).order_by("rank", "label"):
            row = Row(
                r.rank,
                r.subject_id,
                r.label,
                r.points,
                teams.get(r.team_id or 0, ""),
                r.coins,
                r.subject == "g" and r.subject_id == me,
                money,
            )
            (out.guides if r.subject == "g" else out.teams).append(row)
        out.guides = out.guides[:limit]
        return out
    if c.state == Contest.State.DRAFT:
        return out
    entrants = {e.guide_id: e for e in ContestEntrant.objects.filter(contest=c).select_related("team")}
    stores = _store_names(c.brand_id)

    def detail(e: ContestEntrant | None) -> str:
        if e is None:
            return ""
        return e.team.name if e.team is not None else stores.get(e.store_id or 0, "")

    boards = scoring.incentives().leaderboards
    for place in boards.top(c.brand_id, c.board, ("board", None), board=c.board, limit=limit):
        e = entrants.get(place.subject_id)
        out.guides.append(
            Row(
                place.place,
                place.subject_id,
                e.name if e else "?",
                place.score,
                detail(e),
                me=place.subject_id == me,
                money=money,
            )
        )
    for place in boards.top(c.brand_id, c.board, ("day", clock.today()), limit=10):
        e = entrants.get(place.subject_id)
        out.today.append(
            Row(
                place.place,
                place.subject_id,
                e.name if e else "?",
                place.score,
                detail(e),
                me=place.subject_id == me,
                money=money,
            )
        )
    totals = _totals(c)["t"]
    sizes = dict(
        ContestEntrant.objects.filter(contest=c).exclude(team=None).values_list("team_id").annotate(n=Count("id"))
    )
    playing = [t for t in c.teams.all() if sizes.get(t.pk)]
    for rank, t, points in rules.ranked((t, totals.get(t.pk, 0)) for t in playing):
        out.teams.append(Row(rank, t.pk, t.name, points, detail=str(sizes[t.pk]), money=money))
    return out


@dataclass(frozen=True)
class MyContest:
    contest: Contest
    rank: int
    points: int
    gap: int | None  # points to the next place; None when first
    entrants: int
    today: int  # her points today
    next_target: int | None  # today's next daily target she has not reached
    team_name: str = ""
    team_rank: int | None = None
    team_gap: int | None = None
    coins: int = 0
    money: bool = False

    @property
    def shown(self) -> str:
        return shown(self.points, self.money)

    @property
    def gap_shown(self) -> str:
        return shown(self.gap or 0, self.money)

    @property
    def today_shown(self) -> str:
        return shown(self.today, self.money)

    @property
    def next_target_shown(self) -> str:
        return shown(self.next_target or 0, self.money)


def my_contests(scope: Scope) -> list[MyContest]:
    """The running and settled contests a guide takes part in, with her rank and the gap to the
    next place (settled: her frozen result)."""
    if scope.staff_id is None:
        return []
    mine = {
        e.contest_id: e
        for e in ContestEntrant.objects.filter(brand_id=scope.brand_id, guide_id=scope.staff_id).select_related("team")
    }
    found = restrict(Contest, scope).filter(pk__in=list(mine), state__in=[Contest.State.RUNNING, Contest.State.SETTLED])
    out: list[MyContest] = []
    today = clock.today()
    for c in found.annotate(n=Count("entrants")).order_by("state", "-starts_on"):
        e = mine[c.pk]
        coins = int(ContestReward.objects.filter(contest=c, guide_id=e.guide_id).aggregate(s=Sum("coins"))["s"] or 0)
        n = c.n
        if c.state == Contest.State.SETTLED:
            results = {(r.subject, r.subject_id): r for r in ContestResult.objects.filter(contest=c)}
            r = results.get(("g", e.guide_id))
            t = results.get(("t", e.team_id or 0))
            out.append(
                MyContest(
                    c,
                    r.rank if r else n,
                    r.points if r else 0,
                    None,
                    n,
                    0,
                    None,
                    e.team.name if e.team else "",
                    t.rank if t else None,
                    None,
                    coins,
                    c.metric == Metric.SALES,
                )
            )
            continue
        view = scoring.incentives().leaderboards.rank(c.brand_id, c.board, ("board", None), e.guide_id, board=c.board)
        day = _totals(c, today)["g"].get(e.guide_id, 0)
        thresholds = sorted(ContestTarget.objects.filter(contest=c, level="guide").values_list("threshold", flat=True))
        nxt = next((t for t in thresholds if t > day), None)
        team_rank = team_gap = None
        if e.team_id is not None:
            totals = _totals(c)["t"]
            ranks = rules.ranked(totals.items())
            mine_pts = totals.get(e.team_id, 0)
            team_rank = next((rk for rk, tid, _p in ranks if tid == e.team_id), len(ranks) + 1)
            higher = [p for _r, _t, p in ranks if p > mine_pts]
            team_gap = (min(higher) - mine_pts) if higher else None
        out.append(
            MyContest(
                c,
                view.rank,
                view.score,
                view.gap,
                n,
                day,
                nxt,
                e.team.name if e.team else "",
                team_rank,
                team_gap,
                coins,
                c.metric == Metric.SALES,
            )
        )
    return out


def rewards(scope: Scope, contest_id: int, *, limit: int = 100) -> list[ContestReward]:
    c = contest(scope, contest_id)
    return list(restrict(ContestReward, scope).filter(contest=c).order_by("-at", "-id")[:limit])


def is_entrant(brand_id: int, contest_id: int, guide_id: int) -> bool:
    return ContestEntrant.objects.filter(brand_id=brand_id, contest_id=contest_id, guide_id=guide_id).exists()


def scores_count(contest_id: int) -> int:
    return ContestScore.objects.filter(contest_id=contest_id).count()


def last_score_at(contest_id: int) -> dt.datetime | None:
    value = ContestScore.objects.filter(contest_id=contest_id).aggregate(m=Max("at"))["m"]
    return value if isinstance(value, dt.datetime) else None
