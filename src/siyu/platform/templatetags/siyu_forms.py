"""Template filters for forms: ``{% load siyu_forms %}``."""

from __future__ import annotations

from django import forms, template

register = template.Library()

NOT_FILTERS = frozenset({"page", "zoom"})  # paging and the map's zoom are views, not filters


@register.filter
def active_filters(form: forms.BaseForm) -> int:
    """How many filters of a (GET) filter form are set: the fields sent with a value."""
    if not form.is_bound:
        return 0
    data = form.data
    return len(
        [
            name
            for name in form.fields
            if name not in NOT_FILTERS and any(str(v).strip() for v in data.getlist(name, []))  # type: ignore[attr-defined]
        ]
    )
