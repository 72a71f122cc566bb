"""The segment pages: HQ's list, builder (form post and the live-count endpoint with problems at
their paths), page per segment (summary, history chart, runs, versions, masked sample),
materialise now, a run's entered / left lists, overlap; who may open them; and the guide's shared
audiences limited to her own customers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.members import services as members
from siyu.org import services as org
from siyu.platform import privacy
from siyu.segments import facts
from siyu.segments import services as segments
from siyu.segments.models import Segment, SegmentRun


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.SIYU_HOME = tmp_path
    yield tmp_path


def leaf(node: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": node}


@pytest.fixture
def runner(world: Any, home: Path) -> dict[str, Any]:
    """A tag 跑步 on guide A's first two customers and on one of guide B's."""
    hq = org.hq_scope(world.brand.pk, "test")
    group = members.create_tag_group(hq, name="兴趣")
    tag = members.create_tag(hq, group=group.pk, name="跑步")
    demo = members.customer_by_phone(world.brand.pk, "13800138000").pk  # guide A's, 张小雨
    a = [demo, next(c for c in world.customers[world.staff["guide_a"].username] if c != demo)]
    b = world.customers[world.staff["guide_b"].username]
    for cid in (a[0], a[1], b[0]):
        members.add_tag(hq, cid, tag.pk)
    facts.refresh_facts(world.brand.pk)
    return {"hq": hq, "tag": tag.pk, "a": a, "b": b}


def client_of(world: Any, key: str) -> Client:
    return world.login(Client(), key)


def count_url() -> str:
    return reverse("hq:segment_count")


def post_count(client: Client, definition: Any) -> Any:
    return client.post(count_url(), json.dumps({"definition": definition}), content_type="application/json")


def test_the_live_count_is_the_services_count_and_problems_come_back_at_their_path(
    world: Any, runner: dict[str, Any]
) -> None:
    client = client_of(world, "hq_operator")
    definition = leaf(
        {
            "type": "and",
            "children": [
                {"type": "tags", "match": "any", "tags": [runner["tag"]]},
                {"type": "attribute", "field": "guide", "in": [world.staff["guide_a"].pk]},
            ],
        }
    )
    answer = post_count(client, definition)
    assert answer.status_code == 200
    assert answer.json()["size"] == segments.count_definition(runner["hq"], definition).size == 2

    bad = leaf(
        {
            "type": "and",
            "children": [
                {"type": "tags", "match": "any", "tags": [runner["tag"]]},
                {
                    "type": "or",
                    "children": [
                        {
                            "type": "event",
                            "event": "order",
                            "count": {"op": ">=", "value": 1},
                            "window": {"last_days": 0},
                        }
                    ],
                },
                {"type": "tags", "match": "any", "tags": [987654]},
            ],
        }
    )
    answer = post_count(client, bad)
    assert answer.status_code == 422
    paths = {e["path"]: e["message"] for e in answer.json()["errors"]}
    assert set(paths) == {"root.children.1.children.0.window.last_days", "root.children.2.tags"}
    assert "987654" in paths["root.children.2.tags"]
    assert post_count(client, "not a definition").status_code == 422
    assert client.post(count_url(), "{", content_type="application/json").status_code == 400


def test_hq_builds_a_segment_through_the_form_and_a_bad_definition_keeps_everything(
    world: Any, runner: dict[str, Any]
) -> None:
    client = client_of(world, "hq_operator")
    page = client.get(reverse("hq:segment_create"))
    assert page.status_code == 200 and b'id="seg-options"' in page.content and b"builder.js" in page.content
    definition = leaf({"type": "tags", "match": "any", "tags": [runner["tag"]]})
    bad = leaf({"type": "and", "children": [{"type": "bucket", "modulo": 10, "buckets": [12]}]})
    refused = client.post(
        reverse("hq:segment_create"), {"name": "跑者", "definition": json.dumps(bad), "schedule_minutes": "60"}
    )
    assert refused.status_code == 400 and not Segment.objects.filter(name="跑者").exists()
    problems = json.loads(re.search(rb'id="seg-problems"[^>]*>(.*?)</script>', refused.content, re.S)[1])  # type: ignore[index]
    assert problems == [{"path": "root.children.0.buckets", "message": "每个桶号须在 0 到总桶数 - 1 之间"}]
    assert json.loads(re.search(rb'id="seg-definition"[^>]*>(.*?)</script>', refused.content, re.S)[1]) == bad  # type: ignore[index]

    made = client.post(
        reverse("hq:segment_create"),
        {"name": "跑者", "definition": json.dumps(definition), "schedule_minutes": "60", "shared_with_guides": "on"},
    )
    seg = Segment.objects.get(brand=world.brand, name="跑者")
    assert made.status_code == 302 and made["Location"] == reverse("hq:segment_detail", args=[seg.pk])
    assert seg.definition == definition and seg.schedule_minutes == 60 and seg.shared_with_guides

    edited = client.post(
        reverse("hq:segment_edit", args=[seg.pk]),
        {"name": "跑者", "definition": json.dumps(leaf({"type": "tags", "match": "none", "tags": [runner["tag"]]}))},
    )
    seg.refresh_from_db()
    assert edited.status_code == 302 and seg.version == 2 and not seg.shared_with_guides
    listing = client.get(reverse("hq:segment_list")).content.decode()
    assert "跑者" in listing and "v2" in listing


def test_the_segment_page_materialises_and_shows_history_versions_a_masked_sample_and_the_run(
    world: Any, runner: dict[str, Any]
) -> None:
    seg = segments.create_segment(
        runner["hq"], name="跑者", definition=leaf({"type": "tags", "match": "any", "tags": [runner["tag"]]})
    )
    client = client_of(world, "hq_admin")
    page = client.get(reverse("hq:segment_detail", args=[seg.pk])).content.decode()
    assert "跑步" in page and "v1" in page and '<svg class="seg-chart"' not in page  # no run yet
    phone = privacy.normalize_phone("13800138000")
    assert phone not in page
    assert privacy.mask_phone(phone) in page  # the demo customer, masked for HQ

    done = client.post(reverse("hq:segment_materialise", args=[seg.pk]))
    assert done.status_code == 302
    run = SegmentRun.objects.get(segment=seg)
    assert (run.size, run.entered, run.left) == (3, 3, 0)
    client.post(reverse("hq:segment_materialise", args=[seg.pk]))
    page = client.get(reverse("hq:segment_detail", args=[seg.pk])).content.decode()
    assert page.count("<circle") == 2 and reverse("hq:segment_run", args=[seg.pk, run.pk]) in page
    shown = client.get(reverse("hq:segment_run", args=[seg.pk, run.pk])).content.decode()
    assert shown.count(reverse("hq:customer_detail", args=[runner["a"][0]])) == 1
    assert phone not in shown and privacy.mask_phone(phone) in shown

    other = segments.create_segment(
        runner["hq"],
        name="A 的顾客",
        definition=leaf({"type": "attribute", "field": "guide", "in": [world.staff["guide_a"].pk]}),
    )
    overlap = client.get(reverse("hq:segment_overlap"), {"a": seg.pk, "b": other.pk}).content.decode()
    assert re.search(r'id="overlap-both">2<', overlap) and re.search(r'id="overlap-a">3<', overlap)
    rival = segments.create_segment(
        org.hq_scope(world.rival_brand.pk),
        name="rival",
        definition=leaf({"type": "bucket", "modulo": 2, "buckets": [0]}),
    )
    assert client.get(reverse("hq:segment_detail", args=[rival.pk])).status_code == 404
    assert client.get(reverse("hq:segment_overlap"), {"a": seg.pk, "b": rival.pk}).status_code == 404
    other_run = segments.materialise(world.brand.pk, other.pk)
    assert client.get(reverse("hq:segment_run", args=[seg.pk, other_run.pk])).status_code == 404


@pytest.mark.parametrize("key", ["region_manager", "store_manager", "guide_a"])
def test_only_hq_opens_the_segment_pages(world: Any, runner: dict[str, Any], key: str) -> None:
    seg = segments.create_segment(
        runner["hq"], name="x", definition=leaf({"type": "bucket", "modulo": 2, "buckets": [0]})
    )
    client = client_of(world, key)
    for url in (
        reverse("hq:segment_list"),
        reverse("hq:segment_detail", args=[seg.pk]),
        reverse("hq:segment_create"),
        reverse("hq:segment_overlap"),
    ):
        assert client.get(url).status_code == 403, url
    assert post_count(client, seg.definition).status_code == 403
    assert client.post(reverse("hq:segment_materialise", args=[seg.pk])).status_code == 403
    assert not SegmentRun.objects.exists()


def test_the_insight_menu_shows_segments_to_hq_only(world: Any, runner: dict[str, Any]) -> None:
    page = client_of(world, "hq_operator").get(reverse("hq:segment_list")).content.decode()
    assert f'href="{reverse("hq:segment_list")}"' in page and ("Insight" in page or "洞察" in page)
    home = client_of(world, "region_manager").get(reverse("hq:home")).content.decode()
    assert reverse("hq:segment_list") not in home


def test_a_guide_sees_the_shared_audiences_limited_to_her_customers_unmasked_as_on_her_list(
    world: Any, runner: dict[str, Any]
) -> None:
    shared = segments.create_segment(
        runner["hq"],
        name="跑者",
        definition=leaf({"type": "tags", "match": "any", "tags": [runner["tag"]]}),
        shared_with_guides=True,
    )
    hidden = segments.create_segment(
        runner["hq"], name="不共享", definition=leaf({"type": "bucket", "modulo": 1, "buckets": [0]})
    )
    segments.materialise(world.brand.pk, shared.pk)
    segments.materialise(world.brand.pk, hidden.pk)
    guide = client_of(world, "guide_a")
    listing = guide.get(reverse("guide:customer_audiences")).content.decode()
    assert "跑者" in listing and "不共享" not in listing
    page = guide.get(reverse("guide:customer_audience", args=[shared.pk])).content.decode()
    for cid in runner["a"][:2]:
        assert reverse("guide:customer_detail", args=[cid]) in page
    assert reverse("guide:customer_detail", args=[runner["b"][0]]) not in page  # guide B's runner
    assert "13800138000" in page  # her own customer, in full as on her customers page
    assert guide.get(reverse("guide:customer_audience", args=[hidden.pk])).status_code == 404
    assert reverse("guide:customer_audiences") in guide.get(reverse("guide:customer_list")).content.decode()

    manager = client_of(world, "store_manager").get(reverse("guide:customer_audience", args=[shared.pk]))
    assert manager.status_code == 200 and "13800138000" not in manager.content.decode()


BAD = [
    {"version": 2, "root": {"type": "wat"}},
    leaf({"type": "and", "children": []}),
    leaf({"type": "attribute", "field": "planet", "in": []}),
    leaf({"type": "attribute", "field": "city", "in": []}),
    leaf({"type": "attribute", "field": "store", "in": ["x"]}),
    leaf({"type": "tags", "match": "some", "tags": []}),
    leaf({"type": "consent", "channel": "fax", "granted": "yes"}),
    leaf({"type": "birthday"}),
    leaf({"type": "birthday", "month": 13}),
    leaf({"type": "event", "event": "Order!", "count": {"op": "~", "value": 1}}),
    leaf(
        {
            "type": "event",
            "event": "order",
            "count": {"op": ">=", "value": -1},
            "window": {"from": "x", "to": "2025-01-01"},
        }
    ),
    leaf(
        {
            "type": "event",
            "event": "order",
            "sum": {"of": "price", "op": ">=", "value": "a"},
            "window": {"last_days": 0},
        }
    ),
    leaf({"type": "event", "event": "order", "sum": {"of": "properties.a-b", "op": ">=", "value": 1}}),
    leaf(
        {
            "type": "event",
            "event": "order",
            "count": {"op": ">=", "value": 1},
            "where": [
                {"property": "1a", "op": "in", "value": []},
                {"column": "nope", "value": [1]},
                {"op": ">", "value": "x"},
                3,
            ],
        }
    ),
    leaf({"type": "event", "event": "order"}),
    leaf({"type": "first_time", "event": "order"}),
    leaf(
        {
            "type": "stopped",
            "event": "order",
            "did": {"from": "2025-02-01", "to": "2025-01-01", "x": 1},
            "not_in_last_days": 0,
        }
    ),
    leaf({"type": "rfm", "score": "x", "min": 4, "max": 2}),
    leaf({"type": "rfm", "score": "r", "min": 9, "max": 9}),
    leaf({"type": "segment", "segment": "a"}),
    leaf({"type": "list", "customers": []}),
    leaf({"type": "bucket", "modulo": 0, "buckets": [], "salt": -1}),
]


def test_every_problem_of_the_language_reads_in_chinese_on_the_pages() -> None:
    from django.utils import translation

    from siyu.segments import dsl
    from siyu.segments.views import problem_text

    messages = {m for d in BAD for _, m in dsl.validate(d, dsl.Known(tags={1}))}
    messages |= {m for _, m in dsl.validate(leaf({"type": "tags", "tags": [5]}), dsl.Known(tags={1}))}
    assert len(messages) > 30
    with translation.override("zh-hans"):
        untranslated = sorted(m for m in messages if not re.search(r"[\u4e00-\u9fff]", problem_text(m)))
    assert not untranslated
    with translation.override("en"):
        assert problem_text("unknown tags: 5") == "unknown tags: 5"
        assert problem_text("something new") == "something new"
