"""Every link on the guide's pages leads somewhere: signed in as a guide (and as a store manager,
who sees more), start at the workbench home and the Today tab with a task of every kind open,
follow each link found on each page reached (the tab bar, the Today tab's tiles to coins, rank,
wall, feed, learning, contests and the reward mall, each task's one-tap page and what it links to),
and every one answers 200."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from siyu.learning import services as learning
from siyu.platform import clock
from siyu.tasks import services as tasks
from siyu.tasks.models import Kind

NOW = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)
MAX_PAGES = 150


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href is not None:
                self.hrefs.append(href)


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def _followed(page: str, href: str) -> str | None:
    """The path to follow for a link of a guide page; ``None`` for what is no page of ours."""
    assert href not in ("", "#"), f"a link that leads nowhere on {page}"
    parts = urlsplit(href)
    if parts.scheme in ("tel", "mailto", "sms") or (parts.scheme and parts.netloc):
        return None  # a phone number to call, an outside map
    url, _frag = urldefrag(urljoin(page, href))  # "?page=2" is relative to the page it is on
    if url.startswith(("/static/", "/media/")):
        return None
    return url


def crawl(c: Client, starts: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    queue = list(starts)
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        response = c.get(url)
        seen[url] = response.status_code
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        if not (url.startswith("/guide/") or url == "/guide"):
            continue  # a page outside the workbench (the store mall): checked, not crawled
        for href in links_of(response.content.decode()):
            found = _followed(url, href)
            if found and found not in seen:
                queue.append(found)
    return seen


@pytest.fixture
def every_kind(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    guides = [world.staff["guide_a"].pk, world.staff["store_manager"].pk]
    with clock.frozen(NOW):
        article = learning.create_article(hq, learning.ArticleIn(title="卖点", summary="三句话", body="正文"))
        for kind, extra in (
            (Kind.FORWARD, {"share_channel": "moments"}),
            (Kind.FANS, {}),
            (Kind.STORE_ACTION, {}),
            (Kind.LEARN, {"learn_kind": "read", "learn_ref": article.pk}),
            (Kind.SALES, {"target": 2}),
        ):
            task = tasks.create_task(
                hq,
                title=f"任务 {kind}",
                kind=kind,
                guide_ids=guides,
                roles=["guide", "store_manager"],
                starts_at=NOW,
                deadline_at=NOW + dt.timedelta(hours=12),
                coins=5,
                **extra,
            )
            tasks.publish(hq, task.pk)


@pytest.mark.parametrize("who", ["guide_a", "store_manager"])
def test_every_link_on_the_guide_pages_answers_200(world: Any, every_kind: None, who: str) -> None:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    world.login(c, who)
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        seen = crawl(c, [reverse("guide:home"), reverse("guide:today")])
    broken = {url: code for url, code in seen.items() if code != 200}
    assert not broken, broken
    # the Today tab links the pages of issue 6, and each task's page was reached
    for name in (
        "guide:incentives_coins",
        "guide:incentives_rank",
        "guide:incentives_wall",
        "guide:incentives_mall",
        "guide:feed",
        "guide:learn_home",
        "guide:my_contests",
    ):
        assert reverse(name) in seen, name
    assert sum(1 for url in seen if url.startswith("/guide/today/tasks/")) >= 5
