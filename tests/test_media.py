"""Uploaded media served by the app: single byte ranges (iOS Safari asks for them before it plays a
video) and short videos streamed to disk, checked by their bytes, never kept when refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from siyu.platform import media

MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8  # 2,060 bytes
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    (settings.MEDIA_ROOT / "clip.mp4").write_bytes(MP4)
    with translation.override("en"):
        yield settings.MEDIA_ROOT


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


# --- byte ranges ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 2059)),
        ("bytes=-60", (2000, 2059)),
        ("bytes=-5000", (0, 2059)),
        ("bytes=2000-9999", (2000, 2059)),
        ("bytes=2060-", (2060, 2060)),  # starts past the end: 416
        ("bytes=50-10", (2060, 2060)),
        ("bytes=-0", (2060, 2060)),
        ("bytes=0-1,5-9", None),  # several ranges: the whole file
        ("items=0-9", None),
        ("bytes=-", None),
    ],
)
def test_a_range_header_is_read_and_clipped_to_the_file(header: str, expected: tuple[int, int] | None) -> None:
    assert media.byte_range(header, 2060) == expected


@pytest.mark.django_db
def test_a_video_is_served_in_the_ranges_a_phone_asks_for(root: Path, client: Client) -> None:
    whole = client.get("/media/clip.mp4")
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes" and whole["Content-Type"] == "video/mp4"
    assert _body(whole) == MP4

    probe = client.get("/media/clip.mp4", HTTP_RANGE="bytes=0-1")  # what iOS Safari sends first
    assert probe.status_code == 206
    assert probe["Content-Range"] == f"bytes 0-1/{len(MP4)}" and probe["Content-Length"] == "2"
    assert _body(probe) == MP4[:2]

    middle = client.get("/media/clip.mp4", HTTP_RANGE="bytes=1000-1999")
    assert middle.status_code == 206 and _body(middle) == MP4[1000:2000]
    assert middle["X-Content-Type-Options"] == "nosniff" and "sandbox" in middle["Content-Security-Policy"]

    tail = client.get("/media/clip.mp4", HTTP_RANGE="bytes=-10")
    assert tail.status_code == 206 and _body(tail) == MP4[-10:]
    assert tail["Content-Range"] == f"bytes {len(MP4) - 10}-{len(MP4) - 1}/{len(MP4)}"

    past = client.get("/media/clip.mp4", HTTP_RANGE=f"bytes={len(MP4)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(MP4)}"

    assert client.get("/media/../clip.mp4", HTTP_RANGE="bytes=0-1").status_code == 404


# --- storing videos --------------------------------------------------------------------------------
def test_videos_are_known_by_their_bytes() -> None:
    assert media.sniff_video(MP4) == ".mp4"
    assert media.sniff_video(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") == ".mov"
    assert media.sniff_video(WEBM) == ".webm"
    assert media.sniff_video(b"\x1a\x45\xdf\xa3\x01\x00") is None  # Matroska, but not WebM
    assert media.sniff_video(b"\x00\x00\x00\x18ftypjunk") is None
    assert media.sniff_video(b"\x89PNG\r\n\x1a\n") is None


def test_a_video_is_streamed_to_disk_from_its_chunks(root: Path) -> None:
    chunks = (MP4[i : i + 7] for i in range(0, len(MP4), 7))  # the head arrives split across chunks
    name = media.store_video(chunks, "wall", max_bytes=10_000)
    assert name.startswith("wall/") and name.endswith(".mp4")
    assert (root / name).read_bytes() == MP4
    assert sorted(p.name for p in (root / "wall").iterdir()) == [Path(name).name]  # no partial file left


@pytest.mark.parametrize(
    ("chunks", "limit", "message"),
    [
        ([b"<html>not a video</html>"], 10_000, "Upload an MP4, MOV or WebM video."),
        ([], 10_000, "Upload an MP4, MOV or WebM video."),
        ([MP4[:1000], MP4[1000:]], 1_500, "A video is at most 1.5\xa0KB; this one is larger."),
    ],
)
def test_a_refused_video_leaves_nothing_and_says_why(root: Path, chunks: list[bytes], limit: int, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        media.store_video(iter(chunks), "wall", max_bytes=limit, field="clip")
    assert err.value.message_dict == {"clip": [message]}
    assert list((root / "wall").iterdir()) == []
