"""``order-placement``: orders placed with allocation over HTTP by 8 concurrent clients.

Set up (not timed): the demo brand's organisation (69 stores with coordinates in 9 cities), a
range of products (SKUs priced at the brand price), stock received in every store of the cities
the orders go to, a few *hot* SKUs held in small numbers by a few stores of each city (they run
out during the run, so checkouts compete for the last units), customers, and an API token with
``orders.place``. Then the app is started in a real server process (``siyu serve --workers N``:
granian, one worker process per CPU core, 4 threads each; ``SIYU_BENCH_WORKERS`` and
``SIYU_BENCH_THREADS`` change that) on the run's database.

Timed: 8 client threads, each with its own keep-alive HTTP connection, post ``/api/v1/orders``
(a customer, the store page the order comes from, one to three lines, a delivery address near a
store of the city, a client key) until ``size`` orders were attempted. A 201 is an order placed
(allocated to the nearest stores holding the lines, stock held); a 422 is a checkout refused for
lack of stock (nothing held).

Checked afterwards, from the database: for every store and SKU, the units of the orders placed
(sold or held) never exceed what the store received (``oversold_units`` is the sum of any
excess), and ``inventory.services.check_ledger`` balances.

Figures: ``orders_count`` (placed), ``refused_count`` (out of stock), ``orders_per_s`` (placed per second of
the timed run), ``p95_ms`` and ``p50_ms`` (latency of a placement request), ``oversold_units``,
``ledger_mismatches_count``, ``server_workers_count``, ``server_threads_count``, ``machine_load_pct``
(the load average over the run per CPU: 100 = every core busy), ``server_cpu_ms`` and
``client_cpu_ms`` (CPU time one request cost the server's processes and the client).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from siyu.bench.registry import Figures, workload

CLIENTS = 8
CITIES = 3  # the orders go to the stores of the three cities with the most stores
PRODUCTS = 40
SIZES = ("S", "M", "L", "XL")
HOT = 4  # SKUs held 2 units at a time in 3 stores per city: they run out
NORMAL_UNITS = 400  # per store and SKU
CUSTOMERS = 5_000
WARM_UP = 16  # requests before the clock starts (every worker connects and compiles its paths)


def _server_shape(cores: int) -> tuple[int, int]:
    """Worker processes and threads per worker of the server: by default one worker per core with
    four threads each — a placement waits on PostgreSQL about 16 times, and another thread of the
    worker runs meanwhile (measured side by side: 2 × 4 placed 42.5 orders/s where 2 × 1 placed
    24.8). ``SIYU_BENCH_WORKERS`` / ``SIYU_BENCH_THREADS`` set others, to compare shapes."""
    workers = int(os.environ.get("SIYU_BENCH_WORKERS") or max(2, cores))
    threads = int(os.environ.get("SIYU_BENCH_THREADS") or 4)
    return max(1, workers), max(1, threads)


@dataclass
class Setup:
    brand_id: int
    token: str
    stores: list[tuple[str, str, float, float]]  # code, city, lat, lng of the open stores used
    skus: list[int]
    hot: list[int]
    customers: list[int]
    received: dict[tuple[int, int], int] = field(default_factory=dict)  # (store, sku) -> units


def _setup() -> Setup:
    from siyu.catalog import services as catalog
    from siyu.demo import generator
    from siyu.inventory import services as stock
    from siyu.members import services as members
    from siyu.org import services as org
    from siyu.org.services import Perm

    summary = generator.run(generator.Config(members=1), only={"org"})
    brand_id = summary.brand_id
    hq = org.hq_scope(brand_id, "bench")
    open_stores = org.stores(brand_id, open_only=True)
    by_city: dict[str, list[Any]] = {}
    for s in open_stores:
        by_city.setdefault(s.city, []).append(s)
    cities = sorted(by_city, key=lambda c: -len(by_city[c]))[:CITIES]
    used = [s for c in cities for s in by_city[c]]
    cat = catalog.create_category(hq, code="BENCH", name="跑鞋")
    skus: list[int] = []
    for i in range(PRODUCTS):
        product = catalog.create_product(
            hq,
            category_id=cat.pk,
            code=f"B{i:03d}",
            name=f"基准商品 {i}",
            price_fen=9_900 + 1_000 * (i % 20),
            skus=[catalog.NewSku(code=f"B{i:03d}-{s}", color="黑", size=s) for s in SIZES],
        )
        skus += sorted(product.skus.values_list("pk", flat=True))
    hot, normal = skus[:HOT], skus[HOT:]
    received: dict[tuple[int, int], int] = {}
    rng = random.Random(7)
    for store in used:
        lines = {sku: NORMAL_UNITS for sku in normal}
        received.update({(store.id, sku): NORMAL_UNITS for sku in normal})
        stock.receive(hq, store.id, lines, key=f"bench-{store.id}")
    for city in cities:
        for store in rng.sample(by_city[city], min(3, len(by_city[city]))):
            stock.receive(hq, store.id, dict.fromkeys(hot, 2), key=f"bench-hot-{store.id}")
            received.update({(store.id, sku): 2 for sku in hot})
    joined = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        members.NewCustomer(
            phone=f"139{n:08d}", name=f"顾客{n}", store_id=used[n % len(used)].id, guide_id=None, joined_at=joined
        )
        for n in range(CUSTOMERS)
    ]
    list(members.bulk_add_customers(brand_id, rows))
    customers = list(members.visible_customers(hq).values_list("pk", flat=True)[:CUSTOMERS])
    _, token = org.issue_token(hq, name="bench: mini-program backend", perms=[Perm.ORDERS_PLACE])
    stores = [(s.code, s.city, s.latitude, s.longitude) for s in used]
    return Setup(brand_id, token, stores, skus, hot, customers, received)


# --- The clients ---------------------------------------------------------------------------------
@dataclass
class Tally:
    placed: int = 0
    refused: int = 0
    failed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def _bodies(setup: Setup, size: int) -> list[dict[str, Any]]:
    rng = random.Random(42)
    normal = setup.skus[len(setup.hot) :]
    bodies = []
    for n in range(size):
        code, city, lat, lng = rng.choice(setup.stores)
        lines = rng.sample(normal, rng.choice((1, 1, 2, 3)))
        if rng.random() < 0.2:
            lines[0] = rng.choice(setup.hot)
        bodies.append(
            {
                "customer_id": rng.choice(setup.customers),
                "store": code,
                "lines": [{"sku_id": sku, "quantity": rng.choice((1, 1, 1, 2))} for sku in dict.fromkeys(lines)],
                "delivery": {
                    "recipient": "王芳",
                    "phone": "13900001234",
                    "city": city,
                    "address": f"示范路 {n} 号",
                    "latitude": round(lat + rng.uniform(-0.03, 0.03), 6),
                    "longitude": round(lng + rng.uniform(-0.03, 0.03), 6),
                },
                "client_key": f"bench-{n}",
            }
        )
    return bodies


def _client(port: int, token: str, bodies: list[dict[str, Any]], tally: Tally, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    placed = refused = 0
    latencies: list[float] = []
    failed: list[str] = []
    for body in bodies:
        data = json.dumps(body).encode()
        started = time.perf_counter()
        conn.request("POST", "/api/v1/orders", body=data, headers=headers)
        answer = conn.getresponse()
        text = answer.read()
        latencies.append(time.perf_counter() - started)
        if answer.status == 201:
            placed += 1
        elif answer.status == 422 and [e["field"] for e in json.loads(text)["errors"]] == ["lines"]:
            refused += 1
        else:
            failed.append(f"{answer.status} {text[:200]!r}")
    conn.close()
    with lock:
        tally.placed += placed
        tally.refused += refused
        tally.latencies += latencies
        tally.failed += failed


def _oversold(setup: Setup) -> int:
    """Units placed beyond what a store received, summed over every store and SKU."""
    from siyu.orders import services as orders

    excess = 0
    for (store, sku), units in orders.units_by_store(setup.brand_id).items():
        excess += max(0, units - setup.received.get((store, sku), 0))
    return excess


@workload(
    "order-placement",
    "Orders placed with nearest-store allocation over HTTP (POST /api/v1/orders), 8 concurrent clients, "
    "hot SKUs running out; orders_per_s, p95_ms, oversold_units",
    small=2_000,
    full=10_000,
)
def order_placement(size: int) -> Figures:
    from siyu.bench.server import running
    from siyu.inventory import services as stock

    setup = _setup()
    bodies = _bodies(setup, size)
    cores = os.cpu_count() or 1
    workers, threads_each = _server_shape(cores)
    with running(workers=workers, threads=threads_each) as server:
        port = int(server.url.rsplit(":", 1)[1])
        _client(port, setup.token, bodies[:WARM_UP], Tally(), threading.Lock())  # warm every worker up
        bodies = bodies[WARM_UP:]
        tally, lock = Tally(), threading.Lock()
        threads = [
            threading.Thread(target=_client, args=(port, setup.token, bodies[i::CLIENTS], tally, lock))
            for i in range(CLIENTS)
        ]
        load_before, server_cpu, client_cpu = os.getloadavg()[0], server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
        load = (load_before + os.getloadavg()[0]) / 2
    if tally.failed:
        raise RuntimeError(f"{len(tally.failed)} request(s) failed, e.g. {tally.failed[0]}")
    ordered = sorted(tally.latencies)
    return {
        "orders_count": tally.placed,
        "refused_count": tally.refused,
        "seconds": round(seconds, 2),
        "orders_per_s": round(tally.placed / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
        "oversold_units": _oversold(setup),
        "ledger_mismatches_count": len(stock.check_ledger(setup.brand_id)),
        "server_workers_count": workers,
        "server_threads_count": threads_each,
        "machine_load_pct": round(100 * load / cores),
        "server_cpu_ms": round(1000 * server_cpu / len(ordered), 2),
        "client_cpu_ms": round(1000 * client_cpu / len(ordered), 2),
    }
