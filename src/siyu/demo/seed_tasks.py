"""Demo step ``tasks``: HQ's running guide tasks with realistic progress, all through the tasks,
learning and org services (the guides' days are recorded as the guides themselves would):

* 每日转发新品海报 — a daily forward task (Moments) since yesterday: most guides shared yesterday
  (done, coins paid), about half so far today;
* 本周拉新 3 人 — a fans task over this week (verified from the bindings);
* 回访沉睡会员 — a follow-up of a segment (高价值流失预警), each guide's list her own customers in it
  (five at most), with outreach recorded for part of the lists;
* 春季橱窗陈列 — a store action in the East region's stores, photos waiting for the store managers
  (a few already approved);
* 学习：新品卖点 — a learn task on a knowledge article some guides have read;
* 七日成交 2 单 — a sales task over the last six days and tomorrow: orders of ¥100 or more her
  customers paid (the orders step's), verified from the orders themselves, refunds left out.
"""

from __future__ import annotations

import datetime as dt
import random
import struct
import zlib

from django.utils.translation import gettext_noop

from siyu.demo.generator import Context, Step, register
from siyu.platform import clock

DAY = dt.timedelta(days=1)


def _photo(seed: int) -> bytes:
    """A small PNG (a shop window in two colours) drawn here: no outside bytes."""
    rng = random.Random(seed)
    top, bottom = bytes(rng.randrange(256) for _ in range(3)), bytes(rng.randrange(256) for _ in range(3))
    width, height = 96, 72
    raw = b"".join(b"\x00" + (top if y < height // 2 else bottom) * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def tasks_exist(ctx: Context) -> bool:
    from siyu.tasks import services as tasks

    return tasks.tasks(ctx.scope).exists()


def write_tasks(ctx: Context) -> None:
    from siyu.learning import services as learning
    from siyu.org import services as org
    from siyu.segments import services as segments
    from siyu.tasks import services as tasks

    rng = random.Random(f"{ctx.config.seed}:tasks")
    now = clock.now()
    today = ctx.as_of  # local midnight of today
    guides = [p for p in org.posted_staff(ctx.brand_id) if p.store_id is not None]
    scopes = {p.id: org.staff_scope(ctx.brand_id, p.id) for p in guides}
    ctx.reporter.begin(gettext_noop("Tasks"), total=6)
    made = 0

    def publish(at: dt.datetime, **data: object) -> int:
        with clock.frozen(at):
            task = tasks.create_task(ctx.scope, **data)
            tasks.publish(ctx.scope, task.pk)
        return task.pk

    # 1. a daily forward task since yesterday, due 21:00 each day
    start = today - DAY + dt.timedelta(hours=9)
    publish(
        start - dt.timedelta(hours=1),
        title="每日转发新品海报",
        description="把今天的新品海报发到朋友圈，配上自己的一句话推荐。",
        kind="forward",
        share_channel="moments",
        content_id="poster-spring-2026",
        whole_brand=True,
        target=1,
        repeat="daily",
        starts_at=start,
        deadline_at=start + dt.timedelta(hours=12),
        coins=5,
    )
    for day in range(2):
        round_start = start + day * DAY
        with clock.frozen(min(round_start + dt.timedelta(minutes=1), now)):
            tasks.run_schedules(ctx.brand_id)
        share_rate = 0.93 if day < 1 else 0.5
        shares = []
        for p in guides:
            at = round_start + dt.timedelta(minutes=rng.randrange(30, 11 * 60))
            if at > now or rng.random() > share_rate:
                continue
            shares.append(tasks.OwnShare(p.id, "moments", "poster-spring-2026", at))
        if shares:  # the day's shares as the touchpoint reports them, counted at the last one
            with clock.frozen(max(s.at for s in shares)):
                tasks.record_shares(ctx.brand_id, shares)
    made += 1
    ctx.reporter.advance()

    # 2. a fans task for this week: verified from the bindings
    week_start = today - dt.timedelta(days=today.weekday()) + dt.timedelta(hours=9)
    publish(
        week_start - dt.timedelta(hours=1),
        title="本周拉新 3 人",
        description="请顾客扫你的导购码或添加你的企业微信，本周新增 3 位。",
        kind="fans",
        whole_brand=True,
        target=3,
        starts_at=week_start,
        deadline_at=week_start + 7 * DAY - dt.timedelta(hours=1),
        coins=30,
    )
    made += 1
    ctx.reporter.advance()

    # 3. a follow-up of a segment (the segments step's "高价值流失预警" when it is there): each
    # guide's own customers in it
    hq = org.hq_scope(ctx.brand_id)
    ranked = sorted(segments.segments(hq), key=lambda s: (s.name != "高价值流失预警", -s.size))
    if ranked and ranked[0].size > 0:
        seg = ranked[0]
    else:  # the segments step did not run: a segment of our own
        with clock.frozen(today + dt.timedelta(hours=7)):
            seg = segments.create_segment(
                ctx.scope,
                name="回访：沉睡与流失会员",
                description="沉睡或流失的会员：由各自的导购回访",
                definition={
                    "version": 1,
                    "root": {"type": "attribute", "field": "lifecycle", "in": ["dormant", "churned"]},
                },
            )
            segments.materialise_now(ctx.scope, seg.pk)
    pk = publish(
        today + dt.timedelta(hours=8),
        title="回访沉睡会员",
        description="给名单上的顾客打个电话或发条消息，记下结果。",
        kind="follow_up",
        segment_id=seg.pk,
        whole_brand=True,
        target=5,
        starts_at=today + dt.timedelta(hours=8, minutes=30),
        deadline_at=today + DAY + dt.timedelta(hours=21),
        auto_close=False,
        coins=20,
    )
    outcomes = ["reached", "reached", "visit", "no_answer", "declined", "bought"]
    with clock.frozen(max(min(now, today + dt.timedelta(hours=17)), today + dt.timedelta(hours=9))):
        for a in tasks.assignments(hq, task_id=pk):
            scope = scopes.get(a.guide_id)
            if scope is None or rng.random() < 0.3:
                continue
            for f in list(a.follow_ups.all())[: rng.randrange(1, a.target + 1)]:
                tasks.record_outreach(scope, f.pk, outcome=rng.choice(outcomes), note="")
    made += 1
    ctx.reporter.advance()

    # 4. a store action in the East region's stores: photos waiting for approval
    east = org.region_ids(ctx.brand_id).get("EAST")
    pk = publish(
        today + dt.timedelta(hours=7),
        title="春季橱窗陈列",
        description="按陈列指引布置橱窗，拍一张正面全景照片上传。",
        kind="store_action",
        region_ids=[east] if east else [],
        whole_brand=east is None,
        starts_at=today + dt.timedelta(hours=8),
        deadline_at=today + DAY + dt.timedelta(hours=20),
        auto_close=False,
        coins=15,
    )
    photo_time = max(min(now, today + dt.timedelta(hours=16)), today + dt.timedelta(hours=8, minutes=5))
    managers: dict[int, object] = {}
    with clock.frozen(photo_time):
        for n, a in enumerate(tasks.assignments(hq, task_id=pk)):
            scope = scopes.get(a.guide_id)
            if scope is None or rng.random() > 0.55:
                continue
            sub = tasks.submit_photo(scope, a.pk, data=_photo(n), note="橱窗已按指引布置")
            if rng.random() < 0.25 and a.store_id is not None:
                if a.store_id not in managers:
                    found = org.store_managers(ctx.brand_id, [a.store_id]).get(a.store_id, [])
                    managers[a.store_id] = org.staff_scope(ctx.brand_id, found[0].id) if found else None
                manager = managers[a.store_id]
                if manager is not None:
                    tasks.decide(manager, sub.pk, approve=True)  # type: ignore[arg-type]
    made += 1
    ctx.reporter.advance()

    # 5. a learn task on a knowledge article some guides have read
    with clock.frozen(today - DAY + dt.timedelta(hours=10)):
        article = learning.create_article(
            ctx.scope,
            learning.ArticleIn(
                title="新品卖点：轻云跑鞋",
                summary="三句话讲清楚轻云跑鞋的卖点",
                body="1. 中底轻：同级最轻的缓震。\n2. 透气：一体编织鞋面。\n3. 好搭配：日常通勤也合适。",
                tags=("新品", "跑鞋"),
            ),
        )
    publish(
        today - DAY + dt.timedelta(hours=11),
        title="学习：新品卖点",
        kind="learn",
        learn_kind="read",
        learn_ref=article.pk,
        whole_brand=True,
        starts_at=today - DAY + dt.timedelta(hours=12),
        deadline_at=today + DAY + dt.timedelta(hours=12),
        auto_close=False,
        coins=10,
    )
    for p in guides:
        scope = scopes[p.id]
        at = today - DAY + dt.timedelta(hours=12 + rng.randrange(0, 30))
        if scope is None or at > now or rng.random() > 0.45:
            continue
        with clock.frozen(at):
            learning.mark_read(scope, article.pk)
    made += 1
    ctx.reporter.advance()

    # 6. a sales task running since six days ago: the orders step's paid orders count (the recompute
    # below reads them from the orders domain; refunded ones do not count)
    publish(
        today - 6 * DAY - dt.timedelta(hours=1),
        title="七日成交 2 单",
        description="分享门店商城里的商品给你的顾客，满 ¥100 的订单付款后自动计入。",
        kind="sales",
        min_order_fen=10_000,
        whole_brand=True,
        target=2,
        starts_at=today - 6 * DAY,
        deadline_at=today + DAY + dt.timedelta(hours=21),
        auto_close=False,
        coins=40,
    )
    made += 1
    ctx.reporter.advance()

    # the platform's own bookkeeping up to now: facts recomputed, deadlines closed, overdue escalated
    tasks.recompute(ctx.brand_id)
    tasks.close_expired()
    tasks.escalate()
    tasks.remind_open(ctx.brand_id)
    ctx.reporter.end()
    ctx.facts["tasks"] = made
    ctx.facts["task_assignments"] = tasks.assignments(hq).count()


STEP = Step("tasks", gettext_noop("Guide tasks"), run=write_tasks, done=tasks_exist)
register(STEP, last=True)  # after the segments: a follow-up list comes from one of them
