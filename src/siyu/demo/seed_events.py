"""Step ``events`` (``--events N``): the demo brand's behaviour events over the last 180 days, written
by DuckDB straight into the event lake's Parquet partitions (ADR 0011) — a million in seconds.

Who does what follows the customers the earlier steps made:

- **Orders and refunds** follow each customer's purchase history (``orders_count``,
  ``total_spent_fen``, ``last_purchase_at``): her purchases that fall in the window, the last one at
  her last purchase, each for about her average basket; one in 25 is refunded a few days later. The
  mall orders the ``orders`` step placed are already in the lake (the orders domain emits them).
- **Views, clicks, shares, scans, sign-ins, WeCom adds, group joins, messages**: the rest of ``N``,
  spread over customers by lifecycle (an active customer is six times as busy as a churned one),
  between her joining (or the window's start) and the end of the window — up to 100 days before it
  for dormant and churned customers. Views, clicks and shares name a product; shares and messages an
  article; scans, WeCom adds and messages her guide; everything her store.

Ids start with ``demo:`` (reserved: no client may send them), so the step writes the Parquet parts
(named ``part-demo-*``) without registering each id in the dedupe index. Deterministic: every draw
is a hash of the row number and ``--seed``.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siyu.demo.generator import Context, Step, register

WINDOW_DAYS = 180
WEIGHTS = {"active": 6, "new": 4, "recalled": 4, "dormant": 2, "churned": 1}
# (share of the behaviour events in per cent, type), cumulative
MIX = (
    (48, "view"),
    (66, "click"),
    (72, "share"),
    (76, "scan"),
    (88, "sign_in"),
    (90, "add_friend"),
    (92, "join_group"),
    (96, "message"),
    (100, "custom:coupon_seen"),
)


def events_exist(ctx: Context) -> bool:
    from siyu.events import services as events

    return ctx.config.events == 0 or events.has_generated_events(ctx.brand_id)


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def seed_events(ctx: Context) -> None:
    import duckdb

    from siyu.catalog import services as catalog
    from siyu.events import services as events
    from siyu.members import services as members

    wanted = ctx.config.events
    ctx.reporter.begin(_("Behaviour events"), total=wanted)
    end = ctx.as_of
    start = end - dt.timedelta(days=WINDOW_DAYS)
    products = [p.product_id for p in catalog.price_list(ctx.brand_id)] or [0]
    work = Path(tempfile.mkdtemp(prefix="siyu-demo-events-"))
    try:
        facts = work / "customers.csv"
        count = 0
        with open(facts, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            for chunk in members.customer_facts(ctx.brand_id):
                for c in chunk:
                    out.writerow(
                        [
                            c.id, c.store_id or "", c.guide_id or "", _utc(c.joined_at), c.orders_count,
                            c.total_spent_fen, _utc(c.last_purchase_at) if c.last_purchase_at else "",
                            WEIGHTS.get(c.lifecycle, 2),
                        ]
                    )  # fmt: skip
                    count += 1
        if count == 0:
            ctx.reporter.end()
            return
        seed = int(ctx.config.seed)
        s, e = f"TIMESTAMP '{_utc(start)}'", f"TIMESTAMP '{_utc(end)}'"
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(
                "CREATE TABLE c AS SELECT * FROM read_csv(?, header=false, columns={'id': 'BIGINT', "
                "'store_id': 'BIGINT', 'guide_id': 'BIGINT', 'joined_at': 'TIMESTAMP', 'orders_count': 'BIGINT', "
                "'spent': 'BIGINT', 'last_at': 'TIMESTAMP', 'weight': 'INTEGER'})",
                [str(facts)],
            )
            # Purchases inside the window, the last one at her last purchase.
            con.execute(
                "CREATE TABLE o AS SELECT id, store_id, guide_id, k, "
                "CASE WHEN k = n_win - 1 THEN last_at ELSE lo + to_seconds(CAST(hash(id, k, $seed) "
                "% greatest(1, date_diff('second', lo, last_at)) AS BIGINT)) END AS ts, "
                "CAST(round(spent / orders_count * (0.7 + (hash(id, k, $seed, 1) % 60) / 100.0) / 100) * 100 "
                "AS BIGINT) AS amount "
                f"FROM (SELECT *, greatest({s}, joined_at) AS lo, least(orders_count, greatest(1, CAST(round("
                f"orders_count * {WINDOW_DAYS}.0 / greatest({WINDOW_DAYS}, date_diff('day', joined_at, {e}))) AS "
                f"BIGINT))) AS n_win FROM c WHERE last_at >= {s} AND last_at < {e} AND orders_count > 0), "
                "range(n_win) r(k)",
                {"seed": seed},
            )
            con.execute(
                "CREATE TABLE bought AS SELECT 'demo:order:' || id || ':' || k AS event_id, 'order' AS type, ts, "
                "id AS customer_id, store_id, guide_id, NULL AS content_id, NULL AS product_id, amount, "
                '\'{"channel":"pos"}\' AS properties FROM o '
                f"UNION ALL SELECT 'demo:refund:' || id || ':' || k, 'refund', least(ts + INTERVAL 3 DAY, "
                f"{e} - INTERVAL 1 SECOND), id, store_id, guide_id, NULL, NULL, amount, NULL FROM o "
                "WHERE hash(id, k, $seed, 2) % 25 = 0",
                {"seed": seed},
            )
            con.execute(f"CREATE TABLE kept AS SELECT * FROM bought ORDER BY event_id LIMIT {int(wanted)}")
            rest = max(0, wanted - _count(con, "kept"))
            con.execute(
                "CREATE TABLE slots AS SELECT row_number() OVER () - 1 AS slot, id, store_id, guide_id, "
                f"greatest({s}, joined_at) AS lo, CASE WHEN weight <= 2 THEN greatest(greatest({s}, joined_at) "
                f"+ INTERVAL 1 DAY, {e} - INTERVAL 100 DAY) ELSE {e} END AS hi FROM c, range(weight)"
            )
            slots = _count(con, "slots")
            kinds = " ".join(f"WHEN h % 100 < {upto} THEN '{kind}'" for upto, kind in MIX)
            plist = "[" + ", ".join(str(p) for p in products) + "]"
            con.execute(
                "CREATE TABLE acts AS SELECT 'demo:' || i AS event_id, CASE " + kinds + " END AS type, "
                "least(lo + to_seconds(CAST(hash(i, $seed, 3) % greatest(1, date_diff('second', lo, hi)) AS BIGINT)), "
                f"{e} - INTERVAL 1 SECOND) AS ts, id AS customer_id, store_id, guide_id, h "
                f"FROM (SELECT i, hash(i, $seed) AS h FROM range({rest}) t(i)) "
                f"JOIN slots ON slot = hash(i, $seed, 4) % {slots}",
                {"seed": seed},
            )
            con.execute(
                "CREATE TABLE generated AS SELECT * FROM kept UNION ALL SELECT event_id, type, ts, customer_id, "
                "store_id, CASE WHEN type IN ('scan', 'add_friend', 'message') THEN guide_id END, "
                "CASE WHEN type IN ('share', 'message') THEN 'article-' || (h % 40) END, "
                f"CASE WHEN type IN ('view', 'click', 'share') THEN {plist}[CAST(1 + (h // 100) % {len(products)} "
                "AS BIGINT)] END, "
                "NULL, CASE WHEN type IN ('view', 'click', 'share') THEN '{\"source\":\"mall\"}' "
                "WHEN type = 'sign_in' THEN '{\"channel\":\"mini_program\"}' END FROM acts"
            )
            written = events.write_generated(ctx.brand_id, con, "generated", received=end)
        ctx.reporter.advance(written)
        ctx.facts["events"] = written
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ctx.reporter.end()


def _count(con: object, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[attr-defined]
    return int(row[0]) if row else 0


STEP = Step(
    "events",
    gettext_noop("Behaviour events"),
    run=seed_events,
    done=events_exist,
    provides=frozenset({"events"}),
)
register(STEP)  # at the end: after the orders (whose own events are emitted) and the pages
