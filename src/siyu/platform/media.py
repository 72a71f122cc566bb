"""Serving uploaded files (``MEDIA_ROOT``, e.g. product pictures) from the app itself: for the
embedded default and the demo, where no web server stands in front of siyu.

Only regular files strictly inside ``MEDIA_ROOT`` are served, resolved with symbolic links followed
(``..``, absolute paths, links pointing out: 404), only of the picture and short-video types the platform stores,
with their type fixed by the extension, ``nosniff``, a sandboxing content-security policy (an SVG
cannot run a script even when opened on its own) and a day of caching (names are random and never
reused). In production the reverse proxy serves ``MEDIA_ROOT`` at ``MEDIA_URL`` instead (README,
"Running in production"); this view then never sees a request.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from siyu.platform.access import PUBLIC, access

TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    # short videos of the benchmark wall (incentives) and the knowledge base (learning), checked by content on upload
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}


def resolve(name: str) -> Path | None:
    """The file ``name`` names under ``MEDIA_ROOT``, or ``None`` when it is outside, missing, not a
    regular file or not a type the platform stores (pictures, short videos)."""
    root = Path(settings.MEDIA_ROOT).resolve()
    if not name or "\x00" in name or name.startswith(("/", "\\")):
        return None
    try:
        target = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if root not in target.parents or not target.is_file() or target.suffix.lower() not in TYPES:
        return None
    return target


@access(PUBLIC)
@require_GET
def media(request: HttpRequest, name: str) -> FileResponse:
    target = resolve(name)
    if target is None:
        raise Http404("no such file")
    response = FileResponse(target.open("rb"), content_type=TYPES[target.suffix.lower()])
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"
    return response


def urlpatterns() -> list[URLPattern]:
    """``MEDIA_URL<name>`` -> :func:`media`, when ``MEDIA_URL`` is a local path (``/media/``)."""
    prefix = str(settings.MEDIA_URL or "").lstrip("/")
    if not prefix or "://" in str(settings.MEDIA_URL):
        return []
    return [path(f"{prefix}<path:name>", media, name="media")]
