"""Product pictures: the type and size come from the bytes; files live under MEDIA_ROOT and the app
serves only those, safely."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from siyu.catalog import pictures
from siyu.catalog import services as catalog
from siyu.catalog.models import ProductImage
from siyu.platform.models import AuditEntry
from tests.catalog_factory import Range, jpeg_header, make_range, png, webp_lossless_header

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):  # messages are checked in English; the default language is zh-hans
        yield settings.MEDIA_ROOT


@pytest.fixture
def rng(world: Any, media: Path) -> Range:
    return make_range(world)


def test_the_format_and_size_are_read_from_the_bytes() -> None:
    assert pictures.sniff(png(120, 90)) == pictures.ImageFacts("png", 120, 90)
    assert pictures.sniff(jpeg_header(640, 480)) == pictures.ImageFacts("jpeg", 640, 480)
    assert pictures.sniff(webp_lossless_header(300, 200)) == pictures.ImageFacts("webp", 300, 200)
    assert pictures.sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert pictures.sniff(b"GIF89a" + b"\0" * 20) is None
    assert pictures.sniff(png()[:20]) is None  # cut short


def test_a_picture_is_stored_under_media_root_with_its_type_extension(world: Any, rng: Range, media: Path) -> None:
    image = catalog.add_image(rng.hq, rng.runner.pk, data=png(200, 200), alt="侧面")
    stored = media / image.image.name
    assert stored.read_bytes() == png(200, 200)
    assert stored.suffix == ".png" and stored.parent == media / "catalog" / str(world.brand.pk) / str(rng.runner.pk)
    entry = AuditEntry.objects.get(action="product.image_add")
    assert entry.after["type"] == "image/png" and entry.after["width"] == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose a picture"),
        (b"<svg onload='alert(1)'/>", "PNG, JPEG or WebP"),
        (png(20, 20), "64 to 8000 pixels"),
        (jpeg_header(9000, 100), "64 to 8000 pixels"),
        (png() + b"\0" * (pictures.MAX_BYTES + 1), "at most 5 MB"),
    ],
)
def test_a_bad_picture_is_refused_and_leaves_nothing(rng: Range, media: Path, data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        catalog.add_image(rng.hq, rng.runner.pk, data=data)
    assert message in " ".join(exc.value.message_dict["image"])
    assert not ProductImage.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


def test_reorder_must_name_every_picture_once_and_delete_removes_the_file(
    rng: Range, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    a = catalog.add_image(rng.hq, rng.runner.pk, data=png())
    b = catalog.add_image(rng.hq, rng.runner.pk, data=png(100, 100))
    for wrong in ([a.pk], [a.pk, a.pk], [a.pk, b.pk, 999]):
        with pytest.raises(ValidationError):
            catalog.reorder_images(rng.hq, rng.runner.pk, wrong)
    catalog.reorder_images(rng.hq, rng.runner.pk, [b.pk, a.pk])
    assert list(rng.runner.images.values_list("pk", flat=True)) == [b.pk, a.pk]
    path = media / b.image.name
    with pytest.raises(ValidationError):
        catalog.delete_image(rng.hq, 10**9)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        catalog.delete_image(rng.hq, b.pk)
    assert not ProductImage.objects.filter(pk=b.pk).exists()
    assert not path.exists() and (media / a.image.name).exists()


def test_only_hq_adds_pictures(world: Any, rng: Range, scope_of: Any) -> None:
    for persona in ("region_manager", "store_manager"):
        with pytest.raises(catalog.PermissionDenied):
            catalog.add_image(scope_of(world.staff[persona]), rng.runner.pk, data=png())
    other = catalog.org.hq_scope(world.rival_brand.pk)
    with pytest.raises(ValidationError):  # the rival's HQ does not find our product
        catalog.add_image(other, rng.runner.pk, data=png())


# --- serving -----------------------------------------------------------------------------------
def test_the_app_serves_a_stored_picture_to_anyone(rng: Range, client: Client) -> None:
    image = catalog.add_image(rng.hq, rng.runner.pk, data=png())
    response = client.get(image.image.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png()  # type: ignore[attr-defined]
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_media_route_serves_nothing_outside_media_root(media: Path, tmp_path: Path, client: Client) -> None:
    media.mkdir(parents=True)
    (media / "ok.png").write_bytes(png())
    (media / "notes.txt").write_text("not a picture")
    (tmp_path / "secret.png").write_bytes(png())
    os.symlink(tmp_path / "secret.png", media / "link.png")
    assert client.get("/media/ok.png").status_code == 200
    for bad in (
        "/media/notes.txt",
        "/media/link.png",
        "/media/../secret.png",
        "/media/%2e%2e/secret.png",
        "/media/nope.png",
    ):
        assert client.get(bad).status_code == 404, bad


# --- pictures the catalog draws (the demo) -----------------------------------------------------
def test_a_drawn_picture_is_the_products_silhouette_in_its_colour_with_its_name(world: Any, rng: Range) -> None:
    image = catalog.add_drawn_image(rng.hq, rng.runner.pk)
    svg = image.image.read().decode()
    assert image.image.name.endswith(".svg") and image.alt == "飞跃疾风跑鞋"
    assert "飞跃疾风跑鞋" in svg and "FY-RUN-01" in svg and pictures.COLOUR_HEX["黑"] in svg
    assert pictures.draw_svg(name="A", code="B", colour="中国红", kind_text="跑鞋") == pictures.draw_svg(
        name="A", code="B", colour="中国红", kind_text="跑鞋"
    )  # the same product always gives the same picture


def test_a_drawn_picture_escapes_the_text_it_writes() -> None:
    svg = pictures.draw_svg(name='<script>alert("x")</script>', code="A&B", colour="蓝", kind_text="T恤").decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "A&amp;B" in svg


def test_the_silhouette_and_colour_follow_the_words() -> None:
    assert [pictures.shape_of(t) for t in ("跑鞋 疾风", "运动裤", "运动袜 3双装", "包袋 双肩包", "T恤")] == [
        "shoe",
        "pants",
        "sock",
        "bag",
        "top",
    ]
    assert pictures.colour_hex("中国红") == pictures.COLOUR_HEX["红"]
    assert pictures.colour_hex("极光") == pictures.colour_hex("极光") and pictures.colour_hex("极光").startswith("hsl(")


def test_the_demo_describes_each_product_and_prices_end_in_nine() -> None:
    import datetime as dt

    from siyu.demo.seed_catalog import off, plan_catalog

    plan = plan_catalog(42, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert all(p.description.startswith(p.name) for p in plan)
    assert plan == plan_catalog(42, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert off(39900, 10) == 34900 and off(69900, 15) == 58900 and off(500, 10) == 450
