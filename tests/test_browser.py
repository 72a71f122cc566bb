"""In a real browser (Debian's Chromium, headless, driven by Playwright): HQ signs in, creates a store
through the form (after the form refused bad input, field by field) and finds it in the store list
by search; a guide signs in on a phone and sees her store.

Screenshots of a failing step land in ``test-results/`` (ignored by git).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connection, connections
from django.urls import reverse

from siyu.demo import personas

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SIYU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
RESULTS = Path(__file__).resolve().parents[1] / "test-results"
PHONE = {"width": 390, "height": 844}
T = TypeVar("T")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # The live server answers from threads of its own; they must not keep database connections
    # open after a request (DATABASE_URL sets conn_max_age), or PostgreSQL refuses to drop the
    # test database at the end of the run.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Steps:
    """Named steps of a test; a failing step leaves a full-page screenshot behind."""

    def __init__(self, page: Any, test_name: str) -> None:
        self.page = page
        self.test_name = test_name

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        try:
            yield
        except BaseException:
            RESULTS.mkdir(exist_ok=True)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{self.test_name}-{name}").strip("-")
            with contextlib.suppress(Exception):  # the screenshot must never hide the real failure
                self.page.screenshot(path=str(RESULTS / f"{slug}.png"), full_page=True)
            raise


def in_the_database(query: Callable[[], T]) -> T:
    """Run an ORM query while Playwright's event loop occupies this thread: in a thread of its own
    (Django keeps connections per thread, or per async context on a thread with a loop), closing
    the connection it opened."""

    def run() -> T:
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def on_a_phone(browser: Any, locale: str = "zh-CN") -> tuple[Any, Any]:
    """A new browser context the size of a phone (touch, mobile) and its page."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale=locale)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def no_sideways_scroll(page: Any) -> None:
    """Nothing on the page is wider than the screen: it never scrolls sideways."""
    width, screen = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= screen, f"{page.url} is {width}px wide on a {screen}px screen"


def _sign_in(page: Any, base: str, login_url: str, username: str) -> None:
    page.goto(base + login_url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", personas.DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_hq_creates_a_store_and_finds_it_in_the_list(
    transactional_db: None, live_server: Any, world: Any, browser: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    from siyu.org.models import Store

    base = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    step = Steps(page, request.node.name)

    with step("sign-in"):
        _sign_in(page, base, reverse("hq:login"), personas.HQ_OPERATOR.username)
        expect(page).to_have_url(re.compile(re.escape(base + reverse("hq:home")) + r"$"))

    with step("open-the-store-form-from-the-list"):
        page.goto(base + reverse("hq:store_list"))
        page.click(f"a[href='{reverse('hq:store_create')}']")
        expect(page).to_have_url(re.compile(re.escape(reverse("hq:store_create")) + r"$"))

    def fill(latitude: str) -> None:
        page.fill("input[name=code]", "BJ101")
        page.fill("input[name=name]", "三里屯太古里店")
        page.select_option("select[name=region]", label=world.east.name)
        page.select_option("select[name=franchisee]", label=world.direct.name)
        page.fill("input[name=city]", "北京")
        page.fill("[name=address]", "北京市朝阳区三里屯路 19 号")
        page.fill("input[name=latitude]", latitude)
        page.fill("input[name=longitude]", "116.453900")
        page.fill("input[name=opening_hours]", "10:00-22:00")
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()

    with step("bad-input-is-refused-field-by-field"):
        fill(latitude="91")
        expect(page.locator("[data-field=latitude] .field-error")).to_be_visible()
        assert not in_the_database(Store.objects.filter(code="BJ101").exists), "a refused form changes nothing"

    with step("create"):
        fill(latitude="39.933800")
        expect(page).to_have_url(re.compile(r"/hq/stores/\d+/$"))
        expect(page.locator("body")).to_contain_text("三里屯太古里店")
        created = in_the_database(lambda: Store.objects.get(code="BJ101"))
        assert created.brand_id == world.brand.pk and created.region_id == world.east.pk

    with step("find-it-by-search"):
        page.goto(base + reverse("hq:store_list"))
        page.fill("form.filters input[name=q]", "三里屯")
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state()
        rows = page.locator("#store-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("BJ101")
        expect(rows.first).to_contain_text("三里屯太古里店")
        expect(page.locator("#store-table")).not_to_contain_text(world.flagship.name)

    context.close()


def test_a_guide_sees_her_store_on_a_phone(
    transactional_db: None, live_server: Any, world: Any, browser: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)
    page = context.new_page()
    page.set_default_timeout(15_000)
    step = Steps(page, request.node.name)

    with step("sign-in"):
        _sign_in(page, base, reverse("guide:login"), personas.GUIDE_A.username)
        expect(page).to_have_url(re.compile(re.escape(base + reverse("guide:home")) + r"$"))

    with step("her-store-on-the-home-page"):
        expect(page.locator("body")).to_contain_text(world.flagship.name)
        expect(page.locator("body")).not_to_contain_text(world.sh2.name)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"

    with step("her-store-page"):
        page.click(f"a[href='{reverse('guide:store')}']")
        expect(page).to_have_url(re.compile(re.escape(reverse("guide:store")) + r"$"))
        expect(page.locator("body")).to_contain_text(world.flagship.name)
        expect(page.locator("body")).to_contain_text(world.flagship.address)

    context.close()
