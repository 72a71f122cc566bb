"""Distances on the Earth's surface: the great-circle (haversine) distance in whole metres, and the
nearest of a set of points. Pure functions, no I/O, no business rule: the mall uses them to find a
customer's nearest store and to show how far a store is; allocation uses them to send an order line
to the nearest store that can fill it.

Coordinates are WGS-84 degrees (latitude first); ``Decimal`` (as stored on a store), ``int`` and
``float`` are all accepted. The Earth is taken as a sphere of the IUGG mean radius: over the tens of
kilometres of a city the error against the ellipsoid stays under 0.5%, far below what decides which
store is nearer, and the same inputs always give the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius (R1)

K = TypeVar("K", bound=Hashable)
Degrees = float | int | Decimal


def _degrees(value: Degrees, name: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, float | int | Decimal):
        raise TypeError(f"{name} is a number of degrees, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ValueError(f"{name} {value} is outside -{limit:g}..{limit:g} degrees")
    return number


def _point(lat: Degrees, lng: Degrees) -> tuple[float, float]:
    return _degrees(lat, "latitude", 90), _degrees(lng, "longitude", 180)


def _haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_m(lat1: Degrees, lng1: Degrees, lat2: Degrees, lng2: Degrees) -> int:
    """The great-circle distance between two points, rounded to whole metres.

    Raises ``ValueError`` for a latitude outside ±90° or a longitude outside ±180° (or not finite),
    ``TypeError`` for something that is not a number."""
    a, b = _point(lat1, lng1), _point(lat2, lng2)
    return round(_haversine_m(a[0], a[1], b[0], b[1]))


@dataclass(frozen=True)
class Near(Generic[K]):
    """One point of a set, with its distance from the origin."""

    key: K
    distance_m: int


def by_distance(points: Iterable[tuple[K, Degrees, Degrees]], origin: tuple[Degrees, Degrees]) -> list[Near[K]]:
    """Every point ``(key, lat, lng)`` with its distance from ``origin`` ``(lat, lng)``, nearest
    first. Points at the same whole-metre distance keep the order they were given in, so a caller
    that lists its stores by code gets the same answer every time."""
    o_lat, o_lng = _point(*origin)
    found = []
    for key, lat, lng in points:
        p_lat, p_lng = _point(lat, lng)
        found.append(Near(key, round(_haversine_m(o_lat, o_lng, p_lat, p_lng))))
    found.sort(key=lambda n: n.distance_m)  # stable: ties keep the input order
    return found


def nearest(points: Iterable[tuple[K, Degrees, Degrees]], origin: tuple[Degrees, Degrees]) -> Near[K] | None:
    """The point ``(key, lat, lng)`` nearest to ``origin`` ``(lat, lng)`` with its distance, or
    ``None`` when there are no points. Ties go to the point given first."""
    ranked = by_distance(points, origin)
    return ranked[0] if ranked else None
