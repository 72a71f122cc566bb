"""REST endpoints of PK contests and the performance feed (through :mod:`siyu.contests.services`
and :mod:`siyu.contests.feed`, which scope every read and check every write)."""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.contests import feed, services
from siyu.contests.models import Contest, Metric
from siyu.org.services import Perm
from siyu.platform.api import Input, PageQuery, answers, created, current_scope, page_of, paginate, requires

router = Router()


class TargetSchema(Schema):
    threshold: int = Field(gt=0, description="Points to reach in one day (sales: fen).")
    coins: int = Field(gt=0, description="Coins paid the moment it is reached.")
    level: str = Field("guide", description="`guide` (each guide) or `team` (every member of the team).")


class TeamSchema(Schema):
    name: str
    member_ids: list[int] = Field(description="Guide ids (custom groups).")


class ContestIn(Input):
    name: str
    metric: Metric
    starts_on: dt.date
    ends_on: dt.date
    kind: Literal["individual", "team"] = "individual"
    team_by: str = Field("", description="Team PK: `region`, `store` or `custom`.")
    description: str = ""
    region_ids: list[int] = Field(default_factory=list, description="Guides of these regions take part.")
    store_ids: list[int] = Field(default_factory=list, description="…and of these stores (none: the whole brand).")
    targets: list[TargetSchema] = Field(default_factory=list)
    teams: list[TeamSchema] = Field(default_factory=list, description="Custom groups only.")


class ContestOut(Schema):
    id: int
    name: str
    kind: str
    team_by: str
    metric: str
    starts_on: dt.date
    ends_on: dt.date
    state: str
    started_at: dt.datetime | None
    settled_at: dt.datetime | None
    targets: list[TargetSchema]


class RowOut(Schema):
    rank: int
    subject_id: int
    label: str
    points: int = Field(description="Sales contests: fen.")
    detail: str
    coins: int
    me: bool


class BoardOut(Schema):
    contest: ContestOut
    frozen: bool = Field(description="Settled: the final results, never changed again.")
    entrants: int
    coins_paid: int
    guides: list[RowOut]
    teams: list[RowOut]
    today: list[RowOut]


class MyContestOut(Schema):
    contest: ContestOut
    rank: int
    points: int
    gap: int | None = Field(description="Points to the next place; null when first.")
    entrants: int
    today: int
    next_target: int | None
    team_name: str
    team_rank: int | None
    team_gap: int | None
    coins: int


def _contest(c: Contest) -> dict[str, Any]:
    return {
        "id": c.pk,
        "name": c.name,
        "kind": c.kind,
        "team_by": c.team_by,
        "metric": c.metric,
        "starts_on": c.starts_on,
        "ends_on": c.ends_on,
        "state": c.state,
        "started_at": c.started_at,
        "settled_at": c.settled_at,
        "targets": [{"threshold": t.threshold, "coins": t.coins, "level": t.level} for t in c.targets.all()],
    }


def _data(body: ContestIn) -> services.ContestIn:
    return services.ContestIn(
        name=body.name,
        metric=body.metric,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        kind=body.kind,
        team_by=body.team_by,
        description=body.description,
        region_ids=tuple(body.region_ids),
        store_ids=tuple(body.store_ids),
        targets=tuple(services.TargetIn(t.threshold, t.coins, t.level) for t in body.targets),
        teams=tuple(services.TeamIn(t.name, tuple(t.member_ids)) for t in body.teams),
    )


@router.get("/contests", response=answers(list[ContestOut]), summary="List PK contests", tags=["contests"])
@requires(Perm.CONTESTS_VIEW)
def contest_list(
    request: HttpRequest, state: Literal["draft", "running", "settled"] | None = None
) -> list[dict[str, Any]]:
    return [_contest(c) for c in services.contests(current_scope(request), state=state)]


@router.post("/contests", response=answers(ContestOut, 201), summary="Design a contest (a draft)", tags=["contests"])
@requires(Perm.CONTESTS_MANAGE)
def contest_create(request: HttpRequest, body: ContestIn) -> Any:
    return created(_contest(services.create_contest(current_scope(request), _data(body))))


@router.get(
    "/contests/mine", response=answers(list[MyContestOut]), summary="My contests, rank and gap", tags=["contests"]
)
@requires(Perm.GUIDE_WORKBENCH)
def contest_mine(request: HttpRequest) -> list[dict[str, Any]]:
    out = []
    for m in services.my_contests(current_scope(request)):
        row = {k: getattr(m, k) for k in MyContestOut.model_fields if k != "contest"}
        out.append({**row, "contest": _contest(m.contest)})
    return out


@router.get(
    "/contests/{int:contest_id}", response=answers(BoardOut), summary="A contest and its board", tags=["contests"]
)
@requires(Perm.CONTESTS_VIEW)
def contest_board(request: HttpRequest, contest_id: int, limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    b = services.board(current_scope(request), contest_id, limit=limit)
    return {
        "contest": _contest(b.contest),
        "frozen": b.frozen,
        "entrants": b.entrants,
        "coins_paid": b.coins_paid,
        "guides": b.guides,
        "teams": b.teams,
        "today": b.today,
    }


@router.put("/contests/{int:contest_id}", response=answers(ContestOut), summary="Change a draft", tags=["contests"])
@requires(Perm.CONTESTS_MANAGE)
def contest_update(request: HttpRequest, contest_id: int, body: ContestIn) -> dict[str, Any]:
    return _contest(services.update_contest(current_scope(request), contest_id, _data(body)))


@router.post(
    "/contests/{int:contest_id}/start", response=answers(ContestOut), summary="Start a draft", tags=["contests"]
)
@requires(Perm.CONTESTS_MANAGE)
def contest_start(request: HttpRequest, contest_id: int) -> dict[str, Any]:
    return _contest(services.start_contest(current_scope(request), contest_id))


@router.post(
    "/contests/{int:contest_id}/settle",
    response=answers(ContestOut),
    summary="Settle a running contest (results frozen)",
    tags=["contests"],
)
@requires(Perm.CONTESTS_MANAGE)
def contest_settle(request: HttpRequest, contest_id: int) -> dict[str, Any]:
    return _contest(services.settle_contest(current_scope(request), contest_id))


# --- the performance feed --------------------------------------------------------------------------
class PostOut(Schema):
    id: int
    author_id: int
    author: str
    store_id: int | None
    day: dt.date
    text: str
    picture: str | None
    likes: int
    comments: int
    created_at: dt.datetime
    hidden: bool


class PostIn(Input):
    text: str = Field(max_length=feed.MAX_TEXT)


class CommentIn(Input):
    text: str = Field(max_length=feed.MAX_COMMENT)


class CommentOut(Schema):
    id: int
    author: str
    text: str
    at: dt.datetime


class LikeOut(Schema):
    created: bool = Field(description="False: she had liked it already; nothing changed.")
    likes: int


class HideIn(Input):
    hidden: bool = True
    reason: str = ""


class AudienceIn(Input):
    audience: Literal["store", "region", "brand"]


def _post(p: Any) -> dict[str, Any]:
    return {
        "id": p.pk,
        "author_id": p.author_id,
        "author": p.author.name,
        "store_id": p.store_id,
        "day": p.day,
        "text": p.text,
        "picture": p.picture.url if p.picture else None,
        "likes": p.likes,
        "comments": p.comments,
        "created_at": p.created_at,
        "hidden": p.hidden_at is not None,
    }


@router.get("/feed", response=answers(page_of(PostOut)), summary="Performance feed", tags=["feed"])
@requires(Perm.GUIDE_WORKBENCH)
def feed_list(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    return paginate(feed.posts(current_scope(request), workbench=True), page, _post)


@router.post("/feed", response=answers(PostOut, 201), summary="Post my day's report", tags=["feed"])
@requires(Perm.GUIDE_WORKBENCH)
def feed_publish(request: HttpRequest, body: PostIn) -> Any:
    return created(_post(feed.publish(current_scope(request), body.text)))


@router.post("/feed/{int:post_id}/like", response=answers(LikeOut), summary="Like a report (once)", tags=["feed"])
@requires(Perm.GUIDE_WORKBENCH)
def feed_like(request: HttpRequest, post_id: int) -> feed.Liked:
    return feed.like(current_scope(request), post_id)


@router.post(
    "/feed/{int:post_id}/comments", response=answers(CommentOut, 201), summary="Comment on a report", tags=["feed"]
)
@requires(Perm.GUIDE_WORKBENCH)
def feed_comment(request: HttpRequest, post_id: int, body: CommentIn) -> Any:
    c = feed.comment(current_scope(request), post_id, body.text)
    return created({"id": c.pk, "author": c.author.name, "text": c.text, "at": c.at})


@router.post("/feed/{int:post_id}/hide", response=answers(PostOut), summary="Hide or show a report", tags=["feed"])
@requires(Perm.FEED_MODERATE)
def feed_hide(request: HttpRequest, post_id: int, body: HideIn) -> dict[str, Any]:
    return _post(feed.hide(current_scope(request), post_id, reason=body.reason, hidden=body.hidden))


@router.put("/feed/audience", response=answers(AudienceIn), summary="Who guides see in the feed", tags=["feed"])
@requires(Perm.FEED_MODERATE)
def feed_audience(request: HttpRequest, body: AudienceIn) -> dict[str, Any]:
    return {"audience": feed.set_audience(current_scope(request), body.audience)}
