"""Benchmarks (标杆): rules pick yesterday's best guides, award them once, and the wall shows them
with their notes and a short video checked by content."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from siyu.incentives import benchmarks
from siyu.incentives import services as incentives

DAY = dt.date(2026, 12, 6)
AT = timezone.make_aware(dt.datetime(2026, 12, 6, 14, 0))


def _scores(world: Any) -> None:
    b = world.brand.pk
    for i, (guide, fen) in enumerate(
        [
            (world.staff["guide_a"], 90_000),
            (world.staff["guide_b"], 50_000),
            (world.other_guide, 70_000),
            (world.south_guide, 10_000),
        ]
    ):
        incentives.record(b, "sales_fen", guide.pk, fen, key=f"s{i}", at=AT)


def test_rules_pick_award_once_and_fill_the_wall(world: Any, scope_of: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    b = world.brand.pk
    hq = scope_of(world.staff["hq_admin"])
    _scores(world)
    top = benchmarks.save_rule(hq, title="销冠", metric="sales_fen", how_many=2, minimum=20_000, award_coins=50)
    regional = benchmarks.save_rule(
        hq, title="大区销冠", metric="sales_fen", scope_kind="region", how_many=1, minimum=5_000, award_coins=20
    )
    assert benchmarks.pick(b, DAY) == 2 + 2  # brand top two; East's and South's best
    assert benchmarks.pick(b, DAY) == 0  # a rerun picks and pays nothing more
    a = world.staff["guide_a"].pk
    assert incentives.balance(b, a) == 70 and incentives.balance(b, world.other_guide.pk) == 50
    assert incentives.balance(b, world.south_guide.pk) == 20 and incentives.balance(b, world.staff["guide_b"].pk) == 0
    wall = benchmarks.wall(b)
    assert [(w.rule_id, w.guide_id, w.place) for w in wall] == [
        (top.id, a, 1),
        (top.id, world.other_guide.pk, 2),
        (regional.id, a, 1),
        (regional.id, world.south_guide.pk, 1),
    ]
    mine = wall[0]
    with pytest.raises(incentives.CoinError):
        benchmarks.write_up(b, world.other_guide.pk, mine.id, notes="not mine")
    fake = SimpleUploadedFile("clip.mp4", b"<html>not a video</html>", content_type="video/mp4")
    with pytest.raises(incentives.CoinError):
        benchmarks.write_up(b, a, mine.id, notes="x", video=fake)
    mp4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64
    done = benchmarks.write_up(b, a, mine.id, notes="先问需求，再试穿。", video=SimpleUploadedFile("a.bin", mp4))
    assert done.notes == "先问需求，再试穿。" and done.video_url.endswith(".mp4")
    assert (tmp_path / done.video_url.split("/media/", 1)[-1]).read_bytes() == mp4


def test_rules_are_hq_only_and_checked(world: Any, scope_of: Any) -> None:
    with pytest.raises(PermissionDenied):
        benchmarks.save_rule(scope_of(world.staff["store_manager"]), title="x", metric="sales_fen")
    hq = scope_of(world.staff["hq_admin"])
    with pytest.raises(incentives.CoinError):
        benchmarks.save_rule(hq, title="x", metric="height")
    with pytest.raises(incentives.CoinError):
        benchmarks.save_rule(hq, title="x", metric="new_fans", how_many=0)
