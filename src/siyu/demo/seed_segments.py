"""Step ``segments`` (the last step): a dozen audiences HQ of the demo brand would keep — high-value
customers lapsing, new this month without an order, birthdays in the next 30 days, VIPs of the
East, the flagship's runners, a 10 % control group, an uploaded list… — defined through
``siyu.segments.services`` a month before the end of history, then materialised once a week up to
the end of history (the platform clock set to each run's time), so the list shows sizes and each
segment a history of its size with who entered and left.

The behaviour leaves (orders, views, first purchases) read the event lake: with a step that
provides ``"events"`` before this one they count real events; without, they count none and the
segments built on customer attributes, tags, tiers, RFM and the order facts still show real numbers.
Deterministic: the uploaded list is drawn from ``random.Random(f"{seed}:segments")``."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.generator import Context, Step, register

WEEKS = 4  # runs: one a week over the last four weeks, and one at the end of history
LIST_SIZE = 300


def list_size(customers: int) -> int:
    """The uploaded list: a tenth of the customers, at most :data:`LIST_SIZE`."""
    return min(LIST_SIZE, max(1, customers // 10))


def segments_exist(ctx: Context) -> bool:
    from siyu.segments import services as segments

    return bool(segments.segments(ctx.scope, include_archived=True))


def _leaf(node: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": node}


def _and(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": "and", "children": list(children)}


def _or(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": "or", "children": list(children)}


def _not(child: dict[str, Any]) -> dict[str, Any]:
    return {"type": "not", "child": child}


def definitions(ctx: Context) -> list[dict[str, Any]]:
    """The demo's segments, in creation order (a later one may refer to an earlier one by name)."""
    from siyu.members import services as members
    from siyu.org import services as org

    tags = {label.split(" / ")[-1]: pk for pk, label in members.tag_labels(ctx.brand_id).items()}
    regions = org.region_ids(ctx.brand_id)
    stores = {s.code: s.id for s in org.stores(ctx.brand_id)}
    east = regions.get(P.EAST_REGION_CODE)
    flagship = stores.get(P.FLAGSHIP_STORE_CODE)
    rng = random.Random(f"{ctx.config.seed}:segments")
    pool = sorted(_customer_ids(ctx))
    uploaded = sorted(rng.sample(pool, list_size(len(pool)))) if pool else []

    out: list[dict[str, Any]] = [
        {
            "name": "高价值流失预警",
            "description": "M 分 4–5 的老顾客，已沉睡/流失，或 90 天没有下单",
            "shared_with_guides": True,
            "schedule_minutes": 1440,
            "definition": _leaf(
                _and(
                    {"type": "rfm", "score": "m", "min": 4, "max": 5},
                    _or(
                        {"type": "attribute", "field": "lifecycle", "in": ["dormant", "churned"]},
                        {"type": "stopped", "event": "order", "did": {"last_days": 365}, "not_in_last_days": 90},
                    ),
                )
            ),
        },
        {
            "name": "本月新客未下单",
            "description": "新客阶段、从未购买，近 30 天也没有下单事件",
            "shared_with_guides": True,
            "schedule_minutes": 60,
            "definition": _leaf(
                _and(
                    {"type": "attribute", "field": "lifecycle", "in": ["new"]},
                    {"type": "rfm", "score": "f", "min": 0, "max": 0},
                    _not(
                        {
                            "type": "event",
                            "event": "order",
                            "count": {"op": ">=", "value": 1},
                            "window": {"last_days": 30},
                        }
                    ),
                )
            ),
        },
        {
            "name": "30 天内生日",
            "description": "生日关怀：未来 30 天内过生日",
            "shared_with_guides": True,
            "schedule_minutes": 1440,
            "definition": _leaf({"type": "birthday", "within_days": 30}),
        },
        {
            "name": "华东金卡及以上",
            "description": "华东分公司的金卡、铂金会员",
            "schedule_minutes": 1440,
            "definition": _leaf(
                _and(
                    {"type": "attribute", "field": "tier", "in": ["gold", "platinum"]},
                    {"type": "attribute", "field": "region", "in": [east]},
                )
            )
            if east
            else _leaf({"type": "attribute", "field": "tier", "in": ["gold", "platinum"]}),
        },
        {
            "name": "旗舰店跑者",
            "description": f"绑定在旗舰店 {P.FLAGSHIP_STORE_CODE}、带“跑步”标签",
            "shared_with_guides": True,
            "definition": _leaf(
                _and(
                    {"type": "attribute", "field": "store", "in": [flagship]},
                    {"type": "tags", "match": "any", "tags": [tags["跑步"]]},
                )
            )
            if flagship and "跑步" in tags
            else _leaf({"type": "attribute", "field": "city", "in": ["上海"]}),
        },
        {
            "name": "对照组 10%",
            "description": "随机桶 0（共 10 桶）：营销活动的留存对照组",
            "definition": _leaf({"type": "bucket", "modulo": 10, "buckets": [0], "salt": 2026}),
        },
        {
            "name": "会员日到店名单",
            "description": "线下会员日签到名单（上传）",
            "definition": _leaf({"type": "list", "customers": uploaded or [0]}),
        },
        {
            "name": "导购码与分享链接来的新客",
            "description": "来源触点为导购码或分享链接、仍在新客阶段",
            "shared_with_guides": True,
            "schedule_minutes": 60,
            "definition": _leaf(
                _and(
                    {"type": "attribute", "field": "source", "in": ["guide_code", "share_link"]},
                    {"type": "attribute", "field": "lifecycle", "in": ["new", "active"]},
                )
            ),
        },
        {
            "name": "近 90 天复购高客单",
            "description": "近 90 天至少 2 单、合计满 300 元",
            "schedule_minutes": 15,
            "definition": _leaf(
                _and(
                    {"type": "event", "event": "order", "count": {"op": ">=", "value": 2}, "window": {"last_days": 90}},
                    {
                        "type": "event",
                        "event": "order",
                        "sum": {"of": "amount_fen", "op": ">=", "value": 30000},
                        "window": {"last_days": 90},
                    },
                )
            ),
        },
        {
            "name": "近 7 天首购",
            "description": "第一次下单发生在最近 7 天",
            "schedule_minutes": 15,
            "definition": _leaf({"type": "first_time", "event": "order", "window": {"last_days": 7}}),
        },
        {
            "name": "浏览未购",
            "description": "近 14 天看过商品或内容、但没有下单",
            "shared_with_guides": True,
            "schedule_minutes": 15,
            "definition": _leaf(
                _and(
                    {"type": "event", "event": "view", "count": {"op": ">=", "value": 1}, "window": {"last_days": 14}},
                    _not(
                        {
                            "type": "event",
                            "event": "order",
                            "count": {"op": ">=", "value": 1},
                            "window": {"last_days": 14},
                        }
                    ),
                )
            ),
        },
        {
            "name": "近期活跃的高价值顾客",
            "description": "R 分 3 以上（近期买过），带“高价值”标签；待回访的除外",
            "definition": _leaf(
                _and(
                    {"type": "rfm", "score": "r", "min": 3, "max": 5},
                    {"type": "tags", "match": "any", "tags": [tags["高价值"]]},
                    {"type": "tags", "match": "none", "tags": [tags["待回访"]]},
                )
            )
            if "高价值" in tags and "待回访" in tags
            else _leaf({"type": "rfm", "score": "r", "min": 3, "max": 5}),
        },
    ]
    return out


def _customer_ids(ctx: Context) -> list[int]:
    from siyu.members import services as members

    return list(members.visible_customers(ctx.scope).order_by("id").values_list("id", flat=True))


def write_segments(ctx: Context) -> None:
    from siyu.platform import clock
    from siyu.segments import services as segments

    created_at = ctx.as_of - dt.timedelta(days=7 * WEEKS + 2)
    made: dict[str, int] = {}
    with clock.frozen(created_at):
        for item in definitions(ctx):
            seg = segments.create_segment(ctx.scope, **item)
            made[seg.name] = seg.pk
        # an audience built from two others: the East's VIPs without the control group
        vip, control = made["华东金卡及以上"], made["对照组 10%"]
        seg = segments.create_segment(
            ctx.scope,
            name="华东金卡（去掉对照组）",
            description="可以发券的华东金卡及以上会员：去掉 10% 对照组",
            definition={
                "version": 1,
                "root": _and({"type": "segment", "segment": vip}, _not({"type": "segment", "segment": control})),
            },
        )
        made[seg.name] = seg.pk
    ctx.reporter.begin(_("Segments"), total=len(made) * (WEEKS + 1))
    segments.refresh_facts(ctx.brand_id)
    runs = 0
    for week in range(WEEKS, -1, -1):
        at = ctx.as_of - dt.timedelta(days=7 * week)
        with clock.frozen(at):
            for pk in made.values():
                segments.materialise(ctx.brand_id, pk, trigger="schedule" if week else "demand")
                runs += 1
                ctx.reporter.advance()
    ctx.reporter.end()
    ctx.facts["segments"] = len(made)
    ctx.facts["segment_runs"] = runs


STEP = Step("segments", gettext_noop("Segments"), run=write_segments, done=segments_exist)
register(STEP, last=True)
