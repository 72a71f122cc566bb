from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from siyu.platform.access import scope_of


def siyu_context(request: HttpRequest) -> dict[str, Any]:
    return {"viewer_scope": scope_of(request), "siyu_languages": settings.LANGUAGES}
