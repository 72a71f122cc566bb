"""The performance feed: reports, likes once each, comments, who sees what, HQ hides."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from siyu.contests import feed
from siyu.contests.models import FeedPost


def png(width: int = 80, height: int = 80) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_likes_count_once_per_person(world: Any, scope_of: Any) -> None:
    chen, liu = scope_of(world.staff["guide_a"]), scope_of(world.staff["guide_b"])
    post = feed.publish(chen, "今天成交 12 单，新增好友 8 位！")
    assert feed.like(liu, post.pk) == feed.Liked(True, 1)
    assert feed.like(liu, post.pk) == feed.Liked(False, 1)
    assert feed.like(chen, post.pk).likes == 2
    feed.comment(liu, post.pk, "太棒了，学习！")
    post.refresh_from_db()
    assert (post.likes, post.comments) == (2, 1)
    assert [c.text for c in feed.comments(post)] == ["太棒了，学习！"]


def test_who_sees_what_follows_hqs_policy(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    chen, sun, he = (scope_of(s) for s in (world.staff["guide_a"], world.other_guide, world.south_guide))
    east_post = feed.publish(sun, "五角场店今日战报")
    south_post = feed.publish(he, "天河城店今日战报")

    def seen(scope: Any) -> set[int]:
        return set(feed.posts(scope, workbench=True).values_list("pk", flat=True))

    assert seen(chen) == {east_post.pk}  # default: her branch company
    feed.set_audience(hq, "brand")
    assert seen(chen) == {east_post.pk, south_post.pk}
    feed.set_audience(hq, "store")
    assert seen(chen) == set()
    with pytest.raises(Http404):
        feed.like(chen, east_post.pk)  # out of her reach: as if it did not exist
    with pytest.raises(PermissionDenied):
        feed.set_audience(chen, "brand")
    rival = scope_of(world.rival_guide)
    assert not feed.posts(rival, workbench=True).filter(pk__in=[east_post.pk, south_post.pk]).exists()


def test_hq_hides_a_post_from_everyone(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_operator"])
    chen, liu = scope_of(world.staff["guide_a"]), scope_of(world.staff["guide_b"])
    post = feed.publish(chen, "不合规的内容")
    with pytest.raises(PermissionDenied):
        feed.hide(scope_of(world.staff["store_manager"]), post.pk)
    feed.hide(hq, post.pk, reason="含竞品信息")
    assert not feed.posts(liu, workbench=True).filter(pk=post.pk).exists()
    assert feed.posts(hq, with_hidden=True).filter(pk=post.pk).exists()
    feed.hide(hq, post.pk, hidden=False)
    assert feed.posts(liu, workbench=True).filter(pk=post.pk).exists()


def test_a_report_needs_text_and_a_real_picture(world: Any, scope_of: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    chen = scope_of(world.staff["guide_a"])
    with pytest.raises(ValidationError):
        feed.publish(chen, "   ")
    with pytest.raises(ValidationError):
        feed.publish(chen, "附图", picture=b"<svg onload=alert(1)>")
    assert FeedPost.objects.count() == 0
    post = feed.publish(chen, "附图", picture=png())
    assert post.picture.name.endswith(".png") and (tmp_path / post.picture.name).exists()
    with pytest.raises(PermissionDenied):
        feed.publish(scope_of(world.staff["hq_operator"]), "HQ is not a guide")
