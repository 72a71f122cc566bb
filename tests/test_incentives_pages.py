"""The incentives pages: a guide's coins, mall, rank and wall on her phone; HQ's boards within reach."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from siyu.incentives import benchmarks
from siyu.incentives import services as incentives
from siyu.platform import clock


def test_a_guide_sees_her_coins_the_mall_her_rank_with_the_gap_and_the_wall(world: Any, scope_of: Any) -> None:
    b, a = world.brand.pk, world.staff["guide_a"].pk
    hq = scope_of(world.staff["hq_admin"])
    incentives.award(b, a, 120, key="t1", reason="任务完成", source_type="task")
    gift = incentives.save_gift(hq, name="运动水壶", cost=100)
    incentives.restock(hq, gift.id, 3, key="g")
    now = clock.now()
    incentives.record(b, "sales_fen", a, 30_000, key="s1", at=now)
    incentives.record(b, "sales_fen", world.staff["guide_b"].pk, 45_000, key="s2", at=now)
    client = world.login(Client(), "guide_a")
    page = client.get(reverse("guide:incentives_coins")).content.decode()
    assert "120" in page and "任务完成" in page
    page = client.get(reverse("guide:incentives_mall")).content.decode()
    assert "运动水壶" in page
    confirm = client.get(reverse("guide:incentives_redeem_confirm", args=[gift.id])).content.decode()
    assert "兑换后剩 20 金币" in confirm and 'name="key"' in confirm  # one more tap before coins are spent
    assert incentives.balance(b, a) == 120  # looking spends nothing
    assert client.get(reverse("guide:incentives_redeem_confirm", args=[999_999])).status_code == 404
    response = client.post(reverse("guide:incentives_redeem"), {"gift": gift.id, "key": "k1"})
    assert response.status_code == 302 and incentives.balance(b, a) == 20
    client.post(reverse("guide:incentives_redeem"), {"gift": gift.id, "key": "k1"})  # sent twice
    assert incentives.balance(b, a) == 20 and len(incentives.my_redemptions(b, a)) == 1
    page = client.get(reverse("guide:incentives_rank") + "?metric=sales_fen&period=day").content.decode()
    assert "¥150.00" in page and "刘洋" in page  # the gap to the next place, and who is ahead
    benchmarks.save_rule(hq, title="销冠", metric="sales_fen", how_many=1, award_coins=10)
    benchmarks.pick(b, incentives.leaderboards.local_day(now))
    page = world.login(Client(), "guide_b").get(reverse("guide:incentives_wall")).content.decode()
    assert "销冠" in page and "刘洋" in page and 'name="notes"' in page


def test_hq_boards_follow_the_viewers_reach(world: Any) -> None:
    b = world.brand.pk
    now = clock.now()
    incentives.record(b, "new_fans", world.staff["guide_a"].pk, 5, key="f1", at=now)
    incentives.record(b, "new_fans", world.south_guide.pk, 9, key="f2", at=now)
    url = reverse("hq:incentives_leaderboards") + "?metric=new_fans&period=day&level=guide"
    hq_page = world.login(Client(), "hq_admin").get(url).content.decode()
    assert "陈静" in hq_page and "何敏" in hq_page
    east = world.login(Client(), "region_manager").get(url).content.decode()
    assert "陈静" in east and "何敏" not in east


def test_hq_writes_a_rules_minimum_in_yuan_for_sales_and_as_a_count_for_fans(world: Any) -> None:
    b = world.brand.pk
    client = world.login(Client(), "hq_admin")
    url = reverse("hq:incentives_benchmarks")
    base = {"title": "销冠", "scope": "brand", "how_many": "3", "award_coins": "50"}
    client.post(url, {**base, "metric": "sales_fen", "minimum": "499.50"})
    client.post(url, {**base, "title": "涨粉王", "metric": "new_fans", "minimum": "3"})
    assert [(r.title, r.minimum) for r in benchmarks.rules(b)] == [("销冠", 49_950), ("涨粉王", 3)]
    refused = client.post(url, {**base, "title": "坏", "metric": "sales_fen", "minimum": "4.999"}, follow=True)
    assert "499.50" in refused.content.decode() and len(benchmarks.rules(b)) == 2  # says how; nothing saved
    client.post(url, {**base, "title": "坏", "metric": "new_fans", "minimum": "2.5"})
    assert len(benchmarks.rules(b)) == 2
    page = client.get(url).content.decode()
    assert "¥499.50" in page  # shown as money, not as fen
