"""``store-page``: a store's page in the mall under load, over HTTP from a real server process.

Set up (not timed): the demo brand's organisation (its first 60 open stores by code are the pages
requested, with their ~5 guides each), a range of 2,000 SKUs (250 styles in 10 categories, 8 SKUs
each; HQ store prices on some of them), three page templates with banners and featured products
pushed by region, and 20 stores with their own headline, banner and featured product. Then
``siyu serve --workers N --threads 1`` (granian, one process per CPU) on the run's database.

Timed: 50 concurrent keep-alive connections (one asyncio client, aiohttp) request ``size`` store
pages as a stream of visitors without cookies: the store drawn at random, 70% the first page, 15%
a category, 10% the second page, 5% a search. Before the clock starts, every distinct page is
requested once per server worker and a warm-up of 1,000 requests runs at full concurrency, so the
figures are the steady state (a page's pieces are read again every ``storefront.CACHE_SECONDS``).
Every answer must be a 200 with the store's name in it.

Figures: ``p95_ms`` (and ``p50_ms``, ``p99_ms``), ``requests_per_s``, ``requests_count``,
``errors_count``, ``stores_count``, ``skus_count``, ``server_workers_count``, and
``machine_load_pct``: the machine's load average over the timed run per CPU (100 = every core busy;
above it, other processes waited for a core too — the client and the server share the machine),
and ``server_cpu_ms`` / ``client_cpu_ms``: the CPU time a request cost the server's processes and
the client, which do not depend on how busy the machine is (``cores × 1000 / (server + client)``
is the most requests a second the machine could serve with both on it).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from dataclasses import dataclass
from urllib.parse import quote

from siyu.bench.registry import Figures, workload

STORES = 60
CATEGORIES = 10
STYLES_PER_CATEGORY = 25
COLOURS = (("BK", "黑色"), ("WH", "白色"), ("GY", "灰色"), ("RD", "中国红"))
SIZES = ("S", "M")  # 4 colours × 2 sizes = 8 SKUs a style: 2,000 in all
OWN_PAGES = 20
CONNECTIONS = 50
WARM_UP = 1_000
SEARCHES = ("跑鞋", "T恤", "黑色", "轻", "B03")


@dataclass(frozen=True)
class Setup:
    stores: list[tuple[str, str]]  # code, name
    categories: list[str]
    skus: int


def _setup() -> Setup:
    from siyu.catalog import services as catalog
    from siyu.catalog import storefront
    from siyu.demo import generator
    from siyu.org import services as org

    summary = generator.run(generator.Config(members=1), only={"org"})
    hq = org.hq_scope(summary.brand_id, "bench")
    stores = org.stores(summary.brand_id, open_only=True)[:STORES]
    if len(stores) < STORES:
        raise RuntimeError(f"the demo brand has {len(stores)} open stores; the workload needs {STORES}")
    rng = random.Random(11)
    names = ("疾风", "云朵", "竞速", "轻盈", "城市", "山行", "夜跑", "经典", "全能", "街头")
    kinds = ("跑鞋", "篮球鞋", "综训鞋", "T恤", "卫衣", "夹克", "运动裤", "运动袜", "背包", "帽子")
    categories, products, skus = [], [], 0
    for c in range(CATEGORIES):
        code = f"C{c:02d}"
        category = catalog.create_category(hq, code=code, name=kinds[c])
        categories.append(code)
        for n in range(STYLES_PER_CATEGORY):
            style = f"B{c:02d}{n:02d}"
            product = catalog.create_product(
                hq,
                category_id=category.pk,
                code=style,
                name=f"{names[n % len(names)]}{kinds[c]} {n + 1}号",
                price_fen=rng.randrange(59, 1299) * 100,
                role=rng.choice(("regular", "regular", "traffic", "member", "fission")),
                skus=[
                    catalog.NewSku(code=f"{style}-{colour}-{size}", color=colour_name, size=size)
                    for colour, colour_name in COLOURS
                    for size in SIZES
                ],
            )
            products.append(product.pk)
            skus += len(COLOURS) * len(SIZES)
    for product_id in rng.sample(products, 20):  # HQ prices some styles lower in some cities
        catalog.set_store_prices(hq, price_fen=4_900, product_id=product_id, city=rng.choice(stores).city)
    regions = sorted({s.region_id for s in stores})
    for i, name in enumerate(("标准店", "旗舰店", "奥莱店")):
        template = storefront.create_template(hq, name=name)
        owner = storefront.Owner(template_id=template.pk)
        for b in range(3):
            banner = storefront.PlacementIn(kind="banner", title=f"{name} 活动 {b + 1}", subtitle="到店有礼")
            storefront.add_placement(hq, owner, banner)
        for product_id in rng.sample(products, 4):
            storefront.add_placement(hq, owner, storefront.PlacementIn(kind="featured", product_id=product_id))
        selection = storefront.Selection(every=True) if i == 0 else storefront.Selection(region_ids=(regions[i - 1],))
        storefront.push_template(hq, template.pk, selection)
    for store in rng.sample(stores, OWN_PAGES):
        storefront.set_headline(hq, store.id, "本周末跑团集合")
        page = storefront.Owner(store_id=store.id)
        storefront.add_placement(hq, page, storefront.PlacementIn(kind="banner", title=f"{store.name} 店长推荐"))
        featured = storefront.PlacementIn(kind="featured", product_id=rng.choice(products), title="店长推荐")
        storefront.add_placement(hq, page, featured)
    return Setup([(s.code, s.name) for s in stores], categories, skus)


def _paths(setup: Setup, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (path, store name) pairs: the visitors' requests, drawn from ``seed``."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        code, name = rng.choice(setup.stores)
        r = rng.random()
        if r < 0.70:
            query = ""
        elif r < 0.85:
            query = f"?category={rng.choice(setup.categories)}"
        elif r < 0.95:
            query = "?page=2"
        else:
            query = f"?q={quote(rng.choice(SEARCHES))}"
        found.append((f"/m/{code}/{query}", name))
    return found


async def _load(base: str, paths: list[tuple[str, str]]) -> tuple[list[float], int, float]:
    """Request every path over ``CONNECTIONS`` keep-alive connections; (latencies, errors, seconds)."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    todo = iter(paths)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, limit_per_host=CONNECTIONS)
    session = aiohttp.ClientSession(
        base_url=base,
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # each request a new visitor: no last store, no location
        headers={"Accept-Language": "zh-hans"},
        timeout=aiohttp.ClientTimeout(total=60),
    )

    async def visitor() -> None:
        nonlocal errors
        for path, name in todo:
            started = time.perf_counter()
            async with session.get(path) as answer:
                body = await answer.read()
            latencies.append(time.perf_counter() - started)
            if answer.status != 200 or name.encode() not in body:
                errors += 1

    async with session:
        started = time.perf_counter()
        await asyncio.gather(*(visitor() for _ in range(CONNECTIONS)))
        seconds = time.perf_counter() - started
    return latencies, errors, seconds


def _ms(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000, 2)


@workload(
    "store-page",
    "A store's mall page under load over HTTP: 50 concurrent connections, 60 stores, 2,000 SKUs, first pages, "
    "categories, second pages and searches; p95_ms, requests_per_s.",
    small=3_000,
    full=30_000,
)
def store_page(size: int) -> Figures:
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("the store-page workload loads the server with aiohttp: pip install -e '.[dev]'") from exc
    from siyu.bench.server import running

    setup = _setup()
    queries = ["", "?page=2", *(f"?category={c}" for c in setup.categories), *(f"?q={quote(q)}" for q in SEARCHES)]
    every_page = [(f"/m/{code}/{query}", name) for code, name in setup.stores for query in queries]
    cores = os.cpu_count() or 1
    workers = max(2, cores)
    with running(workers=workers, threads=1) as server:
        for _ in range(workers):  # fill every worker's caches (not timed)
            asyncio.run(_load(server.url, every_page))
        asyncio.run(_load(server.url, _paths(setup, WARM_UP, seed=2)))
        load_before, server_cpu, client_cpu = os.getloadavg()[0], server.cpu_seconds(), time.process_time()
        latencies, errors, seconds = asyncio.run(_load(server.url, _paths(setup, size, seed=3)))
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
        load = (load_before + os.getloadavg()[0]) / 2
    return {
        "p95_ms": _ms(latencies, 95),
        "p50_ms": _ms(latencies, 50),
        "p99_ms": _ms(latencies, 99),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "requests_count": len(latencies),
        "errors_count": errors,
        "stores_count": len(setup.stores),
        "skus_count": setup.skus,
        "server_workers_count": workers,
        "machine_load_pct": round(100 * load / cores),
        "server_cpu_ms": round(1000 * server_cpu / len(latencies), 3),
        "client_cpu_ms": round(1000 * client_cpu / len(latencies), 3),
    }
