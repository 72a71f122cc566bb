"""The segment builder in a real browser (headless Chromium, Playwright): HQ builds a segment of two
conditions (a tag AND a guide) by clicking — no JSON typed — and the live count matches the
service's count of the definition the page keeps; a bad bucket shows its problem at its own leaf;
the segment is saved, materialised and its size shows; on a phone the builder fits the screen.

Screenshots of a failing step land in ``test-results/`` (ignored by git).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from siyu.demo import personas
from tests import test_browser
from tests.test_browser import PHONE, Steps, _sign_in, in_the_database

browser = test_browser.browser  # the headless Chromium fixture of the browser tests

pytestmark = pytest.mark.browser


@pytest.fixture
def tagged(world: Any, settings: Any, tmp_path: Path) -> dict[str, Any]:
    from siyu.members import services as members
    from siyu.org import services as org
    from siyu.segments import facts

    settings.SIYU_HOME = tmp_path
    hq = org.hq_scope(world.brand.pk, "test")
    group = members.create_tag_group(hq, name="兴趣")
    tag = members.create_tag(hq, group=group.pk, name="跑步")
    a = world.customers[world.staff["guide_a"].username]
    b = world.customers[world.staff["guide_b"].username]
    for cid in (*a[:2], b[0]):
        members.add_tag(hq, cid, tag.pk)
    facts.refresh_facts(world.brand.pk)
    return {"hq": hq, "tag": tag.pk}


def _leaf(i: int) -> str:
    return f'.seg-node[data-path="root.children.{i}"]'


def test_hq_builds_a_segment_by_clicking_and_the_live_count_matches_the_service(
    transactional_db: None,
    live_server: Any,
    world: Any,
    tagged: dict[str, Any],
    browser: Any,
    request: pytest.FixtureRequest,
) -> None:
    from playwright.sync_api import expect

    from siyu.segments import services as segments
    from siyu.segments.models import Segment

    base = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    step = Steps(page, request.node.name)
    count = page.locator("#live-count")

    def service_count() -> int:
        definition = json.loads(page.input_value("input[name=definition]"))
        return in_the_database(lambda: segments.count_definition(tagged["hq"], definition).size)

    with step("sign-in-and-open-the-builder-from-the-menu"):
        _sign_in(page, base, reverse("hq:login"), personas.HQ_OPERATOR.username)
        page.goto(base + reverse("hq:segment_list"))
        expect(page.locator(".navgroups")).to_contain_text("洞察")
        page.click(f"a[href='{reverse('hq:segment_create')}']")
        expect(page).to_have_url(re.compile(re.escape(reverse("hq:segment_create")) + r"$"))
        page.fill("input[name=name]", "旗舰店 A 的跑者")

    with step("first-condition-a-tag"):
        page.click('.seg-node[data-path="root"] > .seg-add button[data-add="condition"]')
        page.select_option(f"{_leaf(0)} > .seg-bar select.seg-kind", "tags")
        page.select_option(f"{_leaf(0)} select[data-key=tags]", [str(tagged["tag"])])
        expect(count).to_have_attribute("data-size", "3")
        assert service_count() == 3

    with step("second-condition-a-guide"):
        page.click('.seg-node[data-path="root"] > .seg-add button[data-add="condition"]')
        page.select_option(f"{_leaf(1)} select[data-key=field]", "guide")
        page.select_option(f"{_leaf(1)} select[data-key=in]", [str(world.staff["guide_a"].pk)])
        expect(count).to_have_attribute("data-size", "2")
        assert service_count() == 2
        expect(page.locator("#live-count-size")).to_have_text("2")

    with step("a-bad-bucket-shows-its-problem-at-its-leaf"):
        page.click('.seg-node[data-path="root"] > .seg-add button[data-add="condition"]')
        page.select_option(f"{_leaf(2)} > .seg-bar select.seg-kind", "bucket")
        page.fill(f"{_leaf(2)} input[data-key=buckets]", "0, 12")
        errors = page.locator(f"{_leaf(2)} > .seg-node-errors")
        expect(errors).to_contain_text("每个桶号须在 0 到总桶数 - 1 之间")
        expect(errors.locator("p")).to_have_attribute("data-path", "root.children.2.buckets")
        expect(page.locator(f"{_leaf(2)} input[data-key=buckets]")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"{_leaf(0)} > .seg-node-errors")).to_be_empty()
        expect(count).not_to_have_attribute("data-size", re.compile(".*"))
        page.click(f"{_leaf(2)} > .seg-bar button.danger")
        expect(count).to_have_attribute("data-size", "2")

    with step("save-and-materialise"):
        page.check("input[name=shared_with_guides]")
        page.click("#segment-form button[type=submit]")
        expect(page).to_have_url(re.compile(r"/hq/segments/\d+/$"))
        saved = in_the_database(lambda: Segment.objects.get(name="旗舰店 A 的跑者"))
        assert [c["type"] for c in saved.definition["root"]["children"]] == ["tags", "attribute"]
        assert saved.shared_with_guides
        page.click("#materialise")
        expect(page.locator("#segment-size")).to_have_text("2")
        expect(page.locator("svg.seg-chart circle")).to_have_count(1)

    context.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = phone.new_page()
    page.set_default_timeout(15_000)
    step = Steps(page, request.node.name + "-phone")
    with step("the-builder-fits-a-phone"):
        _sign_in(page, base, reverse("hq:login"), personas.HQ_OPERATOR.username)
        page.goto(base + reverse("hq:segment_edit", args=[saved.pk]))
        expect(page.locator("#live-count")).to_have_attribute("data-size", "2")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the builder is {width}px wide on a {PHONE['width']}px phone"
    phone.close()
