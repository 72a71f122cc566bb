"""The coin ledger (ADR 0018): idempotent awards, a balance that never goes negative, reversal by
a compensating entry, property tests over random sequences, and no double pay under concurrency on
PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.incentives import services as incentives
from siyu.incentives.models import CoinAccount, CoinEntry


def _guide(world: Any) -> tuple[int, int]:
    return world.brand.pk, world.staff["guide_a"].pk


def test_award_pays_once_per_key_and_the_balance_is_the_sum(world: Any) -> None:
    b, g = _guide(world)
    first = incentives.award(b, g, 30, key="task:1", reason="task", source_type="task", source_id=1)
    again = incentives.award(b, g, 30, key="task:1", reason="task", source_type="task", source_id=1)
    assert first.created and not again.created and again.id == first.id
    incentives.award(b, g, 12, key="task:2", reason="task", source_type="task")
    assert incentives.balance(b, g) == 42
    assert [e.delta for e in incentives.history(b, g)] == [12, 30]
    assert incentives.check_ledger(b) == []


def test_award_refuses_bad_amounts_and_unknown_guides(world: Any) -> None:
    b, g = _guide(world)
    for bad in (0, -5):
        with pytest.raises(incentives.CoinError):
            incentives.award(b, g, bad, key=f"bad{bad}", reason="x", source_type="t")
    with pytest.raises(incentives.CoinError):
        incentives.award(b, world.rival_guide.pk, 5, key="other-brand", reason="x", source_type="t")
    with pytest.raises(incentives.CoinError):
        incentives.award(b, g, 5, key="", reason="x", source_type="t")
    assert CoinEntry.objects.count() == 0


def test_a_spend_beyond_the_balance_changes_nothing(world: Any) -> None:
    b, g = _guide(world)
    incentives.award(b, g, 10, key="a", reason="x", source_type="t")
    with pytest.raises(incentives.InsufficientCoins):
        incentives.spend(b, g, 11, key="s1", reason="gift", source_type="gift")
    assert incentives.balance(b, g) == 10 and CoinEntry.objects.count() == 1
    incentives.spend(b, g, 10, key="s2", reason="gift", source_type="gift")
    assert incentives.balance(b, g) == 0


def test_award_joins_the_callers_transaction(world: Any) -> None:
    b, g = _guide(world)
    with pytest.raises(RuntimeError), transaction.atomic():
        incentives.award(b, g, 10, key="rolled", reason="x", source_type="t")
        raise RuntimeError("the caller fails after paying")
    assert incentives.balance(b, g) == 0 and not CoinEntry.objects.filter(key="rolled").exists()


def test_reversal_is_a_compensating_entry_once_and_never_below_zero(world: Any, scope_of: Any) -> None:
    b, g = _guide(world)
    hq = scope_of(world.staff["hq_admin"])
    paid = incentives.award(b, g, 20, key="k1", reason="x", source_type="t")
    rev = incentives.reverse(hq, paid.id, reason="paid by mistake")
    assert rev.delta == -20 and rev.reverses_id == paid.id and incentives.balance(b, g) == 0
    assert incentives.reverse(hq, paid.id, reason="again").id == rev.id  # once
    with pytest.raises(incentives.CoinError):
        incentives.reverse(hq, rev.id, reason="undo the undo")
    spent_from = incentives.award(b, g, 5, key="k2", reason="x", source_type="t")
    incentives.spend(b, g, 5, key="s", reason="gift", source_type="gift")
    with pytest.raises(incentives.InsufficientCoins):
        incentives.reverse(hq, spent_from.id, reason="too late")
    with pytest.raises(PermissionDenied):
        incentives.reverse(scope_of(world.staff["guide_a"]), spent_from.id, reason="me")
    assert CoinEntry.objects.filter(pk=paid.id).get().delta == 20  # the original stays as it was
    assert incentives.check_ledger(b) == []


ops = st.lists(
    st.tuples(st.sampled_from(["award", "spend"]), st.integers(min_value=1, max_value=50), st.integers(0, 12)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_property_balance_is_the_sum_never_negative_and_keys_pay_once(world: Any, ops: list[Any]) -> None:
    b, g = _guide(world)
    CoinEntry.objects.filter(brand_id=b).delete()  # a fresh ledger per example (test set-up only)
    CoinAccount.objects.filter(brand_id=b).delete()
    model = 0
    used: set[str] = set()
    for kind, amount, k in ops:
        key = f"{kind}:{k}"
        if kind == "award":
            incentives.award(b, g, amount, key=key, reason="p", source_type="t")
            if key not in used:
                model += amount
                used.add(key)
        else:
            try:
                incentives.spend(b, g, amount, key=key, reason="p", source_type="t")
                if key not in used:
                    model -= amount
                    used.add(key)
            except incentives.InsufficientCoins:
                assert key not in used and amount > model
        assert incentives.balance(b, g) == model >= 0
    entries = list(CoinEntry.objects.filter(brand_id=b, guide_id=g).order_by("id"))
    assert len({e.key for e in entries}) == len(entries) == len(used)
    running = 0
    for e in entries:
        running += e.delta
        assert e.balance_after == running >= 0
    assert incentives.check_ledger(b) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_double_pay_and_no_overspend_under_concurrency_on_postgresql(world: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    b, g = _guide(world)
    clients = 12
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)
    created: list[int] = []
    spent: list[int] = []

    def same_key() -> None:
        try:
            barrier.wait()
            for r in range(5):
                e = incentives.award(b, g, 10, key=f"race:{r}", reason="race", source_type="task")
                if e.created:
                    created.append(e.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=same_key) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(created) == 5 and incentives.balance(b, g) == 50

    barrier = threading.Barrier(clients)

    def spender(i: int) -> None:
        try:
            barrier.wait()
            for r in range(3):
                try:
                    incentives.spend(b, g, 7, key=f"spend:{i}:{r}", reason="gift", source_type="gift")
                    spent.append(7)
                except incentives.InsufficientCoins:
                    pass
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=spender, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(spent) == 50 // 7 and incentives.balance(b, g) == 50 - 7 * len(spent) >= 0
    assert incentives.check_ledger(b) == []
