"""The demo's behaviour events (``siyu seed --events N``): written straight into the lake, each id once
under the reserved ``demo:`` prefix, inside the last 180 days, purchases following the customers'
own histories."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from siyu.demo import generator
from siyu.events import lake
from siyu.events import services as events
from siyu.members import services as members


@pytest.mark.django_db
def test_the_demo_writes_n_events_that_follow_its_customers() -> None:
    config = generator.Config(members=300, events=5_000, as_of=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    summary = generator.run(config, only={"org", "catalog", "customers", "events"})
    brand = summary.brand_id
    assert summary.facts["events"] == 5_000 and events.has_generated_events(brand)
    facts = {f.id: f for chunk in members.customer_facts(brand) for f in chunk}
    with duckdb.connect() as con:
        rel = lake.relation(con, brand)
        rows = rel.project('event_id, type, "at", customer_id, amount_fen').fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == 5_000 == len(set(ids)) and all(i.startswith("demo:") for i in ids)
    end = generator.history_end(config.as_of).astimezone(dt.UTC).replace(tzinfo=None)
    assert all(end - dt.timedelta(days=180) <= r[2] < end for r in rows)
    assert {r[3] for r in rows} <= set(facts)
    kinds = {r[1] for r in rows}
    assert {"view", "click", "share", "scan", "sign_in", "order"} <= kinds
    for customer_id, fact in facts.items():
        bought = sorted(r[2] for r in rows if r[3] == customer_id and r[1] == "order")
        assert len(bought) <= fact.orders_count
        if bought:  # her last purchase in the lake is her last purchase
            assert fact.last_purchase_at is not None
            assert bought[-1] == fact.last_purchase_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    assert all(r[4] and r[4] > 0 for r in rows if r[1] in ("order", "refund"))
    # run again: the step sees its events and adds none
    again = generator.run(config, only={"events"})
    assert again.skipped == ["events"]
