"""The mall end to end in a real browser (headless Chromium, Playwright), on a phone: a visitor
finds her store from her city, sees the city's stock on a product page, orders for delivery, pays in
the sandbox and tracks the order while the fulfilling store's staff pack and ship it from the
guide workbench; then a second order for pickup, set out by the store and handed over with the
pickup code she shows.

Screenshots of a failing step land in ``test-results/`` (ignored by git); with
``SIYU_SCREENSHOTS=1`` every step leaves one, to look at the pages.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from django.urls import reverse

from siyu.demo.personas import DEMO_PASSWORD
from siyu.inventory import services as stock
from siyu.orders.models import Order
from tests import test_browser
from tests.stock_factory import running_shoe
from tests.test_browser import RESULTS, Steps, in_the_database, no_sideways_scroll, on_a_phone

browser = test_browser.browser  # the headless Chromium fixture of the browser tests

pytestmark = pytest.mark.browser


class Walk(Steps):
    """Steps that also keep a screenshot of each page when ``SIYU_SCREENSHOTS`` is set."""

    def shot(self, name: str) -> None:
        if os.environ.get("SIYU_SCREENSHOTS"):
            RESULTS.mkdir(exist_ok=True)
            self.page.screenshot(path=str(RESULTS / f"{self.test_name}-{name}.png"), full_page=True)


@pytest.fixture
def shoe(world: Any) -> dict[str, int]:
    """The running shoe in stock at SH002 (五角场, 2 of size 40) and at the flagship (1 of size 41)."""
    hq, skus = running_shoe(world)
    stock.receive(hq, world.sh2.pk, {skus["R100-40"]: 2}, key="mall-walk-sh2")
    stock.receive(hq, world.flagship.pk, {skus["R100-41"]: 1}, key="mall-walk-flagship")
    return skus


def test_a_customer_orders_pays_and_tracks_while_the_store_fulfils(
    transactional_db: None,
    live_server: Any,
    world: Any,
    shoe: dict[str, int],
    browser: Any,
    request: pytest.FixtureRequest,
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    customer_context, page = on_a_phone(browser)
    step = Walk(page, request.node.name)

    with step("lands-on-the-nearest-store-of-her-city"):
        page.goto(f"{base}/m/?brand={world.brand.code}")  # the mall's address for one brand
        no_sideways_scroll(page)
        page.locator("nav.chips").get_by_role("link", name=re.compile("上海")).click()
        page.wait_for_load_state()
        step.shot("landing")
        stores = page.locator("#stores-h + ul.list li")
        expect(stores).to_have_count(2)  # 上海's two stores, not the rival brand's
        stores.first.get_by_role("link").click()
        page.wait_for_load_state()
        step.shot("store")
        expect(page.locator("h1").first).to_contain_text(re.compile("旗舰店|五角场店"))
        no_sideways_scroll(page)

    with step("the-product-page-shows-the-citys-stock"):
        page.get_by_role("link", name=re.compile("飞跃跑鞋")).first.click()
        page.wait_for_load_state()
        page.get_by_role("link", name="40", exact=True).click()
        page.wait_for_load_state()
        step.shot("product")
        availability = page.locator("section.stock")
        expect(availability).to_contain_text("上海")
        expect(availability).to_contain_text("2")
        expect(availability).to_contain_text("五角场店")
        no_sideways_scroll(page)

    with step("adds-to-cart-and-checks-out-for-delivery"):
        page.get_by_role("button", name="加入购物车").click()
        page.wait_for_load_state()
        step.shot("cart")
        page.get_by_role("link", name=re.compile("结算|去结算")).first.click()
        page.wait_for_load_state()
        page.fill("input[name=recipient]", "王芳")
        page.fill("input[name=phone]", "13900001234")
        page.fill("input[name=district]", "杨浦区")
        page.fill("input[name=address]", "国定路 1 号")
        step.shot("checkout")
        no_sideways_scroll(page)
        page.get_by_role("button", name=re.compile("提交订单")).click()
        page.wait_for_load_state()
        step.shot("pay")

    with step("pays-in-the-sandbox"):
        page.get_by_role("button", name=re.compile("支付")).first.click()
        page.wait_for_load_state()
        step.shot("paid")
        expect(page.locator("body")).to_contain_text("五角场店")  # the parcel's store: the one holding size 40

    order = in_the_database(lambda: Order.objects.get())
    assert order.status in {"paid", "allocated"}, order.status

    staff_context, staff = on_a_phone(browser)
    staff_step = Walk(staff, request.node.name + "-staff")
    with staff_step("the-store-packs-and-ships"):
        staff.goto(base + reverse("guide:login"))
        staff.fill("input[name=username]", "sun.guide")  # SH002's guide (conftest: password x × 8)
        staff.fill("input[name=password]", "x" * 8)
        staff.click("form button[type=submit]")
        staff.wait_for_load_state()
        staff.goto(base + reverse("guide:store_orders"))
        staff_step.shot("queue")
        staff.get_by_role("link", name=re.compile(order.number)).first.click()
        staff.wait_for_load_state()
        staff_step.shot("parcel")
        no_sideways_scroll(staff)
        staff.click("button[value=pack]")
        staff.wait_for_load_state()
        staff.fill("input[name=carrier]", "顺丰速运")
        staff.fill("input[name=tracking_no]", "SF1234567890")
        staff.click("button[value=ship]")
        staff.wait_for_load_state()
        staff_step.shot("shipped")

    with step("she-sees-it-shipped-with-its-tracking-number"):
        page.reload()
        expect(page.locator("body")).to_contain_text("SF1234567890")
        step.shot("tracking")

    with step("she-confirms-receipt-and-the-order-is-complete"):
        page.click("button[value=confirm]")  # before the courier's "delivered" reaches the store
        page.wait_for_load_state()
        step.shot("completed")
        assert in_the_database(lambda: Order.objects.get().status) == "completed"

    with step("a-second-order-for-pickup-at-the-flagship"):
        page.goto(base + reverse("mall_product", args=[world.flagship.code, "R100"]) + f"?sku={shoe['R100-41']}")
        page.get_by_role("button", name="加入购物车").click()
        page.wait_for_load_state()
        page.goto(base + reverse("mall_checkout", args=[world.flagship.code]))
        page.check("input[name=mode][value=pickup]")
        expect(page.locator("fieldset.delivery-only")).to_be_hidden()
        expect(page.locator("fieldset.pickup-only")).to_be_visible()
        step.shot("checkout-pickup")
        page.get_by_role("button", name=re.compile("提交订单")).click()
        page.wait_for_load_state()
        page.get_by_role("button", name=re.compile("支付")).first.click()
        page.wait_for_load_state()
        second = in_the_database(lambda: Order.objects.exclude(status="completed").get())
        assert second.mode == "pickup"

    manager_context, manager = on_a_phone(browser)
    manager_step = Walk(manager, request.node.name + "-manager")
    with manager_step("the-flagship-sets-it-out-and-hands-it-over-with-her-code"):
        manager.goto(base + reverse("guide:login"))
        manager.fill("input[name=username]", world.staff["store_manager"].username)
        manager.fill("input[name=password]", DEMO_PASSWORD)
        manager.click("form button[type=submit]")
        manager.wait_for_load_state()
        manager.goto(base + reverse("guide:store_orders"))
        manager.get_by_role("link", name=re.compile(second.number)).first.click()
        manager.wait_for_load_state()
        manager.click("button[value=pack]")
        manager.wait_for_load_state()
        manager.click("button[value=pickup]")
        manager.wait_for_load_state()
        page.reload()
        step.shot("ready-for-pickup")
        code = in_the_database(lambda: second.fulfilments.get().pickup_code)
        expect(page.locator("body")).to_contain_text(code)  # she shows it at the counter
        manager.fill("input[name=pickup_code]", "0000" if code != "0000" else "1111")
        manager.click("button[value=hand_over]")
        manager.wait_for_load_state()
        expect(manager.locator(".errors, .error").first).to_be_visible()  # a wrong code hands nothing over
        manager.fill("input[name=pickup_code]", code)
        manager.click("button[value=hand_over]")
        manager.wait_for_load_state()
        manager_step.shot("handed-over")
        page.reload()
        step.shot("picked-up")
        assert in_the_database(lambda: Order.objects.get(pk=second.pk).status) == "completed"

    manager_context.close()
    customer_context.close()
    staff_context.close()
