"""The HQ event explorer: a customer's or a store's recent events and counts by type per day, within
the viewer's reach, on a phone too."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.test import Client

from siyu.events import services as events


def _seed(world: Any) -> int:
    cid = world.customers["chen.guide"][0]
    now = dt.datetime.now(dt.UTC)
    batch = [
        {"event_id": f"x-{i}", "type": "view" if i % 2 else "click", "at": (now - dt.timedelta(days=i)).isoformat(),
         "customer_id": cid, "store": world.flagship.code}
        for i in range(6)
    ]  # fmt: skip
    batch.append({"event_id": "x-gz", "type": "order", "at": now.isoformat(), "customer_id": cid,
                  "store": world.gz1.code, "amount_fen": 39900})  # fmt: skip
    assert events.ingest(world.brand.pk, batch).accepted == 7
    return int(cid)


def test_hq_sees_a_customers_events_and_counts_by_type(world: Any) -> None:
    cid = _seed(world)
    client = world.login(Client(), "hq_admin")
    page = client.get(f"/hq/events/?customer={cid}&days=7")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<rect") == 7  # a bar a day
    assert "x-gz" not in html and "¥399.00" in html and "click" in html
    assert 'id="event-chart"' in html and "viewport" in html
    brand_wide = client.get("/hq/events/").content.decode()
    assert len(re.findall(r"<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2}</td>", brand_wide)) == 7  # the brand's events


def test_a_store_manager_sees_only_her_stores_events(world: Any) -> None:
    cid = _seed(world)
    client = world.login(Client(), "store_manager")
    html = client.get("/hq/events/").content.decode()
    assert "¥399.00" not in html  # the GZ001 order is outside her store
    # a store outside her reach is not one of her choices: she still sees her own store only
    other = client.get(f"/hq/events/?store={world.gz1.pk}").content.decode()
    assert "¥399.00" not in other and world.flagship.name in other
    assert client.get(f"/hq/events/?customer={world.customers['sun.guide'][0]}").status_code == 404
    assert cid


def test_the_explorer_speaks_chinese(world: Any) -> None:
    _seed(world)
    client = world.login(Client(), "hq_admin")
    html = client.get("/hq/events/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "最近的事件" in html
