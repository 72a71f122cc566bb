"""The mall beacon: ``events/beacon.js`` on every /m/<store>/ page, and its public endpoint that keeps
the views, shares and clicks of the customer the mall knows (the scan cookie) — nobody else's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from django.core import signing
from django.test import Client

from siyu.events import lake

BEACON = Path(__file__).resolve().parents[1] / "src/siyu/events/static/events/beacon.js"


def _as_customer(customer_id: int) -> Client:
    from siyu.members.views_scan import CUSTOMER_COOKIE, SALT

    client = Client()
    client.cookies[CUSTOMER_COOKIE] = signing.get_cookie_signer(salt=CUSTOMER_COOKIE + SALT).sign(str(customer_id))
    return client


def _post(client: Client, url: str, events: list[dict[str, Any]]) -> Any:
    return client.post(url, data=json.dumps({"events": events}), content_type="application/json")


def _events(brand_id: int) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return (
            lake.relation(con, brand_id)
            .project("event_id, type, customer_id, store_id, properties")
            .order("event_id")
            .fetchall()
        )


def test_the_beacon_records_the_known_customers_views_shares_and_clicks_once(world: Any) -> None:
    cid = int(world.customers["chen.guide"][0])
    url = f"/m/{world.flagship.code}/beacon/"
    client = _as_customer(cid)
    at = "2026-11-30T10:00:00+08:00"
    batch = [
        {"event_id": "web-a-1", "type": "view", "at": at, "page": f"/m/{world.flagship.code}/"},
        {"event_id": "web-a-2", "type": "share", "at": at},
        {"event_id": "web-a-3", "type": "click", "at": at},
        {"event_id": "web-a-4", "type": "order", "at": at},  # not the beacon's to say
        {"event_id": "order:1:paid", "type": "view", "at": at},  # not a beacon id
        {"event_id": "web-a-5", "type": "view", "at": at, "customer_id": 999},  # who is not the page's to say
    ]
    answer = _post(client, url, batch)
    assert answer.status_code == 200 and answer.json()["accepted"] == 4
    again = _post(client, url, batch[:3])  # sendBeacon and the fetch fallback both arrived
    assert again.json() == {"accepted": 0, "duplicates": 3}
    rows = _events(world.brand.pk)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("web-a-1", "view", cid, world.flagship.pk),
        ("web-a-2", "share", cid, world.flagship.pk),
        ("web-a-3", "click", cid, world.flagship.pk),
        ("web-a-5", "view", cid, world.flagship.pk),
    ]
    assert '"via":"beacon"' in rows[0][4]


def test_an_unknown_visitor_is_not_recorded_and_a_flood_is_refused(world: Any) -> None:
    url = f"/m/{world.flagship.code}/beacon/"
    at = "2026-11-30T10:00:00+08:00"
    assert _post(Client(), url, [{"event_id": "web-x", "type": "view", "at": at}]).status_code == 204
    client = _as_customer(int(world.customers["chen.guide"][0]))
    assert _post(client, "/m/NOPE/beacon/", [{"event_id": "web-y", "type": "view", "at": at}]).status_code == 204
    answers = [
        _post(client, url, [{"event_id": f"web-f-{n}-{i}", "type": "view", "at": at} for i in range(50)])
        for n in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]  # 120 a minute
    assert 0 < int(answers[2]["Retry-After"]) <= 60  # when the next minute's budget starts
    assert _events(world.rival_brand.pk) == []


def test_mall_pages_include_the_beacon_with_their_stores_endpoint(world: Any) -> None:
    html = Client().get(f"/m/{world.flagship.code}/").content.decode()
    assert "events/beacon" in html and f'data-endpoint="/m/{world.flagship.code}/beacon/"' in html
    source = BEACON.read_text()
    assert "sendBeacon" in source and "http" not in source.split("*/", 1)[1]  # nothing fetched from elsewhere
