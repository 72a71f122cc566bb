"""Live scoring of running contests (ADR 0019).

``platform.hooks`` calls :func:`on_events` after each batch of new events commits and
:func:`on_guide_done` after a task is finished. For every running contest the guide takes part in,
the event's points (``rules.point_of``) are written as one :class:`ContestScore` whose ``dedupe``
key is unique per contest — a replayed event, a second event for the same order or a second share
to the same customer on the same day finds the key taken and scores nothing. In the same
transaction the guide's (and her team's) tally of that day is raised under the row's lock, and each
daily target the tally crosses is paid at once through the coin ledger
(``incentives.services.award``) with a key per contest, guide or team, day and target: exactly once,
however many processes score at the same time. The contest's row is read ``FOR SHARE`` first, so a
settlement (``FOR UPDATE``) waits for scores in flight and no score lands after it.

After the commit the points go to the leaderboards (``incentives``: metric and board
``contest:<id>``, keyed by the score's id) for the live individual board.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum

from siyu.contests import rules
from siyu.contests.models import (
    Contest,
    ContestEntrant,
    ContestReward,
    ContestScore,
    ContestTally,
    ContestTarget,
    Metric,
)
from siyu.platform import clock, hooks

log = logging.getLogger(__name__)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def incentives() -> Any:
    """The coins domain (``award``, ``leaderboards``), reached through its services only."""
    from siyu.incentives import services

    return services


# --- who is staff (their own purchases, shares and friendships score nothing) ------------------------
_STAFF_CUSTOMERS: dict[int, tuple[float, frozenset[int]]] = {}
STAFF_CACHE_SECONDS = 60.0


def staff_customers(brand_id: int) -> frozenset[int]:
    """The customers of the brand whose phone is a staff member's (cached a minute per process)."""
    hit = _STAFF_CUSTOMERS.get(brand_id)
    now = time.monotonic()
    if hit is not None and now - hit[0] < STAFF_CACHE_SECONDS:
        return hit[1]
    from siyu.members import services as members
    from siyu.org import services as org

    found, _bad = members.customer_ids_by_phones(brand_id, org.staff_phones(brand_id))
    ids = frozenset(found)
    _STAFF_CUSTOMERS[brand_id] = (now, ids)
    return ids


def forget_staff_customers() -> None:
    _STAFF_CUSTOMERS.clear()


# --- the listeners ---------------------------------------------------------------------------------
def on_events(brand_id: int, events: Sequence[Mapping[str, Any]]) -> None:
    """Score a batch of new events in every running contest of the brand. Only a refund or an event
    naming its guide can score (:func:`rules.point_of`): a batch of none asks no database, and only
    those are selected (a file import answers from its parts: one without guides, nothing at all —
    not a dict for each of its millions of orders and shares). Refunds come after the rest."""
    refunds = rules.SCORED_TYPES & {"refund"}
    relevant = hooks.events_of(events, rules.SCORED_TYPES - refunds, present=("guide_id",))
    relevant += hooks.events_of(events, refunds)
    if not relevant:
        return
    contests = list(Contest.objects.filter(brand_id=brand_id, state=Contest.State.RUNNING))
    if not contests:
        return
    score_events(brand_id, relevant, contests)


def on_guide_done(brand_id: int, guide_id: int, kind: str, ref_id: int | None) -> None:
    """A finished task (``task.done``) scores a point in running ``tasks_done`` contests the guide
    is in, once per assignment."""
    if kind != "task.done" or ref_id is None:
        return
    contests = list(
        Contest.objects.filter(brand_id=brand_id, state=Contest.State.RUNNING, metric=rules.TASKS).filter(
            entrants__guide_id=guide_id
        )
    )
    if not contests:
        return
    point = rules.task_point(guide_id, ref_id, clock.now(), zone())
    for contest in contests:
        entrant = ContestEntrant.objects.filter(contest=contest, guide_id=guide_id).first()
        if entrant is not None and contest.starts_on <= point.day <= contest.ends_on:
            score(contest, entrant, point)


def score_events(brand_id: int, events: Sequence[Mapping[str, Any]], contests: Sequence[Contest]) -> int:
    """Score ``events`` in ``contests`` (running ones of the brand); returns how many scores were
    written. The demo and the tests call it directly; live events arrive through :func:`on_events`."""
    tz = zone()
    guides = {int(e["guide_id"]) for e in events if e.get("guide_id")}
    entrants: dict[tuple[int, int], ContestEntrant] = {}
    if guides:
        for entrant in ContestEntrant.objects.filter(contest__in=[c.pk for c in contests], guide_id__in=guides):
            entrants[(entrant.contest_id, entrant.guide_id)] = entrant
    staff = staff_customers(brand_id)
    written = 0
    for contest in contests:
        for event in events:
            found = rules.point_of(contest.metric, event, tz, staff)
            if found is None or not (contest.starts_on <= found.day <= contest.ends_on):
                continue
            try:
                if isinstance(found, rules.Refund):
                    written += refund(contest, found, entrants)
                else:
                    who = entrants.get((contest.pk, found.guide_id))
                    if who is not None:
                        written += score(contest, who, found)
            except Exception:  # one bad event must not keep the others from scoring
                log.exception("contest %s could not score event %s", contest.pk, event.get("event_id"))
    return written


# --- scoring one point -----------------------------------------------------------------------------------
def _lock_running(contest_id: int) -> bool:
    """Hold the contest as running until the commit: ``FOR SHARE`` on PostgreSQL (scores in
    parallel, a settlement waits for them); SQLite writes one transaction at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM contests_contest WHERE id = %s AND state = %s FOR SHARE",
                [contest_id, Contest.State.RUNNING],
            )
            return cursor.fetchone() is not None
    return Contest.objects.filter(pk=contest_id, state=Contest.State.RUNNING).exists()


@dataclass(frozen=True)
class Recorded:
    score_id: int
    guide_id: int
    points: int
    at: dt.datetime
    store_id: int | None
    region_id: int | None


def score(contest: Contest, entrant: ContestEntrant, point: rules.Point) -> int:
    """Write one point for one entrant (1) or nothing when its dedupe key is taken or the contest
    is no longer running (0); pays the daily targets it reaches."""
    with transaction.atomic():
        if not _lock_running(contest.pk):
            return 0
        try:
            with transaction.atomic():
                row = ContestScore.objects.create(
                    brand_id=contest.brand_id,
                    contest=contest,
                    guide_id=entrant.guide_id,
                    team_id=entrant.team_id,
                    day=point.day,
                    points=point.points,
                    dedupe=point.dedupe,
                    source=point.source[:80],
                    customer_id=point.customer_id,
                    order_ref=point.order_ref,
                    at=point.at,
                )
        except IntegrityError:
            return 0
        _count(contest, entrant, point.day, point.points)
        _to_board_on_commit(contest, entrant, row)
    return 1


def refund(contest: Contest, found: rules.Refund, entrants: Mapping[tuple[int, int], ContestEntrant]) -> int:
    """Reverse what the refunded order scored (at most its amount, never below zero for the order),
    on the order's day; a refund that names no order reduces its guide's sales in the contest."""
    with transaction.atomic():
        if not _lock_running(contest.pk):
            return 0
        if ContestScore.objects.filter(contest=contest, dedupe=f"refund:{found.event_id}").exists():
            return 0
        if found.order_ref:
            sale = (
                ContestScore.objects.select_for_update()
                .filter(contest=contest, dedupe=f"sale:{found.order_ref}")
                .first()
            )
            if sale is None:
                return 0
            left = ContestScore.objects.filter(contest=contest, order_ref=found.order_ref).aggregate(s=Sum("points"))
            guide_id, day, ref = sale.guide_id, sale.day, found.order_ref
        else:
            if found.guide_id is None or (contest.pk, found.guide_id) not in entrants:
                return 0
            ContestEntrant.objects.select_for_update().filter(contest=contest, guide_id=found.guide_id).first()
            left = ContestScore.objects.filter(contest=contest, guide_id=found.guide_id).aggregate(s=Sum("points"))
            guide_id, day, ref = found.guide_id, found.day, ""
        back = min(found.amount_fen, int(left["s"] or 0))
        if back <= 0:
            return 0
        entrant = ContestEntrant.objects.get(contest=contest, guide_id=guide_id)
        try:
            with transaction.atomic():
                row = ContestScore.objects.create(
                    brand_id=contest.brand_id,
                    contest=contest,
                    guide_id=guide_id,
                    team_id=entrant.team_id,
                    day=day,
                    points=-back,
                    dedupe=f"refund:{found.event_id}",
                    source=found.event_id[:80],
                    order_ref=ref,
                    at=found.at,
                )
        except IntegrityError:
            return 0
        _count(contest, entrant, day, -back)
        _to_board_on_commit(contest, entrant, row)
    return 1


def _add(contest: Contest, subject: str, subject_id: int, day: dt.date, points: int) -> tuple[int, int]:
    """Raise a tally under its row lock; ``(before, after)`` as this transaction made it."""
    tally, _ = ContestTally.objects.get_or_create(
        contest=contest, subject=subject, subject_id=subject_id, day=day, defaults={"brand_id": contest.brand_id}
    )
    ContestTally.objects.filter(pk=tally.pk).update(points=F("points") + points)
    after = int(ContestTally.objects.values_list("points", flat=True).get(pk=tally.pk))
    return after - points, after


def _count(contest: Contest, entrant: ContestEntrant, day: dt.date, points: int) -> None:
    """Raise the guide's tally, then her team's (always in this order), and only then pay what they
    crossed: no transaction holds a coin account while it waits for a tally (no lock cycle)."""
    targets = list(ContestTarget.objects.filter(contest=contest)) if points > 0 else []
    g_before, g_after = _add(contest, "g", entrant.guide_id, day, points)
    t_before = t_after = 0
    if entrant.team_id is not None:
        t_before, t_after = _add(contest, "t", entrant.team_id, day, points)
    for target in targets:
        if target.level == ContestTarget.Level.GUIDE and rules.crossed([target.threshold], g_before, g_after):
            _pay(contest, target, "g", entrant.guide_id, day, [entrant])
    if entrant.team_id is None:
        return
    for target in targets:
        if target.level == ContestTarget.Level.TEAM and rules.crossed([target.threshold], t_before, t_after):
            members = list(ContestEntrant.objects.filter(contest=contest, team_id=entrant.team_id).order_by("guide_id"))
            _pay(contest, target, "t", entrant.team_id, day, members)


def _pay(
    contest: Contest,
    target: ContestTarget,
    subject: str,
    subject_id: int,
    day: dt.date,
    members: Iterable[ContestEntrant],
) -> None:
    coins = incentives()
    now = clock.now()
    for member in members:
        key = rules.reward_key(contest.pk, subject, subject_id, day, target.pk, member.guide_id)
        try:
            with transaction.atomic():
                ContestReward.objects.create(
                    brand_id=contest.brand_id,
                    contest=contest,
                    target=target,
                    subject=subject,
                    subject_id=subject_id,
                    day=day,
                    guide_id=member.guide_id,
                    store_id=member.store_id,
                    region_id=member.region_id,
                    coins=target.coins,
                    key=key,
                    at=now,
                )
        except IntegrityError:
            continue  # paid already
        threshold = rules.shown(target.threshold, contest.metric == Metric.SALES)  # sales in yuan
        coins.award(
            contest.brand_id,
            member.guide_id,
            target.coins,
            key=key,
            reason=f"{contest.name} · {day.isoformat()} · {threshold}",
            source_type="contest",
            source_id=contest.pk,
        )


def _to_board_on_commit(contest: Contest, entrant: ContestEntrant, row: ContestScore) -> None:
    item = Recorded(row.pk, entrant.guide_id, row.points, row.at, entrant.store_id, entrant.region_id)
    brand_id, board = contest.brand_id, contest.board
    transaction.on_commit(lambda: to_board(brand_id, board, [item]))


def to_board(brand_id: int, board: str, items: Iterable[Recorded]) -> None:
    """Points into the leaderboards (idempotent on the score's id). A failure is logged: the
    contest's own scores stand and :func:`replay_board` puts them there again."""
    try:
        boards = incentives().leaderboards
        for item in items:
            boards.record(
                brand_id,
                board,
                item.guide_id,
                item.points,
                key=f"{board}:score:{item.score_id}",
                at=item.at,
                store_id=item.store_id,
                region_id=item.region_id,
                board=board,
            )
    except Exception:
        log.exception("leaderboard %s of brand %s not updated", board, brand_id)


def replay_board(contest: Contest) -> int:
    """Record every score of the contest in the leaderboards again (each once, by its key)."""
    entrants = {e.guide_id: e for e in ContestEntrant.objects.filter(contest=contest)}
    items = [
        Recorded(s.pk, s.guide_id, s.points, s.at, entrants[s.guide_id].store_id, entrants[s.guide_id].region_id)
        for s in ContestScore.objects.filter(contest=contest).order_by("pk")
        if s.guide_id in entrants
    ]
    to_board(contest.brand_id, contest.board, items)
    return len(items)
