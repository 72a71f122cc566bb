"""The pure rules of the store pages: opening hours at a moment, time windows, how a guide is shown,
the map link, how far a store is."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from siyu.catalog.storefront import Hours, guide_face, hours_at, map_link, shown_at
from siyu.catalog.templatetags.storefront import distance

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 23, hh, mm, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("hours", "when", "open_now"),
    [
        ("10:00-22:00", at(9, 59), False),
        ("10:00-22:00", at(10, 0), True),
        ("10:00-22:00", at(21, 59), True),
        ("10:00-22:00", at(22, 0), False),
        ("22:00-02:00", at(23, 30), True),  # past midnight
        ("22:00-02:00", at(1, 59), True),
        ("22:00-02:00", at(2, 0), False),
        ("22:00-02:00", at(12, 0), False),
        ("00:00-24:00", at(3, 0), True),
    ],
)
def test_a_store_is_open_between_its_hours_read_in_local_time(hours: str, when: dt.datetime, open_now: bool) -> None:
    found = hours_at(hours, when)
    assert found is not None and found.open_now is open_now
    assert hours_at(hours, when.astimezone(dt.UTC)) == found  # the same moment in UTC reads the same


def test_hours_say_when_it_opens_and_closes_and_unreadable_hours_are_none() -> None:
    assert hours_at("09:30-21:30", at(12)) == Hours(opens="09:30", closes="21:30", open_now=True)
    for bad in ("", "10-22", "10:00-10:00", "25:00-26:00", "10:00–22:00", "全天"):
        assert hours_at(bad, at(12)) is None


def test_a_time_window_includes_its_start_and_excludes_its_end() -> None:
    start, end = at(10), at(12)
    assert not shown_at(start, end, at(9, 59))
    assert shown_at(start, end, start)
    assert not shown_at(start, end, end)
    assert shown_at(None, None, at(3)) and shown_at(None, end, at(3)) and shown_at(start, None, at(23))


@pytest.mark.parametrize(
    ("name", "shown", "initial"),
    [
        ("陈静", "陈静", "陈"),
        ("王小明", "小明", "王"),
        ("欧阳娜娜", "娜娜", "欧"),
        ("欧阳娜", "欧阳娜", "欧"),
        ("Anna Li", "Anna", "A"),
        ("", "", ""),
    ],
)
def test_a_guide_goes_by_her_given_name_and_her_avatar_shows_an_initial(name: str, shown: str, initial: str) -> None:
    assert guide_face(name) == (shown, initial)


def test_the_map_link_opens_amap_at_the_store_and_loads_nothing() -> None:
    link = map_link(31.2298, 121.4595, "南京西路旗舰店 & 1")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "uri.amap.com", "/marker")
    query = parse_qs(parts.query)
    assert query["position"] == ["121.459500,31.229800"]  # AMap wants longitude first
    assert query["name"] == ["南京西路旗舰店 & 1"] and query["coordinate"] == ["wgs84"]


@pytest.mark.parametrize(
    ("metres", "en", "zh"),
    [(0, "0 m", "0 米"), (850, "850 m", "850 米"), (9345, "9.3 km", "9.3 公里"), (1_068_140, "1,068 km", "1,068 公里")],
)
def test_a_distance_reads_in_metres_then_kilometres(metres: int, en: str, zh: str) -> None:
    with translation.override("en"):
        assert distance(metres) == en
    with translation.override("zh-hans"):
        assert distance(metres) == zh
    assert distance(None) == "" and distance(-1) == "" and distance("9") == ""
