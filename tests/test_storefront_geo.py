"""Great-circle distances (siyu.platform.geo): the mall's nearest store and, later, allocation's
nearest store that can fill a line stand on these two functions."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from siyu.platform.geo import EARTH_RADIUS_M, Near, by_distance, distance_m, nearest


def test_a_degree_of_meridian_and_half_the_equator_are_what_the_sphere_says() -> None:
    assert distance_m(0, 0, 1, 0) == round(EARTH_RADIUS_M * math.pi / 180) == 111_195
    assert distance_m(0, 0, 0, 180) == round(EARTH_RADIUS_M * math.pi) == 20_015_114
    assert distance_m(90, 0, -90, 0) == 20_015_114  # pole to pole
    assert distance_m(0, 179.5, 0, -179.5) == 111_195  # across the antimeridian, the short way


def test_distances_between_real_places_match_published_haversine_figures() -> None:
    # London (51.5074, -0.1278) to Paris (48.8566, 2.3522): 343.56 km on a 6,371 km sphere.
    assert distance_m(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343_557, abs=40)
    # People's Square, Shanghai to Tiananmen, Beijing: about 1,068 km as the crow flies.
    assert 1_060_000 < distance_m(31.2304, 121.4737, 39.9087, 116.3975) < 1_075_000


def test_distance_is_symmetric_zero_for_one_point_and_takes_decimals_from_the_store_table() -> None:
    flagship = (Decimal("31.229800"), Decimal("121.459500"))  # SH001, as stored (DecimalField)
    wujiaochang = (Decimal("31.299400"), Decimal("121.514600"))  # SH002
    there = distance_m(*flagship, *wujiaochang)
    assert there == distance_m(*wujiaochang, *flagship) == 9_345
    assert distance_m(*flagship, *flagship) == 0
    assert isinstance(there, int)


@pytest.mark.parametrize(
    ("lat", "lng", "error"),
    [
        (90.0001, 0, ValueError),
        (-91, 0, ValueError),
        (0, 180.5, ValueError),
        (float("nan"), 0, ValueError),
        (0, float("inf"), ValueError),
        ("31.2", 121.4, TypeError),
        (None, 121.4, TypeError),
        (True, 121.4, TypeError),
    ],
)
def test_impossible_coordinates_are_refused_with_a_reason(lat: object, lng: object, error: type) -> None:
    with pytest.raises(error):
        distance_m(lat, lng, 31.2, 121.4)  # type: ignore[arg-type]
    with pytest.raises(error):
        nearest([("SH001", 31.2, 121.4)], (lat, lng))  # type: ignore[arg-type]


def test_nearest_picks_the_closest_store_and_says_how_far_it_is() -> None:
    stores = [
        ("SH001", Decimal("31.229800"), Decimal("121.459500")),  # 南京西路
        ("SH002", Decimal("31.299400"), Decimal("121.514600")),  # 五角场
        ("HZ001", Decimal("30.257900"), Decimal("120.163600")),  # 杭州湖滨
    ]
    near_wujiaochang = (31.3010, 121.5120)
    found = nearest(stores, near_wujiaochang)
    assert found == Near("SH002", distance_m(31.2994, 121.5146, 31.3010, 121.5120))
    assert found is not None and found.distance_m < 400
    assert [n.key for n in by_distance(stores, near_wujiaochang)] == ["SH002", "SH001", "HZ001"]
    assert nearest(stores, (30.26, 120.17)) == Near("HZ001", distance_m(30.2579, 120.1636, 30.26, 120.17))


def test_nearest_of_nothing_is_none_and_ties_go_to_the_point_given_first() -> None:
    assert nearest([], (31.2, 121.4)) is None
    assert by_distance([], (31.2, 121.4)) == []
    twins = [("B", 31.0, 121.0), ("A", 31.0, 121.0), ("C", 31.0, 121.0)]
    assert nearest(twins, (31.1, 121.1)) == Near("B", distance_m(31.0, 121.0, 31.1, 121.1))
    assert [n.key for n in by_distance(twins, (31.1, 121.1))] == ["B", "A", "C"]
    # any hashable key: a store id, a (store, sku) pair
    assert nearest([((7, 42), 31.0, 121.0)], (31.0, 121.0)) == Near((7, 42), 0)
