"""``import-members`` and ``member-search``: importing a brand's members from an old CRM's CSV, and
searching the customer list at that scale.

Both start from the demo brand's stores and guides (the generator's ``org`` step) and a deterministic
CSV written into a temporary directory (not timed), imported through
:func:`siyu.members.importer.import_members` — the same code path as ``siyu import members``.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from siyu.bench.measure import PeakRss
from siyu.bench.registry import Figures, workload

if TYPE_CHECKING:
    from siyu.members.services import CustomerRow
    from siyu.platform.tenancy import Scope

HEADER = [
    "phone", "name", "gender", "birthday", "store_code", "guide", "tier", "tags",
    "joined_at", "unionid", "pos_card", "consent_sms", "consent_wecom",
]  # fmt: skip
TAGS = {"兴趣": ["跑步", "篮球", "户外", "健身", "瑜伽"], "价值": ["高价值", "价格敏感"]}


@dataclass(frozen=True)
class Brand:
    brand_id: int
    stores: list[tuple[str, list[str]]]  # store code, usernames of its active guides
    tag_ids: list[int]


def demo_brand() -> Brand:
    """The demo brand's organisation (stores and guides) and a few tag groups."""
    from siyu.demo import generator
    from siyu.members import profile
    from siyu.org import services as org

    summary = generator.run(generator.Config(members=1), only={"org"})
    scope = org.hq_scope(summary.brand_id, "bench")
    tag_ids = []
    for group_name, names in TAGS.items():
        group = profile.create_tag_group(scope, name=group_name)
        tag_ids += [profile.create_tag(scope, group=group, name=name).pk for name in names]
    guides: dict[int, list[str]] = {}
    for login, info in org.guides_by_login(summary.brand_id).items():
        if info.active and info.store_id is not None and not login.isdigit():
            guides.setdefault(info.store_id, []).append(login)
    stores = [(s.code, sorted(guides.get(s.id, []))) for s in org.stores(summary.brand_id, open_only=True)]
    return Brand(summary.brand_id, [s for s in stores if s[1]], tag_ids)


def write_members_csv(path: Path, size: int, brand: Brand, seed: int = 7) -> None:
    """``size`` members as an old CRM would export them: every phone unique, 40% with a unionid, 20%
    with a POS card, 30% tagged, most bound to a guide of their store."""
    from siyu.demo.codes import PhoneNumbering
    from siyu.demo.people import chinese_name

    rng = random.Random(f"{seed}:import")
    phone_of = PhoneNumbering(seed)
    tag_names = [f"{g}:{t}" for g, names in TAGS.items() for t in names]
    start = dt.datetime(2019, 1, 1, 9, 0)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(size):
            code, guides = brand.stores[rng.randrange(len(brand.stores))]
            gender = "男" if rng.random() < 0.55 else "女"
            r = rng.random()
            out.writerow(
                [
                    phone_of(i),
                    chinese_name(rng, "m" if gender == "男" else "f"),
                    gender,
                    f"{rng.randint(1965, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if r < 0.7 else "",
                    code,
                    guides[rng.randrange(len(guides))] if r < 0.9 else "",
                    ("regular", "regular", "regular", "silver", "gold")[rng.randrange(5)],
                    ";".join(rng.sample(tag_names, rng.randint(1, 2))) if rng.random() < 0.3 else "",
                    (start + dt.timedelta(minutes=rng.randrange(3_000_000))).strftime("%Y-%m-%d %H:%M"),
                    f"oU{i:012d}x{rng.randrange(16**8):08x}" if rng.random() < 0.4 else "",
                    f"POS{i:09d}" if rng.random() < 0.2 else "",
                    ("yes", "no", "")[rng.randrange(3)],
                    ("yes", "")[rng.randrange(2)],
                ]
            )


def _import(brand: Brand, path: Path) -> Figures:
    from siyu.members import importer
    from siyu.org import services as org

    scope = org.hq_scope(brand.brand_id, "bench")
    with PeakRss() as run:
        report = importer.import_members(scope, path, dry_run=False)
    if report.rows_bad or report.rows_added != report.rows_total:
        raise RuntimeError(f"the benchmark file did not import cleanly: {report}")
    return run.throughput(report.rows_added)


@workload(
    "import-members",
    "Import N members from a CSV (check pass, then batched inserts of customers, identities, bindings, "
    "tags and consents) into a brand with its stores and guides; seconds, rows_per_s, peak_rss_mb.",
    small=50_000,
    full=1_000_000,
)
def import_members(size: int) -> Figures:
    brand = demo_brand()
    with tempfile.TemporaryDirectory(prefix="siyu-import-") as tmp:
        path = Path(tmp) / "members.csv"
        write_members_csv(path, size, brand)
        return _import(brand, path)


def first_page(
    scope: Scope, *, phone: str | None = None, store_id: int | None = None, tag_id: int | None = None
) -> list[CustomerRow]:
    """The first page (50) of the HQ customer list, as the page reads it: the scoped query of
    :func:`siyu.members.services.visible_customers`, the tag filter, newest first, masked rows."""
    from siyu.members import profile, services

    qs = services.visible_customers(scope)
    qs = profile.filter_customers(qs, {"phone": phone, "store": store_id, "tag": tag_id})
    return [services.to_row(scope, c) for c in qs.order_by("-joined_at", "-id")[:50]]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@workload(
    "member-search",
    "HQ customer list at N customers (seeded by the importer): search by phone, and filter by tag + "
    "store, first page of 50 through members.services; p95_ms, p50_ms, queries per request.",
    small=50_000,
    full=1_000_000,
)
def member_search(size: int) -> Figures:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from siyu.demo.codes import PhoneNumbering
    from siyu.org import services as org

    brand = demo_brand()
    with tempfile.TemporaryDirectory(prefix="siyu-search-") as tmp:
        path = Path(tmp) / "members.csv"
        write_members_csv(path, size, brand)
        _import(brand, path)
    scope = org.hq_scope(brand.brand_id, "bench")
    stores = {s.code: s.id for s in org.stores(brand.brand_id)}
    tag_ids = brand.tag_ids
    rng = random.Random("search")
    phone_of = PhoneNumbering(7)
    timings: list[float] = []
    queries: list[int] = []
    found = 0
    for i in range(400):
        if i % 2 == 0:
            kwargs: dict[str, object] = {"phone": phone_of(rng.randrange(size))}
        else:
            code = brand.stores[rng.randrange(len(brand.stores))][0]
            kwargs = {"store_id": stores[code], "tag_id": rng.choice(tag_ids)}
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            rows = first_page(scope, **kwargs)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured.captured_queries))
        found += len(rows) > 0
    return {
        "rows": size,
        "requests_count": len(timings),
        "found_count": found,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
        "queries_count": max(queries),
    }
