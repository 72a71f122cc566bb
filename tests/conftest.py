"""Shared fixtures: a small world built from the demo brand's personas through the services.

``world`` holds two regions of the demo brand (East with the flagship store SH001 and two more
stores, South with one), the six staff personas, a few customers per guide, and a second brand
("rival") with its own store, guide and customer that nobody of the demo brand may ever see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Every test starts with an empty cache: the mall keeps pieces of pages (keyed by store code) for
    30 s, and a store of an earlier test's database must not answer for this test's store."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _own_event_lake(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test's event lake (WAL and Parquet, ADR 0011) is a directory of its own, never ./var/lake:
    server-side events of orders and members land there once a transaction commits."""
    monkeypatch.setenv("SIYU_LAKE", str(tmp_path_factory.mktemp("lake")))
    yield
    from siyu.events import services as events

    events.close_writers()
    events.forget_caches()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    """PBKDF2 at production strength costs ~0.3 s a password; tests do not need that."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _segments_fresh_inline(settings: Any) -> None:
    """Event-triggered segment updates (ADR 0016) run on the ingesting thread in tests, where the
    test's database transaction is visible, not on the freshener thread."""
    settings.SIYU_SEGMENTS_FRESH = "inline"


@dataclass
class World:
    brand: Any
    rival_brand: Any
    east: Any
    south: Any
    flagship: Any  # SH001, East
    sh2: Any  # SH002, East
    hz1: Any  # HZ001, East
    gz1: Any  # GZ001, South
    rival_store: Any
    direct: Any  # the brand's own company (franchisee of kind "direct")
    franchisee: Any
    staff: dict[str, Any] = field(default_factory=dict)  # persona key -> Staff
    other_guide: Any = None  # a guide of SH002
    south_guide: Any = None  # a guide of GZ001
    rival_guide: Any = None
    customers: dict[str, list[int]] = field(default_factory=dict)  # guide username -> customer ids

    def login(self, client: Any, key: str) -> Any:
        client.force_login(self.staff[key])
        return client


def _build_world() -> World:
    from siyu.demo import personas as P
    from siyu.members import services as members
    from siyu.org import services as org
    from siyu.org.models import Brand
    from siyu.org.rules import Role

    brand = Brand.objects.create(code=P.BRAND_CODE, name=P.BRAND_NAME)
    rival_brand = Brand.objects.create(code="rival", name="Rival Sports")
    hq = org.hq_scope(brand.pk, "test setup")
    rq = org.hq_scope(rival_brand.pk, "test setup")

    east = org.create_region(hq, code=P.EAST_REGION_CODE, name="华东分公司")
    south = org.create_region(hq, code="SOUTH", name="华南分公司")
    direct = org.create_franchisee(hq, code="DIRECT", name="飞跃运动（上海）有限公司", kind="direct")
    franchisee = org.create_franchisee(hq, code="F-HZ", name="杭州跑者商贸有限公司", kind="franchisee")

    def store(scope: Any, code: str, name: str, city: str, region: Any, owner: Any, lat: str, lng: str) -> Any:
        return org.create_store(
            scope,
            code=code,
            name=name,
            city=city,
            address=f"{city} {name}",
            latitude=lat,
            longitude=lng,
            region=region,
            franchisee=owner,
            opening_hours="10:00-22:00",
        )

    flagship = store(hq, P.FLAGSHIP_STORE_CODE, "南京西路旗舰店", "上海", east, direct, "31.229800", "121.459500")
    sh2 = store(hq, "SH002", "五角场店", "上海", east, direct, "31.299400", "121.514600")
    hz1 = store(hq, "HZ001", "湖滨银泰店", "杭州", east, franchisee, "30.257900", "120.163600")
    gz1 = store(hq, "GZ001", "天河城店", "广州", south, direct, "23.132400", "113.322700")

    rival_region = org.create_region(rq, code="R1", name="Rival region")
    rival_owner = org.create_franchisee(rq, code="R-DIRECT", name="Rival Co.", kind="direct")
    rival_store = store(rq, "R001", "Rival store", "上海", rival_region, rival_owner, "31.230000", "121.470000")

    staff: dict[str, Any] = {}
    placement = {
        Role.HQ_ADMIN: {},
        Role.HQ_OPERATOR: {},
        Role.REGION_MANAGER: {"region": east},
        Role.STORE_MANAGER: {"store": flagship},
        Role.GUIDE: {"store": flagship},
    }
    for persona in P.STAFF_PERSONAS:
        staff[persona.key] = org.create_staff(
            hq,
            username=persona.username,
            phone=persona.phone,
            name=persona.name,
            role=persona.role,
            password=P.DEMO_PASSWORD,
            **placement[Role(persona.role)],
        )
    other_guide = org.create_staff(hq, username="sun.guide", name="孙丽", role="guide", store=sh2, password="x" * 8)
    south_guide = org.create_staff(hq, username="he.guide", name="何敏", role="guide", store=gz1, password="x" * 8)
    rival_guide = org.create_staff(
        rq, username="rival.guide", name="Rival Guide", role="guide", store=rival_store, password="x" * 8
    )

    joined = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
    customers: dict[str, list[int]] = {}
    n = 0
    for guide, st, b in [
        (staff["guide_a"], flagship, brand),
        (staff["guide_b"], flagship, brand),
        (other_guide, sh2, brand),
        (south_guide, gz1, brand),
        (rival_guide, rival_store, rival_brand),
    ]:
        rows = []
        for i in range(3):
            n += 1
            phone = P.CUSTOMER_PHONE if (guide is staff["guide_a"] and i == 0) else f"137{n:08d}"
            name = P.CUSTOMER_NAME if phone == P.CUSTOMER_PHONE else f"顾客{n}"
            rows.append(
                members.NewCustomer(
                    phone=phone, name=name, store_id=st.pk, guide_id=guide.pk, joined_at=joined + dt.timedelta(days=n)
                )
            )
        list(members.bulk_add_customers(b.pk, rows))
        customers[guide.username] = list(
            members.visible_customers(org.hq_scope(b.pk)).filter(guide_id=guide.pk).values_list("pk", flat=True)
        )
    return World(
        brand=brand,
        rival_brand=rival_brand,
        east=east,
        south=south,
        flagship=flagship,
        sh2=sh2,
        hz1=hz1,
        gz1=gz1,
        rival_store=rival_store,
        direct=direct,
        franchisee=franchisee,
        staff=staff,
        other_guide=other_guide,
        south_guide=south_guide,
        rival_guide=rival_guide,
        customers=customers,
    )


@pytest.fixture
def world(db: Any) -> World:
    return _build_world()


@pytest.fixture
def scope_of():  # type: ignore[no-untyped-def]
    """The scope of a persona: ``scope_of(world.staff['guide_a'])``."""

    def get(staff: Any) -> Any:
        from siyu.org.models import Staff

        return Staff.objects.select_related("store").get(pk=staff.pk).scope

    return get


# --- Tests that need a service: marked browser, postgres or redis ------------------------------
# Without the service such a test is skipped with the reason; with CI set it fails instead, so CI
# never passes by silently skipping (.ci/run). Added by helper-ci; see tests/test_jobs.py.
def service_url(kind: str) -> str:
    """Where the ``postgres`` / ``redis`` tests find their server."""
    import os

    if kind == "postgres":
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
        return os.environ.get("SIYU_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/siyu")
    return os.environ.get("REDIS_URL") or os.environ.get("SIYU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _missing_service(kind: str) -> str | None:
    import os
    import socket
    from urllib.parse import urlsplit

    if kind == "browser":
        chromium = os.environ.get("SIYU_CHROMIUM", "/usr/bin/chromium")
        if not os.access(chromium, os.X_OK):
            return f"Chromium is not installed at {chromium} (Debian: apt-get install chromium)"
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "Playwright for Python is not installed (pip install -e '.[dev]')"
        return None
    url = urlsplit(service_url(kind))
    address = (url.hostname or "127.0.0.1", url.port or (5432 if kind == "postgres" else 6379))
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as exc:
        return f"{kind} is not reachable at {address[0]}:{address[1]} ({exc})"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    import os

    for kind in ("browser", "postgres", "redis"):
        if item.get_closest_marker(kind) is None:
            continue
        reason = _missing_service(kind)
        if reason is None:
            continue
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI needs this {kind} test to run, but {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> str:
    return service_url("postgres")


@pytest.fixture
def redis_url() -> str:
    return service_url("redis")
