"""Step ``contests``: PK contests, the performance feed and the knowledge base of the demo brand.

- **Knowledge base**: 30 items of sportswear retail (articles, sales scripts; zh-Hans titles with
  English titles), tagged; three quizzes, one of them a knowledge contest open from three days ago.
- **A settled past contest** (国庆转发 PK, a month ago): run under the platform clock of those days,
  its shares emitted as events, then settled — its results are frozen.
- **Two live contests** (this week): a team PK of the three branch companies on forwards (guides
  share to their own customers, emitted as ``share`` events that the contest scores live through
  ``hooks.on_events``) and an individual PK on attributed sales scored from the demo's paid orders
  (their ``order``/``refund`` events, as the orders domain emitted them). Daily targets pay coins.
- **Feed**: a dozen reports of the last days with likes and comments; reads and quiz attempts.

Deterministic from ``--seed``; the guides act on their own customers. Fast: a few hundred events.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import orjson
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.generator import LOCAL, Context, Step, register
from siyu.platform import clock
from siyu.platform.tenancy import Level, Scope

# (kind, title, English title, tags, text)
KNOWLEDGE: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "article",
        "跑鞋试穿五步法",
        "Five steps of a running-shoe fitting",
        "跑鞋 试穿 专业",
        "一、量脚长和脚宽，下午试穿最准。\n二、询问跑量、配速和路面。\n三、观察足弓与落地方式（扁平足、高足弓）。\n"
        "四、前掌留一指宽，后跟不滑动。\n五、让顾客在店内跑道上慢跑一分钟，再问感受。",
    ),
    (
        "article",
        "缓震与回弹：中底科技讲给顾客听",
        "Cushioning and rebound, told simply",
        "跑鞋 科技",
        "缓震是“落地不震脚”，回弹是“蹬地有推力”。新手和大体重跑者优先缓震；追求速度的跑者看回弹。"
        "讲科技时用顾客的话：跑完十公里膝盖不酸。",
    ),
    (
        "article",
        "碳板跑鞋适合谁",
        "Who a carbon-plate shoe is for",
        "跑鞋 进阶",
        "碳板鞋适合配速快于 5 分/公里、有一定跑量的跑者；新手穿反而容易小腿酸。推荐时先问目标赛事和配速。",
    ),
    (
        "article",
        "跑步袜与鞋垫的连带销售",
        "Selling socks and insoles with shoes",
        "连带 跑鞋",
        "每卖一双跑鞋，推荐一双专业跑袜：防磨、排汗。话术：“鞋是发动机，袜子是轮胎。”连带率目标 35%。",
    ),
    (
        "article",
        "冬季羽绒服的充绒量与蓬松度",
        "Down jackets: fill weight and fill power",
        "服装 冬季",
        "充绒量决定保暖总量，蓬松度（FP）决定每克绒的保暖效率。北方户外推荐 600FP 以上，城市通勤 500FP 足够。",
    ),
    (
        "article",
        "速干面料的三个卖点",
        "Three selling points of quick-dry fabric",
        "服装 面料",
        "一、吸湿快；二、干得快；三、不贴身。现场演示：滴一滴水在面料上，看它如何扩散。",
    ),
    (
        "article",
        "新品到店陈列标准（2026 冬）",
        "New-arrival display standard, winter 2026",
        "陈列 新品",
        "门口第一张桌子放主推新品，三件成组，高低错落；灯光打在鞋面；价签朝外；每天开店前检查尺码齐全。",
    ),
    (
        "article",
        "橱窗更换 SOP",
        "Window change SOP",
        "陈列 SOP",
        "总部下发橱窗方案后 48 小时内完成更换，拍正面、侧面、夜景三张照片上传任务。",
    ),
    (
        "article",
        "会员等级与权益速查",
        "Member tiers and benefits at a glance",
        "会员 权益",
        "普通会员积分 1 倍；银卡 1.2 倍并享生日券；金卡 1.5 倍、免费洗护一次；钻石卡专属导购与新品优先购。",
    ),
    (
        "article",
        "企业微信加好友的正确姿势",
        "Adding customers on WeCom the right way",
        "私域 企业微信",
        "结账时说明好处再邀请：“加我企业微信，新品到货、会员日我第一时间通知您，还能帮您查尺码库存。”"
        "加上后 5 分钟内发欢迎语和门店定位。",
    ),
    (
        "article",
        "朋友圈发什么：一周内容日历",
        "What to post in Moments: a week's calendar",
        "私域 朋友圈 内容",
        "周一穿搭、周二跑步知识、周三新品、周四顾客晒单、周五活动预告、周末门店日常。每天不超过 3 条。",
    ),
    (
        "article",
        "社群活跃的五个小技巧",
        "Five ways to keep a group lively",
        "私域 社群",
        "固定时间打卡、跑步里程接龙、新品投票、晒单抽奖、店长直播答疑。避免连续刷屏广告。",
    ),
    (
        "article",
        "顾客退换货的处理原则",
        "Handling returns and exchanges",
        "服务 售后",
        "七天无理由，吊牌完好即可；先换后退；态度第一，先认同顾客情绪再给方案。",
    ),
    (
        "article",
        "门店客流高峰的分工",
        "Who does what at peak hours",
        "门店 管理",
        "高峰时一人迎宾、一人试穿、一人收银；店长巡场补位。每位导购同时接待不超过两组顾客。",
    ),
    (
        "article",
        "儿童运动鞋的选购要点",
        "Choosing children's sports shoes",
        "童鞋 试穿",
        "孩子脚长增长快，前端留 1 厘米；鞋底要软、后跟要稳；魔术贴方便孩子自己穿脱。",
    ),
    (
        "article",
        "篮球鞋的包裹与支撑",
        "Basketball shoes: lockdown and support",
        "篮球 专业",
        "内线球员重支撑和缓震，后卫重抓地和灵活。高帮不等于护踝，关键在鞋面包裹和鞋底抗扭。",
    ),
    (
        "article",
        "户外徒步鞋怎么选",
        "Choosing hiking shoes",
        "户外 试穿",
        "看鞋底纹路深度、防水膜、鞋头防撞。轻徒步选低帮，负重长线选中高帮。",
    ),
    (
        "article",
        "运动内衣的尺码与支撑等级",
        "Sports bras: sizing and support levels",
        "女子 服装",
        "低强度瑜伽选低支撑，跑步和跳操选高支撑。试穿时请顾客原地跳几下，胸部不晃动、肩带不勒。",
    ),
    (
        "article",
        "门店库存的日清盘点",
        "Daily stock check at closing",
        "门店 库存",
        "闭店前盘点主推款和畅销尺码，缺码当天在系统里申请调拨；全城共享库存可直接下单到家。",
    ),
    (
        "article",
        "如何用“一物一码”带来复购",
        "Repeat sales with one code per item",
        "私域 复购",
        "每件商品吊牌上的码绑定购买门店和导购，顾客扫码注册会员、查看洗护说明，导购可在一周后跟进穿着感受。",
    ),
    (
        "script",
        "进店问候话术",
        "Greeting script",
        "话术 迎宾",
        "“您好，欢迎来到飞跃运动！今天想看跑步装备还是日常穿搭？这边是本周新到的冬季系列。”",
    ),
    (
        "script",
        "跑鞋推荐话术",
        "Running-shoe recommendation script",
        "话术 跑鞋",
        "“您平时一周跑几次、每次多远？……那我推荐这款缓震款，很多跑半马的顾客都在穿，您先试试右脚。”",
    ),
    (
        "script",
        "价格异议处理话术",
        "Handling price objections",
        "话术 异议",
        "“理解您的考虑。这双鞋按您一周跑三次算，能陪您跑一千公里，平均每公里不到三毛钱，还送专业跑袜。”",
    ),
    (
        "script",
        "加企业微信话术",
        "Inviting to WeCom",
        "话术 私域 企业微信",
        "“加一下我的企业微信吧，您这双鞋的洗护方法我发给您，以后有会员日和新品也第一时间告诉您。”",
    ),
    (
        "script",
        "会员注册话术",
        "Member sign-up script",
        "话术 会员",
        "“今天注册会员这单就能积分，满 500 分可以换跑袜，生日当月还有专属券。”",
    ),
    (
        "script",
        "连带销售话术",
        "Add-on sales script",
        "话术 连带",
        "“这条速干裤和您选的跑鞋是同一系列，一起搭配很好看，今天两件以上还有 9 折。”",
    ),
    (
        "script",
        "沉睡顾客唤醒消息",
        "Waking a dormant customer",
        "话术 私域 复购",
        "“王姐您好，我是飞跃运动南京西路店的小陈。您去年买的跑鞋差不多该换了，新款到了，周末给您留个尺码？”",
    ),
    (
        "script",
        "售后回访话术",
        "Follow-up after purchase",
        "话术 服务",
        "“您好，上周您买的跑鞋穿着还舒服吗？磨脚的话告诉我，我教您换一种系鞋带的方法。”",
    ),
    (
        "script",
        "社群活动预告",
        "Announcing a group activity",
        "话术 社群",
        "“各位跑友，本周六早上 7 点滨江跑步打卡，跑完到店领取能量饮料，接龙报名！”",
    ),
    (
        "script",
        "直播预告话术",
        "Announcing a live stream",
        "话术 内容",
        "“今晚 8 点店长直播讲冬季跑步穿搭，直播间下单同样享门店会员积分，记得预约！”",
    ),
)

QUIZZES: tuple[tuple[str, str, bool, tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]], ...] = (
    (
        "跑鞋专业知识测验",
        "Running-shoe knowledge quiz",
        True,
        (
            ("试穿跑鞋时前掌应留多少空间？", (("一指宽", True), ("完全贴合", False), ("三指宽", False))),
            ("新手跑者优先推荐哪类跑鞋？", (("缓震型", True), ("碳板竞速型", False), ("钉鞋", False))),
            ("碳板鞋更适合哪些跑者？", (("配速较快", True), ("有一定跑量", True), ("第一次跑步", False))),
            ("试穿的最佳时间是？", (("下午", True), ("清晨刚起床", False), ("跑完步立刻", False))),
            ("卖跑鞋时最常连带的商品是？", (("专业跑袜", True), ("羽绒服", False), ("篮球", False))),
        ),
    ),
    (
        "会员与私域基础",
        "Members and private traffic basics",
        False,
        (
            ("金卡会员的积分倍数是？", (("1.5 倍", True), ("1 倍", False), ("2 倍", False))),
            ("加企业微信后多久内发欢迎语？", (("5 分钟内", True), ("第二天", False), ("一周后", False))),
            ("朋友圈每天建议发几条？", (("不超过 3 条", True), ("10 条以上", False), ("不发", False))),
            ("社群活跃可以用哪些方法？", (("打卡接龙", True), ("晒单抽奖", True), ("连续刷屏广告", False))),
        ),
    ),
    (
        "陈列与门店规范",
        "Display and store standards",
        False,
        (
            ("总部下发橱窗方案后多久完成更换？", (("48 小时内", True), ("一个月内", False), ("随时", False))),
            ("主推新品放在哪里？", (("门口第一张桌子", True), ("仓库", False), ("收银台下", False))),
            ("高峰时每位导购同时接待不超过几组？", (("两组", True), ("五组", False), ("十组", False))),
        ),
    ),
)

REPORTS = (
    "今天成交 {n} 单，新增企业微信好友 {f} 位！下午的跑步打卡活动来了 12 位会员。",
    "上午把新品冬季系列陈列好了，门口主推桌一眼就能看到，进店率明显提高 👍",
    "一位老顾客带了两位跑友来买鞋，老带新真的好用！今天业绩 {n} 单。",
    "用“每公里不到三毛钱”的话术成功化解了价格异议，顾客买了两双。",
    "社群里发起的滨江夜跑接龙，报名 {f} 人，周六见！",
    "今天帮顾客查了全城库存，五角场店有货，直接下单送到家，顾客很满意。",
    "跑鞋试穿五步法学了就用，今天试穿转化率 60%，谢谢总部的培训！",
    "直播间 30 分钟卖出 {n} 件速干衣，明天继续冲！",
    "唤醒了 {f} 位沉睡会员，其中两位已经到店。",
    "团队 PK 冲刺中，我们华东分公司今天要拿下每日目标！",
    "连带率今天做到 45%，跑袜和跑鞋一起卖效果最好。",
    "顾客反馈上周买的跑鞋很舒服，还在群里晒了单 😊",
)
COMMENTS = ("太棒了！", "学习了 👍", "明天我也试试这个话术", "冲冲冲！", "厉害，求分享陈列照片", "加油！")


def contests_exist(ctx: Context) -> bool:
    from siyu.contests import services as contests

    return bool(contests.contests(ctx.scope))


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=LOCAL) + dt.timedelta(minutes=rng.randrange(0, 600))


def _guide_scope(ctx: Context, g: Any, region_of: dict[int, int]) -> Scope:
    return Scope(
        brand_id=ctx.brand_id,
        level=Level.SELF,
        region_id=region_of.get(g.store_id or 0),
        store_id=g.store_id,
        staff_id=g.id,
        perms=frozenset({"guide.workbench", "learning.view"}),
        label=g.name,
    )


def _shares(ctx: Context, rng: random.Random, guides: list[Any], days: list[dt.date], tag: str) -> int:
    """Guides share to their own customers on these days (``share`` events; 0–6 a day each)."""
    from siyu.events import services as events
    from siyu.members import services as members

    batch = []
    for g in guides:
        people = sorted(members.customer_ids_of_guide(ctx.brand_id, g.id))
        if not people:
            continue
        for day in days:
            for i in range(rng.choice((0, 1, 2, 3, 4, 5))):
                batch.append(
                    events.EventIn(
                        f"pk:{tag}:{g.id}:{day.isoformat()}:{i}",
                        "share",
                        _at(day, rng),
                        rng.choice(people),
                        store_id=g.store_id,
                        guide_id=g.id,
                        content_id=f"article-{rng.randrange(30)}",
                        properties={"channel": rng.choice(("moments", "group", "one_to_one"))},
                    )
                )
    events.emit(ctx.brand_id, batch)  # into the lake; running contests hear of them after the commit
    # ...and score them now too, in case the generator runs inside a transaction (tests): each once.
    from siyu.contests import scoring

    as_lake = [
        {
            "event_id": e.event_id,
            "type": e.type,
            "at": int(e.at.timestamp() * 1_000_000),
            "customer_id": e.customer_id,
            "store_id": e.store_id,
            "guide_id": e.guide_id,
            "content_id": e.content_id,
            "amount_fen": None,
            "properties": orjson.dumps(e.properties).decode(),
        }
        for e in batch
    ]
    scoring.on_events(ctx.brand_id, as_lake)
    return len(batch)


def _knowledge(ctx: Context, rng: random.Random) -> tuple[list[int], list[int]]:
    from siyu.learning import services as learning

    articles = []
    for kind, title, title_en, tags, body in KNOWLEDGE:
        a = learning.create_article(
            ctx.scope,
            learning.ArticleIn(title=title, kind=kind, title_en=title_en, tags=tags, body=body, summary=body[:60]),
        )
        articles.append(a.pk)
    quizzes = []
    now = clock.now()
    for title, title_en, contest, questions in QUIZZES:
        data = learning.QuizIn(
            title=title,
            title_en=title_en,
            pass_percent=80,
            max_attempts=0 if contest else 3,
            contest_starts_at=now - dt.timedelta(days=3) if contest else None,
            contest_ends_at=now + dt.timedelta(days=4) if contest else None,
            article_id=articles[0] if contest else None,
            questions=[
                learning.QuestionIn(
                    text,
                    [learning.ChoiceIn(c, right) for c, right in choices],
                    kind="multiple" if sum(r for _, r in choices) > 1 else "single",
                )
                for text, choices in questions
            ],
        )
        quizzes.append(learning.create_quiz(ctx.scope, data).pk)
    return articles, quizzes


def _training(
    ctx: Context,
    rng: random.Random,
    guides: list[Any],
    region_of: dict[int, int],
    articles: list[int],
    quizzes: list[int],
) -> int:
    """Guides read items and take the knowledge contest (and practise the others)."""
    from siyu.learning import services as learning

    taken = 0
    start = ctx.as_of - dt.timedelta(days=2)
    for g in guides:
        scope = _guide_scope(ctx, g, region_of)
        for pk in rng.sample(articles, rng.randrange(0, 8)):
            learning.mark_read(scope, pk)
        for quiz_id in quizzes[: 1 + rng.randrange(len(quizzes))]:
            quiz = learning.quiz(scope, quiz_id)
            opened = start + dt.timedelta(hours=rng.randrange(0, 40), minutes=rng.randrange(60))
            with clock.frozen(opened):
                attempt = learning.start_attempt(scope, quiz_id)
            answers = {}
            for q in learning.questions(quiz):
                right = [c.pk for c in q.choices.all() if c.correct]
                wrong = [c.pk for c in q.choices.all() if not c.correct]
                answers[q.pk] = right if rng.random() < 0.8 or not wrong else [rng.choice(wrong)]
            with clock.frozen(opened + dt.timedelta(seconds=rng.randrange(40, 300))):
                learning.submit_attempt(scope, attempt.pk, answers)
            taken += 1
    return taken


def _order_events(ctx: Context, since: dt.datetime) -> list[dict[str, Any]]:
    """The demo's paid and refunded orders since ``since`` as the events the orders domain emitted."""
    from siyu.orders import services as orders

    out: list[dict[str, Any]] = []
    for o in orders.visible_orders(ctx.scope, since=since).exclude(paid_at=None).exclude(guide=None):
        props = orjson.dumps({"number": o.number, "channel": o.channel}).decode()
        base = {"customer_id": o.customer_id, "guide_id": o.guide_id, "store_id": o.store_id, "amount_fen": o.total_fen}
        at = o.paid_at
        assert at is not None
        out.append(
            {
                **base,
                "event_id": f"order:{o.pk}:paid",
                "type": "order",
                "at": int(at.timestamp() * 1e6),
                "properties": props,
            }
        )
        if o.status == "returned":
            back = at + dt.timedelta(days=2)
            out.append(
                {
                    **base,
                    "event_id": f"order:{o.pk}:refund",
                    "type": "refund",
                    "at": int(back.timestamp() * 1e6),
                    "properties": props,
                }
            )
    return out


def seed_contests(ctx: Context) -> None:
    with clock.frozen(ctx.as_of):  # "today" is the demo's: its history ends at local midnight of as_of
        _seed(ctx)


def _seed(ctx: Context) -> None:
    from siyu.contests import feed, scoring
    from siyu.contests import services as contests
    from siyu.org import services as org

    rng = random.Random(f"{ctx.config.seed}:contests")
    ctx.reporter.begin(_("PK contests, feed and learning"), total=6)
    today = ctx.as_of.date()
    region_of = {s.id: s.region_id for s in org.stores(ctx.brand_id)}
    regions = org.region_names(ctx.brand_id)
    guides = [g for g in org.guides(ctx.brand_id) if g.store_id]
    by_region: dict[int, list[Any]] = {}
    for g in guides:
        by_region.setdefault(region_of[g.store_id or 0], []).append(g)
    flagship = [
        g for g in guides if g.id in {org.staff_id_by_login(ctx.brand_id, p.username) for p in (P.GUIDE_A, P.GUIDE_B)}
    ]
    active = flagship + [g for rid in sorted(by_region) for g in by_region[rid][:14] if g not in flagship]

    articles, quizzes = _knowledge(ctx, rng)
    ctx.reporter.advance()

    # A settled contest of a month ago: run under the clock of those days.
    past_start = today - dt.timedelta(days=34)
    with clock.frozen(dt.datetime.combine(past_start, dt.time(9), tzinfo=LOCAL)):
        past = contests.create_contest(
            ctx.scope,
            contests.ContestIn(
                name="国庆转发 PK",
                metric="forwards",
                starts_on=past_start,
                ends_on=past_start + dt.timedelta(days=6),
                description="国庆黄金周，全员转发新品海报，每位顾客每天只计一次。",
                targets=(contests.TargetIn(5, 10),),
            ),
        )
        contests.start_contest(ctx.scope, past.pk)
    with clock.frozen(dt.datetime.combine(past_start + dt.timedelta(days=7), dt.time(1), tzinfo=LOCAL)):
        shared = _shares(ctx, rng, active[:20], [past_start + dt.timedelta(days=d) for d in range(7)], f"c{past.pk}")
    with clock.frozen(dt.datetime.combine(past_start + dt.timedelta(days=8), dt.time(2), tzinfo=LOCAL)):
        contests.settle_contest(ctx.scope, past.pk)
    ctx.reporter.advance()

    # This week's team PK of the three branch companies, and the individual sales PK.
    week_start = today - dt.timedelta(days=3)
    team = contests.create_contest(
        ctx.scope,
        contests.ContestIn(
            name="三大分公司转发 PK",
            metric="forwards",
            kind="team",
            team_by="region",
            starts_on=week_start,
            ends_on=today + dt.timedelta(days=6),
            description="华东、华南、西北三大分公司团队 PK：转发新品内容给自己的顾客，每位顾客每天计一次。",
            targets=(contests.TargetIn(5, 10), contests.TargetIn(60, 5, level="team")),
        ),
    )
    contests.start_contest(ctx.scope, team.pk)
    sales = contests.create_contest(
        ctx.scope,
        contests.ContestIn(
            name="双十二业绩个人 PK",
            metric="sales_fen",
            starts_on=today - dt.timedelta(days=6),
            ends_on=today + dt.timedelta(days=6),
            description="归属业绩个人排名；退款扣回，员工自购不计。单日 ¥800 奖 20 金币。",
            targets=(contests.TargetIn(80_000, 20),),
        ),
    )
    contests.start_contest(ctx.scope, sales.pk)
    days = [week_start + dt.timedelta(days=d) for d in range(4)]
    shared += _shares(ctx, rng, active, days[:-1], f"c{team.pk}")
    with clock.frozen(ctx.as_of - dt.timedelta(hours=1)):
        scored = scoring.score_events(ctx.brand_id, _order_events(ctx, ctx.as_of - dt.timedelta(days=7)), [sales])
    ctx.reporter.advance()

    # The feed: reports of the last three days, likes and comments from colleagues.
    posts = []
    for i, text in enumerate(REPORTS):
        g = flagship[i % len(flagship)] if i < 4 else rng.choice(active)
        when = dt.datetime.combine(today - dt.timedelta(days=1 + i % 3), dt.time(19), tzinfo=LOCAL)
        with clock.frozen(when + dt.timedelta(minutes=rng.randrange(0, 120))):
            posts.append(
                feed.publish(
                    _guide_scope(ctx, g, region_of), text.format(n=rng.randrange(3, 15), f=rng.randrange(2, 12))
                )
            )
    likes = 0
    for post in posts:
        for g in rng.sample(active, rng.randrange(2, 9)):
            scope = _guide_scope(ctx, g, region_of)
            try:
                likes += int(feed.like(scope, post.pk).created)
                if rng.random() < 0.3:
                    feed.comment(scope, post.pk, rng.choice(COMMENTS))
            except Exception:  # a colleague of another branch company does not see it (HQ's audience)
                continue
    ctx.reporter.advance()

    taken = _training(ctx, rng, active, region_of, articles, quizzes)
    ctx.reporter.advance()
    ctx.facts.update(
        {
            "contests": 3,
            "contest_events": shared,
            "contest_orders": scored,
            "feed_posts": len(posts),
            "quiz_attempts": taken,
        }
    )
    ctx.reporter.note(
        _("Contests: %(teams)s teams, %(events)d shares, %(orders)d orders scored; %(posts)d reports, %(likes)d likes")
        % {"teams": len(regions), "events": shared, "orders": scored, "posts": len(posts), "likes": likes}
    )
    ctx.reporter.end()


STEP = Step("contests", gettext_noop("PK contests, feed and learning"), run=seed_contests, done=contests_exist)
register(STEP)  # after the orders (scored from their events) and the customers (who receive the shares)
