"""The mall beacon in a real browser (headless Chromium, Playwright, on a phone): a customer the mall
knows (her scan cookie) opens her store's page, taps a product, shares it and leaves; her views,
her click and her share reach the event lake with her store, her product and herself — the click
and the share only because the page sends its queue when it is hidden (sendBeacon on pagehide).
A visitor the mall does not know is answered 204 and leaves nothing behind, and a flood from one
customer is refused with 429 and a Retry-After once her 120 events of the minute are spent.

Screenshots of a failing step land in ``test-results/`` (ignored by git).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import signing
from django.urls import reverse

from siyu.events import services as events
from siyu.platform import clock
from tests import test_browser
from tests.stock_factory import running_shoe
from tests.test_browser import Steps, no_sideways_scroll, on_a_phone

browser = test_browser.browser  # the headless Chromium fixture of the browser tests

pytestmark = pytest.mark.browser


def _arrived(brand_id: int, until: Callable[[list[events.EventRow]], bool], **where: Any) -> list[events.EventRow]:
    """The lake's events (newest first) once ``until`` holds of them, waiting a few seconds for the
    browser's beacon to land; the last read when it never does (the assertion then says what came)."""
    deadline = time.monotonic() + 10
    while True:
        rows = events.recent_events(brand_id, limit=200, **where)
        if until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _beacon_answer(page: Any) -> Any:
    return page.expect_response(lambda r: r.url.endswith("/beacon/") and r.request.method == "POST")


@pytest.fixture
def shoe(world: Any) -> int:
    """The running shoe R100 in the brand's catalog (before the browser starts: the ORM is not
    called on Playwright's thread)."""
    from siyu.catalog.models import Product

    running_shoe(world)
    return int(Product.objects.get(brand_id=world.brand.pk, code="R100").pk)


def test_the_beacon_records_a_known_customers_views_click_and_share_and_nobody_elses(
    transactional_db: None, live_server: Any, world: Any, shoe: int, browser: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    from siyu.members.views_scan import CUSTOMER_COOKIE, SALT

    base = live_server.url
    brand, store = world.brand.pk, world.flagship
    customer = int(world.customers["chen.guide"][0])
    store_url = base + reverse("mall_store", args=[store.code])

    context, page = on_a_phone(browser)
    signed = signing.get_cookie_signer(salt=CUSTOMER_COOKIE + SALT).sign(str(customer))
    context.add_cookies([{"name": CUSTOMER_COOKIE, "value": signed, "url": base}])
    step = Steps(page, request.node.name)

    with step("the-store-page-sends-its-view"):
        with _beacon_answer(page) as answer:
            page.goto(store_url)
        assert answer.value.status == 200, answer.value.text()
        assert answer.value.json()["accepted"] == 1
        no_sideways_scroll(page)

    with step("she-taps-a-product-shares-it-and-leaves"):
        page.get_by_role("link", name=re.compile("飞跃跑鞋")).first.click()  # queued: sent when the store page hides
        page.wait_for_url("**/p/R100/**")
        share = page.locator("button[data-share]")
        expect(share).to_be_visible()
        share.click()
        with _beacon_answer(page) as answer:  # the queue (product view, share) leaves with the page
            page.goto(store_url)
        assert answer.value.status == 200
        assert answer.value.request.resource_type == "ping", "sent by navigator.sendBeacon as the page hid"

    with step("each-event-is-in-the-lake-with-her-store-product-and-herself"):

        def complete(rows: list[events.EventRow]) -> bool:
            return {(r.type, r.product_id) for r in rows} >= {("click", shoe), ("view", shoe), ("share", shoe)}

        rows = _arrived(brand, complete, customer_ids=[customer])
        got = [(r.type, r.product_id) for r in rows]
        assert ("view", None) in got, got  # the store page
        assert {("click", shoe), ("view", shoe), ("share", shoe)} <= set(got), got
        assert {r.store_id for r in rows} == {store.pk}
        assert {r.customer_id for r in rows} == {customer}
        assert all(r.event_id.startswith("web-") and r.properties.get("via") == "beacon" for r in rows)
        product_page = next(r for r in rows if r.type == "view" and r.product_id == shoe)
        assert product_page.properties["page"] == reverse("mall_product", args=[store.code, "R100"])
        assert len({r.event_id for r in rows}) == len(rows)  # each event once

    with step("a-visitor-the-mall-does-not-know-leaves-nothing"):
        before = len(events.recent_events(brand, limit=1000))
        stranger_context, stranger = on_a_phone(browser)
        with _beacon_answer(stranger) as answer:
            stranger.goto(store_url)
        assert answer.value.status == 204
        stranger_context.close()
        assert len(events.recent_events(brand, limit=1000)) == before
        assert all(r.customer_id == customer for r in events.recent_events(brand, limit=1000))

    with step("a-flood-is-refused-with-429-and-when-to-retry"):
        start = clock.now().replace(second=5, microsecond=0) + dt.timedelta(minutes=1)  # one minute's budget
        with clock.frozen(start):
            statuses = page.evaluate(
                """async (url) => {
                  const out = [];
                  for (let n = 0; n < 3; n++) {
                    const batch = Array.from({length: 50}, (_, i) => ({
                      event_id: `web-flood-${n}-${i}`, type: "view", at: new Date().toISOString()}));
                    const r = await fetch(url, {method: "POST", body: JSON.stringify({events: batch}),
                      headers: {"Content-Type": "text/plain;charset=UTF-8"}});
                    out.push([r.status, r.headers.get("Retry-After"), (await r.json()).accepted]);
                  }
                  return out;
                }""",
                base + reverse("mall_beacon", args=[store.code]),
            )
        assert [s[0] for s in statuses] == [200, 200, 429], statuses  # 120 events a minute
        assert [s[2] for s in statuses] == [50, 50, 0]
        assert statuses[2][1] == "55"  # the next minute's budget, 55 s after :05
        flood = [r for r in events.recent_events(brand, customer_ids=[customer], limit=500) if "flood" in r.event_id]
        assert len(flood) == 100

    context.close()
