"""The identity graph: resolve, automatic merges by unionid and verified phone, manual merge and
unmerge by HQ (ADR 0007)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from siyu.members import services
from siyu.members.identity import IdentityIn as I
from siyu.members.identity import cluster_ids, identities_of, live, merge_customers, resolve, unmerge
from siyu.members.models import (
    Binding,
    Consent,
    Customer,
    CustomerTag,
    Identity,
    Merge,
    Note,
    Tag,
    TagGroup,
    Touch,
)
from siyu.platform import clock, privacy
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)


def union(key: str) -> I:
    return I("unionid", key)


def phone(number: str, verified: bool = True) -> I:
    return I("phone", number, verified=verified)


def openid(key: str, app: str = "mp-main") -> I:
    return I("openid", key, app_id=app)


def test_a_new_identity_set_creates_one_customer_with_a_hashed_phone(world: Any) -> None:
    c, created = resolve(world.brand.pk, [phone("138 0013 9999"), union("u-1")], source="mini_program", at=T0)
    assert created
    assert c.phone_hash == privacy.lookup_hash("13800139999")
    assert privacy.unseal(c.phone_sealed) == "13800139999"
    keys = set(Identity.objects.filter(customer=c).values_list("kind", "key"))
    assert ("phone", privacy.lookup_hash("13800139999")) in keys  # the key of a phone is its keyed hash
    assert ("unionid", "u-1") in keys
    assert not Identity.objects.filter(key="13800139999").exists()


def test_the_same_unionid_finds_the_same_customer_and_attaches_new_identities(world: Any) -> None:
    a, _ = resolve(world.brand.pk, [union("u-2")], source="mini_program", at=T0)
    b, created = resolve(world.brand.pk, [union("u-2"), openid("o-2"), I("pos_card", "CARD-9")], source="pos")
    assert b.pk == a.pk and not created
    assert Identity.objects.filter(customer=a).count() == 3


def test_a_verified_phone_finds_a_customer_who_holds_it_from_an_import(world: Any) -> None:
    existing = world.customers["chen.guide"][0]
    number = privacy.unseal(Customer.objects.get(pk=existing).phone_sealed)
    c, created = resolve(world.brand.pk, [phone(number), openid("o-3")], source="mini_program")
    assert c.pk == existing and not created
    assert Identity.objects.filter(customer_id=existing, kind="openid").exists()


def test_identities_of_two_customers_with_a_unionid_merge_them_into_the_oldest(world: Any) -> None:
    old, _ = resolve(world.brand.pk, [openid("o-old")], source="mini_program", at=T0)
    new, _ = resolve(world.brand.pk, [I("wecom", "wm-new")], source="wecom", at=T0 + dt.timedelta(days=3))
    c, created = resolve(world.brand.pk, [union("u-9"), openid("o-old"), I("wecom", "wm-new")], source="wecom")
    assert not created and c.pk == old.pk
    merge = Merge.objects.get(absorbed=new)
    assert merge.rule == "unionid" and merge.survivor_id == old.pk
    assert Customer.objects.get(pk=new.pk).merged_into_id == old.pk
    assert set(Identity.objects.filter(customer=old).values_list("kind", flat=True)) == {"openid", "wecom", "unionid"}


def test_a_verified_phone_merges_two_customers(world: Any) -> None:
    first = world.customers["chen.guide"][1]
    number = privacy.unseal(Customer.objects.get(pk=first).phone_sealed)
    other, _ = resolve(world.brand.pk, [openid("o-p")], source="mini_program", at=T0 + dt.timedelta(days=90))
    c, _ = resolve(world.brand.pk, [phone(number), openid("o-p")], source="mini_program")
    assert c.pk == first
    assert Merge.objects.get(absorbed_id=other.pk).rule == "phone"


def test_an_unverified_phone_never_merges_nor_finds_a_customer(world: Any) -> None:
    first = world.customers["chen.guide"][1]
    number = privacy.unseal(Customer.objects.get(pk=first).phone_sealed)
    other, _ = resolve(world.brand.pk, [openid("o-u")], source="mini_program")
    c, created = resolve(world.brand.pk, [phone(number, verified=False), openid("o-u")], source="mini_program")
    assert c.pk == other.pk and not created
    assert not Merge.objects.exists()
    assert c.phone_hash == ""  # the number belongs to someone else: not attached
    lone, created = resolve(world.brand.pk, [phone(number, verified=False)], source="mini_program")
    assert created and lone.pk != first and lone.phone_hash == ""


def test_an_identity_never_points_to_two_customers(world: Any) -> None:
    from django.db import IntegrityError, transaction

    a, _ = resolve(world.brand.pk, [union("u-x")], source="mini_program")
    b, _ = resolve(world.brand.pk, [union("u-y")], source="mini_program")
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(
            brand_id=world.brand.pk, customer=b, origin=b, kind="unionid", key="u-x", created_at=clock.now()
        )
    assert Identity.objects.get(key="u-x").customer_id == a.pk


@pytest.mark.parametrize(
    ("identities", "field"),
    [
        ([], "identities"),
        ([I("fax", "123")], "identities.0"),
        ([I("phone", "12345")], "identities.0"),
        ([I("openid", "o-no-app")], "identities.0"),
        ([union("a"), union("b")], "identities"),
        ([I("unionid", "")], "identities.0"),
    ],
)
def test_bad_identities_are_refused_and_nothing_is_written(world: Any, identities: list[I], field: str) -> None:
    before = (Customer.objects.count(), Identity.objects.count())
    with pytest.raises(ValidationError) as exc:
        resolve(world.brand.pk, identities, source="mini_program")
    assert field in exc.value.message_dict
    assert (Customer.objects.count(), Identity.objects.count()) == before


def test_a_new_customer_is_bound_to_the_guide_given(world: Any) -> None:
    guide = world.staff["guide_a"]
    c, _ = resolve(world.brand.pk, [union("u-b")], source="guide_code", guide_id=guide.pk, at=T0)
    assert (c.guide_id, c.store_id) == (guide.pk, world.flagship.pk)
    assert Binding.objects.get(customer=c).source == "guide_code"


# --- Manual merge and unmerge -------------------------------------------------------------------
def _history(world: Any, customer_id: int) -> None:
    group = TagGroup.objects.create(brand=world.brand, name="兴趣")
    tag = Tag.objects.create(brand=world.brand, group=group, name="跑步")
    CustomerTag.objects.create(brand=world.brand, customer_id=customer_id, tag=tag, at=T0)
    Touch.objects.create(brand=world.brand, customer_id=customer_id, kind="scan", at=T0)
    Note.objects.create(brand=world.brand, customer_id=customer_id, text_sealed=privacy.seal("likes trail"), at=T0)
    Consent.objects.create(brand=world.brand, customer_id=customer_id, channel="sms", granted=True, source="x", at=T0)


def test_merge_and_unmerge_round_trip_keeps_every_history_and_gives_identities_back(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    survivor_id, absorbed_id = world.customers["chen.guide"][0], world.customers["sun.guide"][0]
    absorbed = Customer.objects.get(pk=absorbed_id)
    resolve(world.brand.pk, [union("u-abs"), phone(privacy.unseal(absorbed.phone_sealed))], source="wecom")
    _history(world, absorbed_id)
    ids_before = set(Identity.objects.filter(customer_id=absorbed_id).values_list("pk", flat=True))
    assert len(ids_before) == 2
    guide_before, store_before = absorbed.guide_id, absorbed.store_id

    merge = merge_customers(hq, survivor_id, absorbed_id, reason="same person, two phones")
    assert set(merge.moved_identities) == ids_before
    assert set(Identity.objects.filter(customer_id=survivor_id).values_list("pk", flat=True)) >= ids_before
    assert set(cluster_ids(Customer.objects.get(pk=survivor_id))) == {survivor_id, absorbed_id}
    assert not live(Customer.objects.filter(pk=absorbed_id)).exists()
    assert not services.visible_customers(hq).filter(pk=absorbed_id).exists()  # gone from lists
    for model in (Touch, Note, Consent, CustomerTag):  # histories stay where they were written
        assert model.objects.filter(customer_id=absorbed_id).count() == 1
    # a read over the cluster sees them from the survivor
    assert Touch.objects.filter(customer_id__in=cluster_ids(survivor_id)).count() == 1
    assert AuditEntry.objects.filter(action="customer.merge", object_id=str(merge.pk)).exists()
    # the survivor is found by the absorbed customer's unionid now
    assert resolve(world.brand.pk, [union("u-abs")], source="wecom")[0].pk == survivor_id

    unmerge(hq, merge.pk)
    absorbed.refresh_from_db()
    assert absorbed.merged_into_id is None
    assert (absorbed.guide_id, absorbed.store_id) == (guide_before, store_before)
    assert set(Identity.objects.filter(customer_id=absorbed_id).values_list("pk", flat=True)) == ids_before
    assert not Identity.objects.filter(customer_id=survivor_id, origin_id=absorbed_id).exists()
    assert Merge.objects.get(pk=merge.pk).undone_at is not None
    assert services.visible_customers(hq).filter(pk=absorbed_id).exists()
    assert [b.source for b in services.binding_history(absorbed)][:2] == ["merge", "merge"]
    with pytest.raises(ValidationError):
        unmerge(hq, merge.pk)  # already undone


def test_merge_needs_the_permission_a_reason_and_two_customers_in_reach(world: Any, scope_of: Any) -> None:
    a, b = world.customers["chen.guide"][:2]
    with pytest.raises(PermissionDenied):
        merge_customers(scope_of(world.staff["store_manager"]), a, b, reason="x")
    hq = scope_of(world.staff["hq_admin"])
    with pytest.raises(ValidationError) as exc:
        merge_customers(hq, a, b, reason="  ")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError):
        merge_customers(hq, a, a, reason="same")
    with pytest.raises(Http404):
        merge_customers(hq, a, world.customers["rival.guide"][0], reason="other brand")
    assert not Merge.objects.exists()


def test_unmerge_of_a_survivor_merged_again_asks_to_undo_the_later_merge_first(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    a, b, c = world.customers["chen.guide"]
    first = merge_customers(hq, a, b, reason="one")
    second = merge_customers(hq, c, a, reason="two")
    assert set(cluster_ids(c)) == {a, b, c}
    with pytest.raises(ValidationError):
        unmerge(hq, first.pk)
    unmerge(hq, second.pk)
    unmerge(hq, first.pk)
    assert Customer.objects.filter(pk__in=[a, b, c], merged_into__isnull=True).count() == 3


def test_identities_of_masks_the_phone(world: Any) -> None:
    c = Customer.objects.get(pk=world.customers["chen.guide"][0])
    resolve(world.brand.pk, [phone(privacy.unseal(c.phone_sealed)), union("u-mask-123456789")], source="wecom")
    rows = {r.kind: r for r in identities_of(c)}
    assert "****" in rows["phone"].shown_key
    assert rows["unionid"].shown_key.startswith("u-mask") and "…" in rows["unionid"].shown_key


# --- Concurrency on PostgreSQL ------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_threads_resolving_the_same_new_unionid_make_one_customer() -> None:
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    from siyu.org.models import Brand

    brand = Brand.objects.create(code="conc", name="Concurrency")
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        try:
            barrier.wait()
            c, _ = resolve(brand.pk, [union("u-race"), phone("13900001111")], source="mini_program")
            results.append(c.pk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(results)) == 1
    assert Customer.objects.filter(brand=brand).count() == 1
    assert Identity.objects.filter(brand=brand, kind="unionid").count() == 1
