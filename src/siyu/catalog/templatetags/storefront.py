"""Template filters of the store mall: ``{% load storefront %}`` then ``{{ distance_m|distance }}``
(850 m, 3.2 km)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def distance(metres: Any) -> str:
    """Whole metres as a phone shows them: ``850 m`` below a kilometre, ``3.2 km`` below 100 km,
    ``1,068 km`` beyond; nothing for an unknown distance."""
    if not isinstance(metres, int) or isinstance(metres, bool) or metres < 0:
        return ""
    if metres < 1000:
        return _("%(n)s m") % {"n": metres}
    km = metres / 1000
    return _("%(n)s km") % {"n": f"{km:.1f}" if km < 100 else f"{round(km):,}"}
