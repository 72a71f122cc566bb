"""Step ``org``: the demo brand's branch companies, franchisees, stores and staff.

:func:`plan_org` decides everything from the seed without touching the database (so it can be
tested and compared); :func:`write_org` writes the plan through :mod:`siyu.org.services` with the
brand's HQ scope, with the platform clock set to when each thing happened, so joining dates,
posting history (moves between stores) and the audit log tell a believable past.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import hashers
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo import personas as P
from siyu.demo.codes import STAFF_PREFIX, PhoneNumbering, credit_code
from siyu.demo.generator import LOCAL, Context, Step, Summary
from siyu.demo.people import chinese_name
from siyu.demo.places import CITIES, CITY_BY_CODE, FRANCHISEES, REGIONS, SITES
from siyu.platform import clock

GUIDES_PER_STORE = (4, 5, 5, 5, 6)  # drawn per store: about five
MOVED_GUIDES = 14  # guides who worked in another store of the city before
LEFT_GUIDES = 10  # guides who have left the brand
HQ_OPERATORS = 3  # besides the persona


@dataclass(frozen=True)
class FranchiseePlan:
    code: str
    name: str
    kind: str
    credit_code: str
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class StorePlan:
    code: str
    name: str
    city: str
    district: str
    address: str
    latitude: Decimal
    longitude: Decimal
    opening_hours: str
    phone: str
    opened_on: dt.date
    region: str
    franchisee: str
    weight: int  # relative footfall (customers)


@dataclass(frozen=True)
class StaffPlan:
    username: str
    name: str
    role: str
    phone: str
    joined_at: dt.datetime
    store: str | None = None  # where she is now (store code)
    region: str | None = None  # region code (region managers)
    first_store: str | None = None  # where she started, if she moved
    moved_at: dt.datetime | None = None
    left_at: dt.datetime | None = None


@dataclass(frozen=True)
class OrgPlan:
    franchisees: tuple[FranchiseePlan, ...]
    stores: tuple[StorePlan, ...]
    staff: tuple[StaffPlan, ...]


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    """A moment of a working morning of ``day``, local time."""
    return dt.datetime.combine(day, dt.time(9, rng.randrange(60), rng.randrange(60)), tzinfo=LOCAL)


def _day_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return start
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def plan_org(seed: int, as_of: dt.datetime) -> OrgPlan:
    """The whole organisation, decided from ``seed``; the history ends at ``as_of``."""
    rng = random.Random(f"{seed}:org")
    today = as_of.date()
    franchisees = tuple(
        FranchiseePlan(f.code, f.name, f.kind, credit_code(f.division, rng), f.contact_name, f.contact_phone)
        for f in FRANCHISEES
    )

    stores: list[StorePlan] = []
    counters: dict[str, int] = {}
    for site in SITES:
        city = CITY_BY_CODE[site.city]
        counters[city.code] = n = counters.get(city.code, 0) + 1
        if n == 1:  # the city's first store
            opened = _day_between(rng, dt.date(2015, 3, 1), dt.date(2019, 12, 31))
        else:
            opened = _day_between(rng, dt.date(2016, 1, 1), today - dt.timedelta(days=120))
        # Somewhere in the street or mall: within about 35 m of its centre.
        lat = Decimal(str(round(site.lat + rng.uniform(-0.0003, 0.0003), 6)))
        lng = Decimal(str(round(site.lng + rng.uniform(-0.0003, 0.0003), 6)))
        stores.append(
            StorePlan(
                code=f"{city.code}{n:03d}",
                name=site.name,
                city=city.name,
                district=site.district,
                address=f"{city.name}市{site.district}{site.address}",
                latitude=lat,
                longitude=lng,
                opening_hours=site.hours,
                phone=f"{city.area_code}-{rng.randrange(2, 9)}{rng.randrange(10**7):07d}",
                opened_on=opened,
                region=city.region,
                franchisee=site.owner,
                weight=site.weight,
            )
        )
    stores.sort(key=lambda s: s.code)
    # The flagship opened first.
    stores = [replace(s, opened_on=dt.date(2015, 5, 1)) if s.code == P.FLAGSHIP_STORE_CODE else s for s in stores]

    staff = _plan_staff(rng, seed, stores, today)
    return OrgPlan(franchisees=franchisees, stores=tuple(stores), staff=tuple(staff))


def _plan_staff(rng: random.Random, seed: int, stores: list[StorePlan], today: dt.date) -> list[StaffPlan]:
    phones = PhoneNumbering(seed, prefixes=(STAFF_PREFIX,))
    staff: list[StaffPlan] = []
    number = 0

    def employee_number() -> str:
        nonlocal number
        number += 1
        return f"fy{number:05d}"

    def person(role: str, joined: dt.date, **where: Any) -> StaffPlan:
        gender = "f" if rng.random() < (0.7 if role == "guide" else 0.5) else "m"
        return StaffPlan(
            username=employee_number(),
            name=chinese_name(rng, gender),
            role=role,
            phone=phones(len(staff)),
            joined_at=_at(joined, rng),
            **where,
        )

    def persona(p: P.Persona, joined: dt.date, **where: Any) -> StaffPlan:
        return StaffPlan(
            username=p.username, name=p.name, role=p.role, phone=p.phone, joined_at=_at(joined, rng), **where
        )

    staff.append(persona(P.HQ_ADMIN, dt.date(2015, 1, 5)))
    staff.append(persona(P.HQ_OPERATOR, dt.date(2019, 3, 18)))
    for _i in range(HQ_OPERATORS):
        staff.append(person("hq_operator", _day_between(rng, dt.date(2016, 1, 1), today - dt.timedelta(days=200))))
    for region in REGIONS:
        joined = _day_between(rng, dt.date(2015, 6, 1), dt.date(2021, 12, 31))
        if region.code == P.EAST_REGION_CODE:
            staff.append(persona(P.REGION_MANAGER, joined, region=region.code))
        else:
            staff.append(person("region_manager", joined, region=region.code))

    latest = today - dt.timedelta(days=14)
    guides_now: list[int] = []  # indexes into staff of generated guides (candidates to have moved)
    for store in stores:
        manager_joined = min(
            _day_between(rng, store.opened_on - dt.timedelta(days=45), store.opened_on + dt.timedelta(days=400)),
            latest,
        )
        if store.code == P.FLAGSHIP_STORE_CODE:
            staff.append(persona(P.STORE_MANAGER, manager_joined, store=store.code))
        else:
            staff.append(person("store_manager", manager_joined, store=store.code))
        count = rng.choice(GUIDES_PER_STORE)
        if store.code == P.FLAGSHIP_STORE_CODE:
            count = max(count, 5)
            for p in (P.GUIDE_A, P.GUIDE_B):
                staff.append(persona(p, _guide_joined(rng, store, today), store=store.code))
            count -= 2
        for _i in range(count):
            guides_now.append(len(staff))
            staff.append(person("guide", _guide_joined(rng, store, today), store=store.code))

    # Some guides worked in another store of the same city before: they joined there and moved.
    by_city: dict[str, list[str]] = {}
    for store in stores:
        by_city.setdefault(store.city, []).append(store.code)
    candidates = [i for i in guides_now if (today - staff[i].joined_at.date()).days > 150]
    for i in sorted(rng.sample(candidates, min(MOVED_GUIDES, len(candidates)))):
        guide = staff[i]
        assert guide.store is not None
        city = next(s.city for s in stores if s.code == guide.store)
        others = [c for c in by_city[city] if c != guide.store]
        first = rng.choice(others)
        first_opened = next(s.opened_on for s in stores if s.code == first)
        joined = max(guide.joined_at.date(), first_opened)
        moved = _day_between(rng, joined + dt.timedelta(days=60), latest)
        staff[i] = replace(guide, first_store=first, moved_at=_at(moved, rng), joined_at=_at(joined, rng))

    # And some left the brand (their customers were handed over; the customers issue does that).
    for _i in range(LEFT_GUIDES):
        store = rng.choice(stores)
        joined = max(store.opened_on, today - dt.timedelta(days=rng.randrange(200, 1100)))
        left = _day_between(rng, joined + dt.timedelta(days=90), today - dt.timedelta(days=7))
        plan = person("guide", joined, store=store.code)
        staff.append(replace(plan, left_at=_at(left, rng)))
    return staff


def _guide_joined(rng: random.Random, store: StorePlan, today: dt.date) -> dt.date:
    start = max(store.opened_on - dt.timedelta(days=14), today - dt.timedelta(days=4 * 365))
    return _day_between(rng, start, today - dt.timedelta(days=21))


# --- Writing ---------------------------------------------------------------------------------
class _PrecomputedHasher(hashers.BasePasswordHasher):
    """Hands out one hash computed in advance (see :func:`one_password_hash`)."""

    algorithm = "siyu-demo-precomputed"
    encoded = ""
    password = ""

    def salt(self) -> str:
        return ""

    def encode(self, password: str, salt: str) -> str:
        if password != self.password or not self.encoded:
            raise ValueError("the demo hashes only the demo password")
        return self.encoded


@contextmanager
def one_password_hash(password: str) -> Iterator[str]:
    """Hash ``password`` once with the configured hasher (PBKDF2 costs ~0.3 s), then, inside the
    block, let every ``set_password(password)`` receive that same encoded hash: the staff are still
    created through :func:`siyu.org.services.create_staff`, which hashes as always."""
    encoded = hashers.make_password(password)
    previous = settings.PASSWORD_HASHERS
    _PrecomputedHasher.encoded, _PrecomputedHasher.password = encoded, password
    settings.PASSWORD_HASHERS = [f"{__name__}._PrecomputedHasher", *previous]
    _clear_hasher_caches()
    try:
        yield encoded
    finally:
        settings.PASSWORD_HASHERS = previous
        _PrecomputedHasher.encoded = _PrecomputedHasher.password = ""
        _clear_hasher_caches()


def _clear_hasher_caches() -> None:
    """Django caches the configured hashers; forget them after changing the setting."""
    for cached in (hashers.get_hashers, hashers.get_hashers_by_algorithm):
        cast(Any, cached).cache_clear()


def ensure_brand() -> int:
    """The demo brand's id, creating the brand (the tenant) if it does not exist yet."""
    from siyu.org import services as org

    brand_id = org.brand_by_code(P.BRAND_CODE)
    if brand_id is None:
        brand_id = org.create_brand(code=P.BRAND_CODE, name=P.BRAND_NAME)
    return brand_id


def org_exists(ctx: Context) -> bool:
    from siyu.org import services as org

    return bool(org.stores(ctx.brand_id))


@transaction.atomic
def write_org(ctx: Context) -> None:
    from siyu.org import services as org

    plan = plan_org(ctx.config.seed, ctx.as_of)
    scope = ctx.scope
    reporter = ctx.reporter
    reporter.begin(_("Organisation"), total=len(plan.stores) + len(plan.staff))
    first_day = min(s.opened_on for s in plan.stores) - dt.timedelta(days=60)
    rng = random.Random(f"{ctx.config.seed}:org-times")

    regions: dict[str, int] = {}
    franchisees: dict[str, int] = {}
    with clock.frozen(_at(first_day, rng)):
        for r in REGIONS:
            regions[r.code] = org.create_region(scope, code=r.code, name=r.name).pk
        for f in plan.franchisees:
            franchisees[f.code] = org.create_franchisee(
                scope,
                code=f.code,
                name=f.name,
                kind=f.kind,
                credit_code=f.credit_code,
                contact_name=f.contact_name,
                contact_phone=f.contact_phone,
            ).pk
    store_ids: dict[str, int] = {}
    for s in plan.stores:
        with clock.frozen(_at(s.opened_on - dt.timedelta(days=30), rng)):
            store = org.create_store(
                scope,
                code=s.code,
                name=s.name,
                city=s.city,
                district=s.district,
                address=s.address,
                latitude=s.latitude,
                longitude=s.longitude,
                opening_hours=s.opening_hours,
                phone=s.phone,
                opened_on=s.opened_on,
                region=regions[s.region],
                franchisee=franchisees[s.franchisee],
            )
        store_ids[s.code] = store.pk
        reporter.advance()

    with one_password_hash(P.DEMO_PASSWORD):
        for person in plan.staff:
            where: dict[str, Any] = {}
            if person.region:
                where["region"] = regions[person.region]
            first = person.first_store or person.store
            if first:
                where["store"] = store_ids[first]
            with clock.frozen(person.joined_at):
                staff = org.create_staff(
                    scope,
                    username=person.username,
                    phone=person.phone,
                    name=person.name,
                    role=person.role,
                    password=P.DEMO_PASSWORD,
                    **where,
                )
            if person.moved_at and person.store:
                with clock.frozen(person.moved_at):
                    org.move_staff(scope, staff.pk, store=store_ids[person.store])
            if person.left_at:
                with clock.frozen(person.left_at):
                    org.mark_staff_left(scope, staff.pk, left_on=person.left_at.date())
            reporter.advance()
    reporter.end()
    ctx.facts.update(
        regions=len(regions),
        franchisees=len(franchisees),
        stores=len(plan.stores),
        cities=len({s.city for s in plan.stores}),
        staff=len(plan.staff),
    )


def mark_seeded(ctx: Context, summary: Summary) -> None:
    """Record in the audit log that the generator finished for the brand, with its flags."""
    from siyu.platform.models import AuditEntry

    AuditEntry.objects.create(
        brand_id=ctx.brand_id,
        at=clock.now(),
        actor_id=None,
        actor_label="siyu demo",
        action=SEEDED_ACTION,
        object_type="brand",
        object_id=str(ctx.brand_id),
        object_label=P.BRAND_CODE,
        before=None,
        after={
            "seed": ctx.config.seed,
            "members": ctx.config.members,
            "as_of": ctx.as_of.isoformat(),
            "ran": summary.ran,
        },
    )


SEEDED_ACTION = "demo.seed"


def seeded_marker(brand_code: str | None = None) -> dict[str, Any] | None:
    from siyu.org import services as org
    from siyu.platform.models import AuditEntry

    brand_id = org.brand_by_code(brand_code or P.BRAND_CODE)
    if brand_id is None:
        return None
    entry = AuditEntry.objects.filter(brand_id=brand_id, action=SEEDED_ACTION).order_by("-at", "-id").first()
    return dict(entry.after or {}) if entry else None


def city_centres() -> dict[str, tuple[float, float]]:
    return {c.name: c.centre for c in CITIES}


STEP = Step("org", gettext_noop("Organisation"), run=write_org, done=org_exists)
