"""The customer surfaces in a real browser (headless Chromium, Playwright), the walks that caught
the most: the HQ menu and the folded filters on a phone, and the scan page confirming a number with
the texted code (the SMS sandbox shows it) before her profile shows anything of her.

Screenshots of a failing step land in ``test-results/`` (ignored by git).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from siyu.demo import personas
from tests import test_browser
from tests.test_browser import Steps, _sign_in, in_the_database, no_sideways_scroll, on_a_phone

browser = test_browser.browser  # the headless Chromium fixture of the browser tests

pytestmark = pytest.mark.browser
DESK = {"width": 1280, "height": 800}


def test_the_hq_menu_and_the_customer_filters_fold_on_a_phone_and_open_by_keyboard(
    transactional_db: None, live_server: Any, world: Any, browser: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    context, page = on_a_phone(browser)
    step = Steps(page, request.node.name)

    with step("sign-in"):
        _sign_in(page, base, reverse("hq:login"), personas.HQ_OPERATOR.username)

    with step("the-menu-is-one-folded-button"):
        page.goto(base + reverse("hq:customer_list"))
        expect(page.locator(".navgroups")).to_be_hidden()
        summary = page.locator("details.navmenu > summary")
        expect(summary).to_be_visible()
        expect(summary).to_contain_text("顾客")  # the current group
        expect(page.locator(".navmenu-panel")).to_be_hidden()
        no_sideways_scroll(page)

    with step("the-keyboard-opens-it-and-follows-a-page"):
        summary.focus()
        page.keyboard.press("Enter")
        panel = page.locator(".navmenu-panel")
        expect(panel).to_be_visible()
        groups = panel.locator("h2").all_inner_texts()
        assert groups[:3] == ["概览", "组织架构", "顾客"] and "系统" not in groups  # no audit, no tokens for her
        no_sideways_scroll(page)
        panel.get_by_role("link", name="合并记录").click()
        expect(page).to_have_url(re.compile(re.escape(reverse("hq:merge_list")) + r"$"))

    with step("the-filters-fold-and-count"):
        page.goto(base + reverse("hq:customer_list"))
        toggle = page.locator("details.filter-box > summary")
        expect(toggle).to_have_text("筛选（0）")
        expect(page.locator("form.filters")).to_be_hidden()
        toggle.click()
        page.select_option("form.filters select[name=lifecycle]", "active")
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state()
        expect(page.locator("details.filter-box > summary")).to_have_text("筛选（1）")
        expect(page.locator("form.filters")).to_be_hidden()
        no_sideways_scroll(page)

    context.close()

    with step("on-a-desk-the-groups-and-the-current-groups-pages"):
        desk = browser.new_context(viewport=DESK, locale="zh-CN")
        page = desk.new_page()
        step.page = page
        _sign_in(page, base, reverse("hq:login"), personas.HQ_OPERATOR.username)
        page.goto(base + reverse("hq:import_list"))
        expect(page.locator("details.navmenu")).to_be_hidden()
        expect(page.locator(".navgroups a[aria-current=true]")).to_have_text("顾客")
        expect(page.locator(".subnav a[aria-current=page]")).to_have_text("导入")
        page.goto(base + reverse("hq:customer_list"))
        expect(page.locator("form.filters")).to_be_visible()  # a desk shows the filters unfolded
        expect(page.locator("details.filter-box > summary")).to_be_hidden()
        desk.close()


def test_the_scan_page_confirms_a_number_with_the_texted_code_before_it_shows_her_anything(
    transactional_db: None, live_server: Any, world: Any, browser: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    from siyu.members import codes
    from siyu.org import services as org

    base = live_server.url
    code = in_the_database(
        lambda: codes.create_code(org.hq_scope(world.brand.pk, "test"), kind="store", store=world.flagship.pk)
    )
    scan = f"{base}{reverse('scan', args=[code.token])}"
    me = f"{base}{reverse('mall_me', args=[world.flagship.code])}"
    number = personas.CUSTOMER_PHONE

    impostor, page = on_a_phone(browser)
    step = Steps(page, request.node.name)

    with step("a-typed-number-without-the-code-shows-nothing-of-her"):
        page.goto(scan)
        page.fill("input[name=phone]", number)
        page.click("form.scan-form button.primary")
        page.wait_for_load_state()
        expect(page.locator("body")).to_contain_text("未验证")
        page.goto(me)
        expect(page.locator("body")).not_to_contain_text("138****8000")
        expect(page.locator("body")).not_to_contain_text(personas.CUSTOMER_NAME)
    impostor.close()

    context, page = on_a_phone(browser)
    step.page = page

    with step("she-asks-for-a-code-and-the-sandbox-shows-it"):
        page.goto(scan)
        page.fill("input[name=phone]", number)
        page.click("button[value=send_code]")
        page.wait_for_load_state()
        sandbox = page.locator(".sandbox-sms")
        expect(sandbox).to_contain_text("短信沙箱")
        texted = page.locator(".sandbox-code").inner_text().strip()
        assert re.fullmatch(r"\d{6}", texted)
        expect(page.locator("input[name=phone]")).to_have_value(number)  # kept for the next step
        no_sideways_scroll(page)

    with step("a-wrong-code-is-refused"):
        page.fill("input[name=code]", f"{(int(texted) + 1) % 10**6:06d}")
        page.click("form.scan-form button.primary")
        page.wait_for_load_state()
        expect(page.locator("[data-field=code] .field-error")).to_be_visible()

    with step("the-right-code-links-her-membership"):
        page.fill("input[name=code]", texted)
        page.click("form.scan-form button.primary")
        page.wait_for_load_state()
        expect(page.locator("h1")).to_have_text("欢迎回来！")
        page.click("text=我的资料与授权")
        expect(page).to_have_url(me)
        expect(page.locator("body")).to_contain_text("138****8000")
        no_sideways_scroll(page)

    context.close()
