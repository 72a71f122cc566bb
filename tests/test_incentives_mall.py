"""The reward mall: stock never oversold, coins held on redeem and returned on rejection, the
delivery states, HQ-only management, idempotent forms."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from siyu.incentives import services as incentives
from siyu.incentives.models import Gift


def _setup(world: Any, scope_of: Any, *, stock: int = 2, cost: int = 30) -> tuple[Any, int]:
    hq = scope_of(world.staff["hq_admin"])
    gift = incentives.save_gift(hq, name="保温杯", cost=cost, description="500 ml")
    incentives.restock(hq, gift.id, stock, key="first")
    return hq, gift.id


def test_redeem_holds_coins_and_stock_reject_returns_both(world: Any, scope_of: Any) -> None:
    hq, gift = _setup(world, scope_of)
    b, g = world.brand.pk, world.staff["guide_a"].pk
    incentives.award(b, g, 100, key="seed", reason="x", source_type="t")
    red = incentives.redeem(b, g, gift, key="form-1")
    assert incentives.redeem(b, g, gift, key="form-1").id == red.id  # the form sent twice
    assert red.status == "pending" and incentives.balance(b, g) == 70
    assert Gift.objects.get(pk=gift).stock == 1
    rejected = incentives.decide(hq, red.id, approve=False, note="out of season")
    assert rejected.status == "rejected" and incentives.balance(b, g) == 100
    assert Gift.objects.get(pk=gift).stock == 2
    with pytest.raises(incentives.CoinError):
        incentives.decide(hq, red.id, approve=True)
    assert incentives.balance(b, g) == 100
    assert incentives.check_ledger(b) == [] and incentives.check_gift_ledger(b) == []


def test_approve_ship_receive(world: Any, scope_of: Any) -> None:
    hq, gift = _setup(world, scope_of)
    b, g = world.brand.pk, world.staff["guide_a"].pk
    incentives.award(b, g, 30, key="seed", reason="x", source_type="t")
    red = incentives.redeem(b, g, gift, key="f")
    with pytest.raises(incentives.CoinError):
        incentives.ship(hq, red.id)
    incentives.decide(hq, red.id, approve=True)
    with pytest.raises(incentives.CoinError):
        incentives.confirm_received(b, g, red.id)
    assert incentives.ship(hq, red.id, tracking="SF123").status == "shipped"
    with pytest.raises(incentives.CoinError):
        incentives.confirm_received(b, world.staff["guide_b"].pk, red.id)
    assert incentives.confirm_received(b, g, red.id).status == "received"
    assert incentives.balance(b, g) == 0


def test_not_enough_coins_or_stock_changes_nothing(world: Any, scope_of: Any) -> None:
    _hq, gift = _setup(world, scope_of, stock=1)
    b, g = world.brand.pk, world.staff["guide_a"].pk
    with pytest.raises(incentives.InsufficientCoins):
        incentives.redeem(b, g, gift, key="poor")
    assert Gift.objects.get(pk=gift).stock == 1 and incentives.my_redemptions(b, g) == []
    incentives.award(b, g, 100, key="seed", reason="x", source_type="t")
    with pytest.raises(incentives.OutOfGifts):
        incentives.redeem(b, g, gift, quantity=2, key="two")
    assert incentives.balance(b, g) == 100 and incentives.my_redemptions(b, g) == []


def test_only_managers_of_incentives_manage_the_mall(world: Any, scope_of: Any) -> None:
    hq, gift = _setup(world, scope_of)
    b, g = world.brand.pk, world.staff["guide_a"].pk
    incentives.award(b, g, 30, key="seed", reason="x", source_type="t")
    red = incentives.redeem(b, g, gift, key="f")
    for who in ("store_manager", "region_manager", "guide_a"):
        s = scope_of(world.staff[who])
        with pytest.raises(PermissionDenied):
            incentives.save_gift(s, name="x", cost=1)
        with pytest.raises(PermissionDenied):
            incentives.decide(s, red.id, approve=True)
    with pytest.raises(incentives.CoinError):
        incentives.save_gift(hq, name="保温杯", cost=5)  # the name is taken
    with pytest.raises(incentives.CoinError):
        incentives.save_gift(hq, name="free", cost=0)
    # a store manager sees her store's redemptions, not another store's
    assert [r.id for r in incentives.redemptions(scope_of(world.staff["store_manager"]))] == [red.id]
    assert incentives.redemptions(scope_of(world.other_guide)) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_gift_is_never_oversold_under_concurrency(world: Any, scope_of: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    _hq, gift = _setup(world, scope_of, stock=3, cost=10)
    b = world.brand.pk
    guides = [world.staff["guide_a"].pk, world.staff["guide_b"].pk, world.other_guide.pk, world.south_guide.pk]
    for gid in guides:
        incentives.award(b, gid, 20, key=f"seed{gid}", reason="x", source_type="t")
    errors: list[BaseException] = []
    won: list[int] = []
    barrier = threading.Barrier(len(guides) * 2)

    def go(gid: int, i: int) -> None:
        try:
            barrier.wait()
            for r in range(2):
                with contextlib.suppress(incentives.CoinError):
                    won.append(incentives.redeem(b, gid, gift, key=f"r{gid}:{i}:{r}").id)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(gid, i)) for gid in guides for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(won) == 3 and Gift.objects.get(pk=gift).stock == 0
    assert sum(incentives.balance(b, gid) for gid in guides) == 80 - 30
    assert incentives.check_ledger(b) == [] and incentives.check_gift_ledger(b) == []
