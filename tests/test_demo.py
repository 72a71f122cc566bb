"""The demo brand generator: deterministic from its seed, big enough to mean something (≥60 stores
in ≥12 real cities at their real places, ~5 guides a store), with the personas the tests and the
README rely on, a consistent history, and safe to run twice.

The generator runs three times at a tiny size (300 customers) in one module fixture: seed 42 and
seed 7 inside savepoints that are rolled back, then seed 42 again, which the tests read.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from siyu.catalog.models import Category, Product, ProductRole, Sku
from siyu.demo import generator
from siyu.demo import personas as P
from siyu.demo.codes import PhoneNumbering, ean13, organisation_code, valid_credit_code
from siyu.demo.generator import Config, DemoError
from siyu.demo.seed_customers import customer_rows, lifecycle_of, tier_of
from siyu.demo.seed_org import LEFT_GUIDES, MOVED_GUIDES, plan_org
from siyu.members import services as members
from siyu.members.models import Customer, Lifecycle
from siyu.org import services as org
from siyu.org.models import Brand, Franchisee, Posting, Region, Staff, Store
from siyu.platform import privacy
from siyu.platform.models import AuditEntry

AS_OF = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
MEMBERS = 300
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# City centres from public references (not from the generator's own table), degrees WGS-84.
REAL_CITY_CENTRES = {
    "上海": (31.23, 121.47),
    "杭州": (30.27, 120.16),
    "南京": (32.06, 118.80),
    "苏州": (31.30, 120.59),
    "广州": (23.13, 113.26),
    "深圳": (22.54, 114.06),
    "厦门": (24.48, 118.09),
    "长沙": (28.23, 112.94),
    "北京": (39.90, 116.41),
    "天津": (39.13, 117.20),
    "成都": (30.66, 104.07),
    "重庆": (29.56, 106.55),
    "西安": (34.26, 108.94),
    "武汉": (30.59, 114.31),
}


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def snapshot(brand_id: int) -> dict[str, Any]:
    """What a run wrote, in a form two runs can be compared by (no database ids)."""
    usernames = dict(Staff.objects.filter(brand_id=brand_id).values_list("pk", "username"))
    codes = dict(Store.objects.filter(brand_id=brand_id).values_list("pk", "code"))
    return {
        "stores": list(
            Store.objects.filter(brand_id=brand_id)
            .order_by("code")
            .values_list("code", "name", "city", "district", "address", "latitude", "longitude", "opened_on", "phone")
        ),
        "franchisees": list(Franchisee.objects.filter(brand_id=brand_id).values_list("code", "credit_code")),
        "staff": list(
            Staff.objects.filter(brand_id=brand_id)
            .order_by("username")
            .values_list("username", "name", "phone", "role", "store__code", "employment", "joined_on")
        ),
        "customers": sorted(
            (
                c["phone_hash"],
                codes.get(c["store_id"]),
                usernames.get(c["guide_id"]),
                c["joined_at"],
                c["lifecycle"],
                c["orders_count"],
                c["total_spent_fen"],
            )
            for c in Customer.objects.filter(brand_id=brand_id).values(
                "phone_hash",
                "store_id",
                "guide_id",
                "joined_at",
                "lifecycle",
                "orders_count",
                "total_spent_fen",
            )
        ),
        "products": list(Product.objects.filter(brand_id=brand_id).values_list("code", "name", "price_fen", "role")),
        "touches": _touches(brand_id),
        "task_progress": _task_progress(brand_id),
        "skus": list(Sku.objects.filter(brand_id=brand_id).values_list("code", "barcode")),
    }


def _task_progress(brand_id: int) -> list[tuple[Any, ...]]:
    from siyu.tasks.models import Assignment

    rows = Assignment.objects.filter(brand_id=brand_id).values_list(
        "task__title", "occurrence__seq", "guide__username", "progress", "status", "coins"
    )
    return sorted(rows)


def _touches(brand_id: int) -> list[tuple[Any, ...]]:
    from siyu.members.models import Touch

    phones = dict(Customer.objects.filter(brand_id=brand_id).values_list("pk", "phone_hash"))
    rows = Touch.objects.filter(brand_id=brand_id).values_list("customer_id", "kind", "at", "campaign", "code__name")

    def named(code: str | None) -> str:  # a share link is named after its customer's id: ids differ between runs
        return re.sub(r"#(\d+)", lambda m: "#" + phones.get(int(m.group(1)), "?"), code or "")

    return sorted((phones[c], kind, at, campaign, named(code)) for c, kind, at, campaign, code in rows)


@dataclass
class Seeded:
    first: dict[str, Any]  # seed 42, rolled back
    other: dict[str, Any]  # seed 7, rolled back
    kept: dict[str, Any]  # seed 42 again: the data the tests read
    summary: generator.Summary
    brand_id: int
    lake: str  # the event lake the module's demo run wrote (events, facts snapshots)


def _run_and_roll_back(seed: int) -> dict[str, Any]:
    with transaction.atomic():
        summary = generator.run(Config(seed=seed, members=MEMBERS, as_of=AS_OF))
        snap = snapshot(summary.brand_id)
        transaction.set_rollback(True)
    return snap


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    lake = str(tmp_path_factory.mktemp("demo-lake"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_LAKE", lake)  # one lake for the module's run (conftest gives each test its own)
        with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS), transaction.atomic():
            first = _run_and_roll_back(42)
            other = _run_and_roll_back(7)
            summary = generator.run(Config(seed=42, members=MEMBERS, as_of=AS_OF))
            yield Seeded(first, other, snapshot(summary.brand_id), summary, summary.brand_id, lake)
            transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _the_demo_lake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that reads the module's demo run reads its lake too."""
    if "seeded" in request.fixturenames:
        monkeypatch.setenv("SIYU_LAKE", request.getfixturevalue("seeded").lake)


pytestmark = pytest.mark.django_db


# --- Deterministic from the seed -------------------------------------------------------------
def test_the_same_seed_gives_the_same_rows(seeded: Seeded) -> None:
    for key in ("stores", "franchisees", "staff", "customers", "products", "skus", "touches", "task_progress"):
        assert seeded.first[key] == seeded.kept[key], key
    assert len(seeded.kept["customers"]) == MEMBERS


def test_another_seed_gives_other_rows(seeded: Seeded) -> None:
    def phone_hashes(snap: dict[str, Any]) -> set[str]:
        return {c[0] for c in snap["customers"]}

    assert [s[0] for s in seeded.other["stores"]] == [s[0] for s in seeded.kept["stores"]]  # the same store codes
    assert [s[5:7] for s in seeded.other["stores"]] != [s[5:7] for s in seeded.kept["stores"]]  # moved a little
    assert seeded.other["staff"] != seeded.kept["staff"]
    # Only the demo customer's phone is the same.
    assert len(phone_hashes(seeded.other) & phone_hashes(seeded.kept)) == 1


def test_the_plan_is_pure() -> None:
    assert plan_org(42, AS_OF) == plan_org(42, AS_OF)
    assert plan_org(42, AS_OF) != plan_org(43, AS_OF)


# --- Big enough to mean something -------------------------------------------------------------
def test_at_least_60_stores_in_at_least_12_cities_with_several_per_city(seeded: Seeded) -> None:
    stores = Store.objects.filter(brand_id=seeded.brand_id)
    assert stores.count() >= 60
    per_city = Counter(stores.values_list("city", flat=True))
    assert len(per_city) >= 12
    assert all(4 <= n <= 7 for n in per_city.values()), per_city
    assert stores.get(code=P.FLAGSHIP_STORE_CODE).city == "上海"
    assert set(Region.objects.filter(brand_id=seeded.brand_id).values_list("code", flat=True)) == {
        "EAST",
        "SOUTH",
        "NORTHWEST",
    }
    assert stores.get(code=P.FLAGSHIP_STORE_CODE).region.code == P.EAST_REGION_CODE
    assert all(stores.filter(city="上海").values_list("region__code", flat=True))
    assert set(stores.filter(city="上海").values_list("region__code", flat=True)) == {"EAST"}


def test_every_store_lies_in_its_city(seeded: Seeded) -> None:
    for store in Store.objects.filter(brand_id=seeded.brand_id):
        distance = km_between((float(store.latitude), float(store.longitude)), REAL_CITY_CENTRES[store.city])
        assert distance < 40, f"{store.code} {store.name} is {distance:.0f} km from the centre of {store.city}"
        assert store.district and store.address.startswith(store.city)


def test_stores_of_a_city_stand_apart(seeded: Seeded) -> None:
    """Several stores per city at different places, so "nearest store" means something."""
    stores = list(Store.objects.filter(brand_id=seeded.brand_id))
    for a, b in itertools.combinations(stores, 2):
        if a.city == b.city:
            assert km_between((float(a.latitude), float(a.longitude)), (float(b.latitude), float(b.longitude))) > 0.3


def test_about_five_guides_and_one_manager_per_store(seeded: Seeded) -> None:
    active = Staff.objects.filter(brand_id=seeded.brand_id, employment=Staff.Employment.ACTIVE)
    guides = Counter(active.filter(role="guide").values_list("store__code", flat=True))
    managers = Counter(active.filter(role="store_manager").values_list("store__code", flat=True))
    codes = set(Store.objects.filter(brand_id=seeded.brand_id).values_list("code", flat=True))
    assert set(guides) == codes and set(managers) == codes
    assert all(4 <= n <= 6 for n in guides.values())
    assert 4.5 <= sum(guides.values()) / len(codes) <= 5.5
    assert set(managers.values()) == {1}


def test_some_guides_moved_and_some_left_through_the_services(seeded: Seeded) -> None:
    staff = Staff.objects.filter(brand_id=seeded.brand_id)
    left = staff.filter(employment=Staff.Employment.LEFT)
    assert left.count() == LEFT_GUIDES + 1  # and one more in the customer-assets step: her customers inherited
    assert not left.filter(is_active=True).exists()
    assert all(s.left_on and s.joined_on and s.left_on > s.joined_on for s in left)
    moves = AuditEntry.objects.filter(brand_id=seeded.brand_id, action="staff.move")
    assert moves.count() == MOVED_GUIDES
    for entry in moves:
        mover = staff.get(pk=entry.object_id)
        postings = list(Posting.objects.filter(staff=mover).order_by("started_at"))
        assert len(postings) == 2
        assert postings[0].ended_at == postings[1].started_at
        assert postings[0].store_id != postings[1].store_id == mover.store_id
        assert len({p.store.city for p in postings if p.store is not None}) == 1  # within the city
    assert AuditEntry.objects.filter(brand_id=seeded.brand_id, action="staff.create").count() == staff.count()


def test_franchisees_own_stores_and_have_valid_credit_codes(seeded: Seeded) -> None:
    franchisees = Franchisee.objects.filter(brand_id=seeded.brand_id)
    assert {"direct", "dealer", "franchisee"} <= set(franchisees.values_list("kind", flat=True))
    for f in franchisees:
        assert valid_credit_code(f.credit_code), f.credit_code
        assert f.stores.exists()


# --- Personas ---------------------------------------------------------------------------------
def test_every_persona_exists_where_documented_and_signs_in(seeded: Seeded, client: Any) -> None:
    staff = {s.username: s for s in Staff.objects.filter(brand_id=seeded.brand_id).select_related("store", "region")}
    for p in P.STAFF_PERSONAS:
        person = staff[p.username]
        assert (person.phone, person.name, person.role) == (p.phone, p.name, p.role)
        assert client.login(username=p.username, password=P.DEMO_PASSWORD), p.username
        client.logout()
    assert client.login(username=P.GUIDE_A.phone, password=P.DEMO_PASSWORD)  # by phone, too
    assert staff[P.REGION_MANAGER.username].region_id == Region.objects.get(code=P.EAST_REGION_CODE).pk
    flagship = Store.objects.get(code=P.FLAGSHIP_STORE_CODE)
    for p in (P.STORE_MANAGER, P.GUIDE_A, P.GUIDE_B):
        assert staff[p.username].store_id == flagship.pk
    assert staff[P.HQ_ADMIN.username].store is None and staff[P.HQ_ADMIN.username].region is None


def test_every_staff_member_shares_the_one_demo_password_hash(seeded: Seeded) -> None:
    hashes = set(Staff.objects.filter(brand_id=seeded.brand_id).values_list("password", flat=True))
    assert len(hashes) == 1


def test_the_demo_customer_is_bound_to_guide_a_who_sees_her_unmasked(seeded: Seeded) -> None:
    guide_a = Staff.objects.select_related("store").get(username=P.GUIDE_A.username)
    found = members.visible_customers(org.hq_scope(seeded.brand_id), phone=P.CUSTOMER_PHONE)
    customer = found.get()
    assert customer.guide_id == guide_a.pk
    assert customer.store_id == guide_a.store_id
    row = members.to_row(guide_a.scope, customer)
    assert (row.phone, row.name, row.masked) == (P.CUSTOMER_PHONE, P.CUSTOMER_NAME, False)
    assert row.lifecycle == Lifecycle.ACTIVE


# --- A consistent history ---------------------------------------------------------------------
def test_customers_history_is_consistent(seeded: Seeded) -> None:
    as_of = generator.history_end(AS_OF)
    customers = list(Customer.objects.filter(brand_id=seeded.brand_id))
    assert len(customers) == MEMBERS
    for c in customers:
        assert as_of - dt.timedelta(days=540) <= c.joined_at < as_of
        if c.orders_count == 0:
            assert c.last_purchase_at is None and c.total_spent_fen == 0
        else:
            assert c.last_purchase_at is not None and c.joined_at <= c.last_purchase_at < as_of
            assert c.total_spent_fen > 0 and isinstance(c.total_spent_fen, int)
        assert c.lifecycle == lifecycle_of(c.joined_at, c.last_purchase_at, as_of)
        assert c.tier == tier_of(c.total_spent_fen)
        if c.merged_into_id is None:  # a record merged into another keeps no guide (restored on unmerge)
            assert c.guide_id is not None and c.store_id is not None
    stages = Counter(c.lifecycle for c in customers)
    assert {Lifecycle.NEW, Lifecycle.ACTIVE, Lifecycle.DORMANT, Lifecycle.CHURNED} <= set(stages)


def test_customers_are_bound_to_an_active_guide_of_their_store(seeded: Seeded) -> None:
    guide_store = dict(
        Staff.objects.filter(brand_id=seeded.brand_id, role="guide", employment="active").values_list("pk", "store_id")
    )
    live = Customer.objects.filter(brand_id=seeded.brand_id, merged_into__isnull=True)
    for store_id, guide_id in live.values_list("store_id", "guide_id"):
        assert guide_store[guide_id] == store_id


def test_bigger_cities_have_more_customers(seeded: Seeded) -> None:
    per_city = Counter(Customer.objects.filter(brand_id=seeded.brand_id).values_list("store__city", flat=True))
    assert per_city["上海"] > per_city["厦门"]
    assert per_city["北京"] > per_city["苏州"]


def test_lifecycle_follows_recency() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    assert lifecycle_of(now - 10 * day, None, now) == Lifecycle.NEW
    assert lifecycle_of(now - 60 * day, None, now) == Lifecycle.NEW
    assert lifecycle_of(now - 200 * day, now - 30 * day, now) == Lifecycle.ACTIVE
    assert lifecycle_of(now - 200 * day, now - 120 * day, now) == Lifecycle.DORMANT
    assert lifecycle_of(now - 400 * day, now - 300 * day, now) == Lifecycle.CHURNED
    assert lifecycle_of(now - 400 * day, None, now) == Lifecycle.CHURNED
    assert tier_of(0) == "regular" and tier_of(200_000) == "silver" and tier_of(1_000_000) == "platinum"


# --- The product range ------------------------------------------------------------------------
def test_the_product_range(seeded: Seeded) -> None:
    products = Product.objects.filter(brand_id=seeded.brand_id)
    assert 50 <= products.count() <= 80
    assert Category.objects.filter(brand_id=seeded.brand_id).count() == 9
    assert set(products.values_list("role", flat=True)) == set(ProductRole.values)
    skus = Sku.objects.filter(brand_id=seeded.brand_id)
    assert skus.count() >= products.count() * 2
    for sku in skus:
        assert ean13(sku.barcode[:12]) == sku.barcode
    for product in products:
        assert isinstance(product.price_fen, int) and product.price_fen > 0
        assert product.skus.exists()


def test_the_running_sales_task_counts_the_paid_orders_of_its_window(seeded: Seeded) -> None:
    from siyu.orders import services as orders
    from siyu.tasks.models import Assignment, Credit

    items = list(Assignment.objects.filter(brand_id=seeded.brand_id, kind="sales").select_related("task"))
    assert items and items[0].task.title == "七日成交 2 单" and items[0].status in ("open", "done")
    task = items[0].task
    by_guide = {a.guide_id: a for a in items}
    sales = orders.guide_sales(seeded.brand_id, list(by_guide), task.starts_at, AS_OF + dt.timedelta(days=2))
    wanted = {
        (by_guide[s.guide_id].pk, f"order:{s.order_id}")
        for s in sales
        if not s.refunded and s.amount_fen >= task.min_order_fen and s.guide_id in by_guide
    }
    credited = set(Credit.objects.filter(assignment__in=items).values_list("assignment_id", "key"))
    assert wanted and credited == wanted
    assert any(s.refunded for s in sales)  # the demo refunds some: those never count
    for a in items:
        assert a.progress == sum(1 for pk, _key in credited if pk == a.pk)
        assert (a.status == "done") == (a.progress >= a.target)


# --- Safe to run again --------------------------------------------------------------------------
def test_running_again_adds_nothing(seeded: Seeded) -> None:
    counts = (
        Store.objects.count(),
        Staff.objects.count(),
        Customer.objects.count(),
        Product.objects.count(),
        AuditEntry.objects.exclude(action="demo.seed").count(),
    )
    summary = generator.run(Config(seed=42, members=MEMBERS, as_of=AS_OF))
    every_step = [
        "org",
        "catalog",
        "store_pages",
        "customers",
        "orders",
        "incentives",
        "customer_assets",
        "contests",
        "events",
        "segments",
        "tasks",
    ]
    assert summary.ran == [] and summary.skipped == every_step
    assert summary.brand_id == seeded.brand_id
    assert Brand.objects.filter(code=P.BRAND_CODE).count() == 1
    assert counts == (
        Store.objects.count(),
        Staff.objects.count(),
        Customer.objects.count(),
        Product.objects.count(),
        AuditEntry.objects.exclude(action="demo.seed").count(),
    )
    assert generator.seeded() == {
        "seed": 42,
        "members": MEMBERS,
        "as_of": generator.history_end(AS_OF).isoformat(),
        "ran": [],
    }


def test_asking_for_more_customers_tops_up_without_duplicates(seeded: Seeded) -> None:
    generator.run(Config(seed=42, members=MEMBERS + 50, as_of=AS_OF))
    assert Customer.objects.filter(brand_id=seeded.brand_id).count() == MEMBERS + 50


def test_topped_up_customers_get_their_identities_bindings_and_tags_like_the_first(seeded: Seeded) -> None:
    from siyu.members import services as members
    from siyu.members.models import Binding, CustomerTag, Identity, Touch

    before = set(Customer.objects.filter(brand_id=seeded.brand_id).values_list("pk", flat=True))
    summary = generator.run(Config(seed=42, members=MEMBERS + 200, as_of=AS_OF))
    assert summary.ran == ["customers", "customer_assets"]
    new = set(Customer.objects.filter(brand_id=seeded.brand_id).values_list("pk", flat=True)) - before
    assert len(new) == 200
    assert not members.without_phone_identity(seeded.brand_id).exists()
    ids = Identity.objects.filter(customer_id__in=new)
    assert ids.filter(kind="phone", verified=True).count() == 200
    assert 0 < ids.filter(kind="unionid").count() < 200 and ids.filter(kind="openid").exists()
    assert Binding.objects.filter(customer_id__in=new).count() == 200
    assert Touch.objects.filter(customer_id__in=new).values("customer_id").distinct().count() == 200
    assert CustomerTag.objects.filter(customer_id__in=new).values("customer_id").distinct().count() > 100
    unionids = list(Identity.objects.filter(brand_id=seeded.brand_id, kind="unionid").values_list("key", flat=True))
    assert len(unionids) == len(set(unionids))
    again = generator.run(Config(seed=42, members=MEMBERS + 200, as_of=AS_OF))
    assert again.ran == []  # every customer has her identities: nothing left to do


def _rows() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Brand, Store, Staff, Customer, Product, AuditEntry))


def test_the_events_step_provides_events_before_the_segments_and_the_tasks() -> None:
    steps = generator.steps()
    names = [s.name for s in steps]
    assert "events" in steps[names.index("events")].provides
    # the segments read the events; the tasks follow up a segment's customers
    assert names.index("events") < names.index("segments") < names.index("tasks") == len(names) - 1
    generator.validate(Config(members=10, events=10))  # accepted now that the lake has its step


def test_bad_flags_are_refused_before_anything_is_written() -> None:
    before = _rows()
    with pytest.raises(DemoError, match="--members"):
        generator.run(Config(members=0))
    with pytest.raises(DemoError, match="--seed"):
        generator.run(Config(seed=-1))
    assert _rows() == before


# --- Streaming and identifiers ------------------------------------------------------------------
def test_customers_are_generated_lazily() -> None:
    """Asking for five million rows builds none up front: the first ones arrive at once."""
    from siyu.demo.seed_customers import Outlet

    outlets = [Outlet(store_id=1, weight=1, opened_at=None, guide_ids=(7,))]
    rows = customer_rows(42, 5_000_000, generator.history_end(AS_OF), outlets, [9900])
    first = list(itertools.islice(rows, 5))
    assert len(first) == 5 and all(r.store_id == 1 and r.guide_id == 7 for r in first)


def test_phone_numbers_never_repeat_and_avoid_the_personas() -> None:
    numbering = PhoneNumbering(42)
    phones = [numbering(i) for i in range(200_000)]
    assert len(set(phones)) == len(phones)
    assert all(len(p) == 11 and p[:3] not in {"138", "139", "177"} for p in phones)
    assert numbering(123_456) == PhoneNumbering(42)(123_456) != PhoneNumbering(7)(123_456)


def test_identifiers_follow_their_standards() -> None:
    assert valid_credit_code("91440300708461136T")  # a real company's code
    assert not valid_credit_code("91440300708461136A")
    assert organisation_code("70846113") == "708461136"
    assert ean13("690123456789") == "6901234567892"


# --- Customer assets (step customer_assets) ----------------------------------------------------------
def test_every_store_and_active_guide_has_a_code_and_there_are_campaign_codes(seeded: Seeded) -> None:
    from siyu.members.models import Code

    codes = Code.objects.filter(brand_id=seeded.brand_id)
    open_stores = set(Store.objects.filter(brand_id=seeded.brand_id, status="open").values_list("pk", flat=True))
    assert set(codes.filter(kind="store").values_list("store_id", flat=True)) == open_stores
    guides = Staff.objects.filter(brand_id=seeded.brand_id, role="guide")
    coded = set(codes.filter(kind="guide").values_list("guide_id", flat=True))
    assert set(guides.filter(employment="active").values_list("pk", flat=True)) <= coded
    assert codes.filter(kind="campaign").count() == 3


def test_customers_have_touches_and_codes_count_their_scans(seeded: Seeded) -> None:
    """The demo's history of touches: the one that brought each customer at her joining (by her
    source), later code scans, share visits and visits at the till; every code's scan count is its
    touches; product codes (one per item) and share links were scanned too."""
    from django.db.models import Count, Min

    from siyu.members.models import Code, Touch

    customers = Customer.objects.filter(brand_id=seeded.brand_id)
    touches = Touch.objects.filter(brand_id=seeded.brand_id)
    firsts = dict(touches.values("customer_id").annotate(at=Min("at")).values_list("customer_id", "at"))
    assert len(firsts) == customers.count()
    assert all(firsts[pk] == joined for pk, joined in customers.values_list("pk", "joined_at"))
    kinds = Counter(touches.values_list("kind", flat=True))
    assert {"scan", "share_visit", "pos", "wecom_add"} <= set(kinds) and sum(kinds.values()) > 2 * MEMBERS
    codes = Code.objects.filter(brand_id=seeded.brand_id)
    counted = dict(touches.exclude(code=None).values("code_id").annotate(n=Count("pk")).values_list("code_id", "n"))
    assert all(scans == counted.get(pk, 0) for pk, scans in codes.values_list("pk", "scans"))
    for kind in ("store", "guide", "campaign", "product", "share"):
        assert sum(codes.filter(kind=kind).values_list("scans", flat=True)) > 0, kind
    assert codes.filter(kind="product").values("sku_code").distinct().count() > 1
    scanned_in = customers.filter(source="store_code").exclude(first_code=None).select_related("first_code")
    assert scanned_in.exists() and all(c.first_code.kind == "store" for c in scanned_in)
    persona = customers.get(phone_hash=privacy.lookup_hash(P.CUSTOMER_PHONE))
    assert touches.filter(customer=persona).exists()


def test_every_customer_has_a_verified_phone_identity_and_many_have_more(seeded: Seeded) -> None:
    from siyu.members.models import Identity

    ids = Identity.objects.filter(brand_id=seeded.brand_id)
    customers = Customer.objects.filter(brand_id=seeded.brand_id)
    phones = ids.filter(kind="phone", verified=True)
    assert phones.count() == MEMBERS
    assert set(phones.values_list("key", flat=True)) == set(customers.values_list("phone_hash", flat=True))
    assert ids.filter(kind="unionid").count() > MEMBERS / 2
    assert ids.filter(kind="openid", app_id="wx-feiyue-mall").count() > MEMBERS / 4
    assert 0 < ids.filter(kind="pos_card").count() < MEMBERS / 2


def test_bindings_follow_the_source_with_the_code_scanned(seeded: Seeded) -> None:
    from siyu.members.models import Binding

    first = Binding.objects.filter(brand_id=seeded.brand_id).exclude(source__in=["transfer", "inheritance", "merge"])
    assert first.count() == MEMBERS
    sources = Counter(first.values_list("source", flat=True))
    assert {"store_code", "guide_code", "wecom", "first_purchase"} <= set(sources)
    for b in first.filter(source="guide_code").select_related("code"):
        assert b.code is not None and b.code.guide_id == b.guide_id


def test_tags_tiers_and_lifecycle(seeded: Seeded) -> None:
    from siyu.members.models import CustomerTag, TierLevel

    assert list(TierLevel.objects.filter(brand_id=seeded.brand_id).values_list("code", flat=True)) == [
        "regular",
        "silver",
        "gold",
        "platinum",
    ]
    tagged = CustomerTag.objects.filter(brand_id=seeded.brand_id)
    assert tagged.values("customer_id").distinct().count() > MEMBERS / 2
    high = set(tagged.filter(tag__name="高价值").values_list("customer_id", flat=True))
    assert high == set(
        Customer.objects.filter(brand_id=seeded.brand_id, total_spent_fen__gte=500_000).values_list("pk", flat=True)
    )


def test_merges_and_transfers_to_look_at(seeded: Seeded) -> None:
    from siyu.members.models import Merge, Transfer

    assert Merge.objects.filter(brand_id=seeded.brand_id, undone_at__isnull=True).count() >= 3
    statuses = Counter(Transfer.objects.filter(brand_id=seeded.brand_id).values_list("kind", "status"))
    assert statuses[("in_service", "done")] > 0 and statuses[("in_service", "refused")] == 1
    assert statuses[("in_service", "waiting")] > 0
    assert sum(n for (kind, _status), n in statuses.items() if kind == "inheritance") > 0
    leaver = Staff.objects.get(pk=Transfer.objects.filter(kind="inheritance").values("from_guide_id")[:1])
    assert leaver.employment == "left"
    assert not Customer.objects.filter(guide_id=leaver.pk, merged_into__isnull=True).exists()


# --- Incentives (step incentives) ----------------------------------------------------------------
def test_incentives_coins_mall_boards_and_benchmarks_to_look_at(seeded: Any) -> None:
    from siyu.incentives import benchmarks
    from siyu.incentives import services as incentives
    from siyu.org import services as org

    b = seeded.brand_id
    assert incentives.check_ledger(b) == [] and incentives.check_gift_ledger(b) == []
    guide = org.staff_id_by_login(b, P.GUIDE_A.username)
    assert guide is not None and incentives.balance(b, guide) > 0 and incentives.history(b, guide)
    states = {r.status for r in incentives.my_redemptions(b, guide)}
    assert states == {"pending", "approved", "shipped", "received", "rejected"}
    assert len(incentives.gifts(b)) >= 5 and len(benchmarks.rules(b)) == 3
    assert any(e.notes and not e.video_url for e in benchmarks.wall(b))


def test_a_dozen_segments_are_defined_materialised_weekly_and_some_shared_with_guides(seeded: Seeded) -> None:
    from siyu.demo import seed_segments
    from siyu.segments import services as segments
    from siyu.segments.models import SegmentRun

    hq = org.hq_scope(seeded.brand_id)
    made = {s.name: s for s in segments.segments(hq)}
    assert len(made) >= 12 and seeded.summary.facts["segments"] == len(made)
    assert sum(s.shared_with_guides for s in made.values()) >= 4
    for seg in made.values():
        runs = segments.history(hq, seg.pk)
        assert len(runs) == seed_segments.WEEKS + 1 and seg.materialised_at == runs[-1].at
        assert seg.size == runs[-1].size == len(segments.members_of(seeded.brand_id, seg.pk))
        assert seg.created_at < runs[0].at
    # the segments on customer facts count real customers whether or not the lake has events
    for name in ("高价值流失预警", "30 天内生日", "华东金卡及以上", "旗舰店跑者", "对照组 10%", "会员日到店名单"):
        assert made[name].size > 0, name
    assert made["对照组 10%"].size == pytest.approx(MEMBERS / 10, rel=0.3)
    assert made["会员日到店名单"].size == seed_segments.list_size(members.visible_customers(hq).count())
    vip, control, both = made["华东金卡及以上"], made["对照组 10%"], made["华东金卡（去掉对照组）"]
    overlap = segments.overlap(hq, vip.pk, control.pk)
    assert both.size == overlap.a - overlap.both
    # birthdays move with the clock: the weekly runs let customers in and out
    assert SegmentRun.objects.filter(segment=made["30 天内生日"], left__gt=0).exists()


def test_the_segments_step_stays_last_whatever_registers_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    generator.steps()  # the built-in registrations first
    monkeypatch.setattr(generator, "_extra", list(generator._extra))
    generator.register(generator.Step("probe", "Probe", run=lambda ctx: None, provides=frozenset({"events"})))
    generator.register(generator.Step("probe2", "Probe 2", run=lambda ctx: None), after="customers")
    names = [s.name for s in generator.steps()]
    assert names[-4:] == ["events", "probe", "segments", "tasks"]
    assert names.index("probe2") == names.index("customers") + 1


# --- PK contests, the feed, learning (helper-contests) -------------------------------------------------
def test_the_demo_has_live_and_settled_contests_a_feed_and_a_knowledge_base(seeded: Seeded) -> None:
    from siyu.contests import services as contests
    from siyu.contests.models import ContestResult, ContestReward, ContestScore, FeedLike, FeedPost
    from siyu.learning import services as learning

    hq = org.hq_scope(seeded.brand_id)
    by_name = {c.name: c for c in contests.contests(hq)}
    team, sales, past = by_name["三大分公司转发 PK"], by_name["双十二业绩个人 PK"], by_name["国庆转发 PK"]
    assert (team.state, sales.state, past.state) == ("running", "running", "settled")
    assert team.teams.count() == 3 and ContestScore.objects.filter(contest=team).exists()
    assert ContestScore.objects.filter(contest=sales).exists()  # from the demo's paid orders
    assert ContestResult.objects.filter(contest=past, subject="g").exists()
    assert ContestReward.objects.filter(brand_id=seeded.brand_id).exists()  # some coins paid
    assert FeedPost.objects.filter(brand_id=seeded.brand_id).count() == 12
    assert FeedLike.objects.filter(brand_id=seeded.brand_id).exists()
    assert learning.counts(seeded.brand_id)["articles"] >= 30
    contest_quiz = next(q for q in learning.quizzes(hq) if q.is_contest)
    ranking = learning.ranking(hq, contest_quiz.pk)
    assert ranking.guides and ranking.stores and len(ranking.regions) >= 2
