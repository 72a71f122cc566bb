from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from siyu.platform import nav
from siyu.platform.access import scope_of


def siyu_context(request: HttpRequest) -> dict[str, Any]:
    # ``hq_menu`` is built only where a template reads it (templates call a callable value).
    return {
        "viewer_scope": scope_of(request),
        "siyu_languages": settings.LANGUAGES,
        "hq_menu": functools.partial(nav.hq_menu, request),
    }
