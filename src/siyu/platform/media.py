"""Serving uploaded files (``MEDIA_ROOT``, e.g. product pictures) from the app itself: for the
embedded default and the demo, where no web server stands in front of siyu.

Only regular files strictly inside ``MEDIA_ROOT`` are served, resolved with symbolic links followed
(``..``, absolute paths, links pointing out: 404), only of the picture and short-video types the platform stores,
with their type fixed by the extension, ``nosniff``, a sandboxing content-security policy (an SVG
cannot run a script even when opened on its own) and a day of caching (names are random and never
reused). Single byte ranges (``Range: bytes=…``) are answered with 206, as iOS Safari asks for
before it plays a video. In production the reverse proxy serves ``MEDIA_ROOT`` at ``MEDIA_URL`` instead (README,
"Running in production"); this view then never sees a request.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
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


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` (inclusive) of a single ``Range: bytes=…`` header over a file of ``size``
    bytes, clipped to the file; ``None`` when the header is absent or not one range this view
    answers (then the whole file is sent); ``(size, size)`` when it cannot be satisfied (416)."""
    match = RANGE.match(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":  # the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return (size, size)
        return (max(size - suffix, 0), size - 1)
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        return (size, size)
    return (first, min(last, size - 1))


def _slice(handle: BinaryIO, first: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(first)
        while length > 0:
            block = handle.read(min(CHUNK, length))
            if not block:
                return
            length -= len(block)
            yield block


@access(PUBLIC)
@require_GET
def media(request: HttpRequest, name: str) -> HttpResponse | FileResponse | StreamingHttpResponse:
    target = resolve(name)
    if target is None:
        raise Http404("no such file")
    size = target.stat().st_size
    wanted = byte_range(request.headers.get("Range", ""), size)
    response: HttpResponse | FileResponse | StreamingHttpResponse
    if wanted is None:
        response = FileResponse(target.open("rb"), content_type=TYPES[target.suffix.lower()])
    elif wanted[0] >= size:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    else:
        first, last = wanted
        response = StreamingHttpResponse(
            _slice(target.open("rb"), first, last - first + 1), status=206, content_type=TYPES[target.suffix.lower()]
        )
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"
    return response


# --- short videos (benchmark wall, knowledge base) ------------------------------------------------
MP4_BRANDS = (b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"qt  ", b"dash", b"MSNV")


def sniff_video(head: bytes) -> str | None:
    """The extension (``".mp4"``, ``".mov"``, ``".webm"``) read from a video's first 64 bytes —
    never from its name or the browser's word — or ``None`` when they are not an MP4/QuickTime
    (``ftyp`` box of a known brand) or WebM (EBML header naming ``webm``) file."""
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return ".webm"
    return None


def store_video(chunks: Iterable[bytes], directory: str, *, max_bytes: int, field: str = "video") -> str:
    """Write an uploaded video under ``MEDIA_ROOT/directory`` with a random name, streaming its
    chunks (never the whole file in memory), and return its name relative to ``MEDIA_ROOT``.
    Its type is checked by content and its size as it arrives; a refused video leaves no file and
    raises :class:`ValidationError` on ``field`` saying what to upload instead."""
    folder = Path(settings.MEDIA_ROOT) / directory
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{secrets.token_hex(16)}.part"
    head = b""
    written = 0
    error: str | None = None
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                written += len(chunk)
                if written > max_bytes:
                    error = _("A video is at most %(size)s; this one is larger.") % {"size": filesizeformat(max_bytes)}
                    break
                out.write(chunk)
        kind = sniff_video(head)
        if error is None and (written == 0 or kind is None):
            error = _("Upload an MP4, MOV or WebM video.")
        if error is not None:
            raise ValidationError({field: error})
        assert kind is not None
        name = f"{directory}/{secrets.token_hex(16)}{kind}"
        partial.rename(Path(settings.MEDIA_ROOT) / name)
        return name
    finally:
        partial.unlink(missing_ok=True)


def urlpatterns() -> list[URLPattern]:
    """``MEDIA_URL<name>`` -> :func:`media`, when ``MEDIA_URL`` is a local path (``/media/``)."""
    prefix = str(settings.MEDIA_URL or "").lstrip("/")
    if not prefix or "://" in str(settings.MEDIA_URL):
        return []
    return [path(f"{prefix}<path:name>", media, name="media")]
