"""HQ writes page templates and pushes them to many stores; each store (its manager, its region's
manager, HQ) writes its own headline, banners and featured products on top. Every change is
audited; a refused or invalid one changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.test import Client

from siyu.catalog import storefront
from siyu.catalog.models import Placement, StorePage
from siyu.catalog.storefront import Owner, PlacementIn, Selection
from siyu.org import services as org
from siyu.platform.models import AuditEntry
from tests.catalog_factory import png
from tests.storefront_factory import Mall, _empty_cache, make_mall  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def mall(world: Any, media: Path) -> Mall:
    return make_mall(world)


def template_of(store: Any) -> str:
    page = StorePage.objects.filter(store_id=store.pk).select_related("template").first()
    return page.template.name if page is not None and page.template is not None else ""


def titles(scope: Any, owner: Owner) -> list[str]:
    return [p.title or p.product for p in storefront.placements_of(scope, owner)]


# --- Templates and pushes ----------------------------------------------------------------------
def test_a_push_previews_which_stores_change_and_then_changes_only_those(world: Any, mall: Mall) -> None:
    outlet = storefront.create_template(mall.hq, name="Outlet")
    choice = Selection(cities=("上海",), store_ids=(world.gz1.pk,))
    plan = storefront.push_plan(mall.hq, outlet.pk, choice)
    assert [(line.store.code, line.current, line.changes) for line in plan.lines] == [
        ("GZ001", "", True),
        ("SH001", "Standard", True),
        ("SH002", "Standard", True),
    ]
    assert template_of(world.flagship) == "Standard"  # a preview changes nothing
    entries = AuditEntry.objects.filter(action="store_page.push").count()
    storefront.push_template(mall.hq, outlet.pk, choice)
    assert [template_of(s) for s in (world.flagship, world.sh2, world.gz1, world.hz1)] == [
        "Outlet",
        "Outlet",
        "Outlet",
        "Standard",
    ]
    assert AuditEntry.objects.filter(action="store_page.push").count() == entries + 3  # one per store
    again = storefront.push_plan(mall.hq, outlet.pk, Selection(every=True))
    assert [line.store.code for line in again.changing] == ["HZ001"]  # the rest already follow it
    assert StorePage.objects.get(store_id=world.flagship.pk).headline == "旗舰店周末跑团"  # her own stays


def test_a_push_leaves_closed_stores_out_and_needs_a_choice(world: Any, mall: Mall) -> None:
    org.set_store_status(mall.hq, world.gz1.pk, "closed")
    outlet = storefront.create_template(mall.hq, name="Outlet")
    plan = storefront.push_plan(mall.hq, outlet.pk, Selection(every=True))
    assert "GZ001" not in [line.store.code for line in plan.lines]
    with pytest.raises(ValidationError) as refused:
        storefront.push_template(mall.hq, outlet.pk, Selection())
    assert "stores" in refused.value.message_dict


def test_only_hq_writes_templates_and_pushes(world: Any, mall: Mall, scope_of: Any) -> None:
    for key in ("region_manager", "store_manager", "guide_a"):
        scope = scope_of(world.staff[key])
        with pytest.raises(PermissionDenied):
            storefront.create_template(scope, name="Mine")
        with pytest.raises(PermissionDenied):
            storefront.push_template(scope, mall.standard.pk, Selection(every=True))
    assert storefront.create_template(scope_of(world.staff["hq_operator"]), name="Flagship").pk


def test_a_template_name_is_unique_and_a_used_template_cannot_be_deleted(world: Any, mall: Mall) -> None:
    with pytest.raises(ValidationError) as clash:
        storefront.create_template(mall.hq, name="Standard")
    assert "name" in clash.value.message_dict
    with pytest.raises(ValidationError):
        storefront.delete_template(mall.hq, mall.standard.pk)
    spare = storefront.create_template(mall.hq, name="Spare")
    storefront.add_placement(mall.hq, Owner(template_id=spare.pk), PlacementIn(kind="banner", title="x"))
    storefront.delete_template(mall.hq, spare.pk)
    assert not Placement.objects.filter(template_id=spare.pk).exists()
    assert AuditEntry.objects.filter(action="page_template.delete", object_id=str(spare.pk)).exists()


def test_the_rival_brand_cannot_touch_our_templates(world: Any, mall: Mall) -> None:
    rival_hq = org.hq_scope(world.rival_brand.pk, "rival")
    with pytest.raises(ValidationError):
        storefront.add_placement(rival_hq, Owner(template_id=mall.standard.pk), PlacementIn(kind="banner", title="x"))
    with pytest.raises(ValidationError):
        storefront.push_template(rival_hq, mall.standard.pk, Selection(every=True))
    with pytest.raises(ValidationError):  # nor put our product on its own template
        own = storefront.create_template(rival_hq, name="Rival")
        storefront.add_placement(
            rival_hq, Owner(template_id=own.pk), PlacementIn(kind="featured", product_id=mall.rng.tee.pk)
        )


# --- Placements ------------------------------------------------------------------------------------
def test_placements_are_added_at_the_end_reordered_and_removed(world: Any, mall: Mall) -> None:
    owner = Owner(template_id=mall.standard.pk)
    storefront.add_placement(mall.hq, owner, PlacementIn(kind="banner", title="会员日"))
    assert titles(mall.hq, owner) == ["春季新品", "FY-TEE-01 速干T恤", "会员日"]
    last = storefront.placements_of(mall.hq, owner)[-1]
    storefront.move_placement(mall.hq, owner, last.id, -2)
    assert titles(mall.hq, owner) == ["会员日", "春季新品", "FY-TEE-01 速干T恤"]
    assert [p.position for p in storefront.placements_of(mall.hq, owner)] == [0, 1, 2]
    storefront.move_placement(mall.hq, owner, last.id, -1)  # already first: nothing moves
    storefront.delete_placement(mall.hq, owner, mall.banner.pk)
    assert titles(mall.hq, owner) == ["会员日", "FY-TEE-01 速干T恤"]
    actions = set(AuditEntry.objects.filter(object_type="placement").values_list("action", flat=True))
    assert {"placement.create", "placement.move", "placement.delete"} <= actions


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (PlacementIn(kind="featured"), "product"),
        (PlacementIn(kind="banner"), "title"),  # neither picture nor title
        (PlacementIn(kind="poster", title="x"), "kind"),
        (PlacementIn(kind="banner", title="x", product_id=999999), "product"),
        (
            PlacementIn(
                kind="banner",
                title="x",
                starts_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
                ends_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            ),
            "ends_at",
        ),
        (PlacementIn(kind="banner", title="x" * 81), "title"),
        (PlacementIn(kind="banner", image=b"GIF89a not a picture"), "image"),
    ],
)
def test_a_bad_placement_is_refused_on_its_field_and_writes_nothing(
    world: Any, mall: Mall, data: PlacementIn, field: str
) -> None:
    before = (Placement.objects.count(), AuditEntry.objects.count(), StorePage.objects.get(store=world.sh2).updated_at)
    with pytest.raises(ValidationError) as refused:
        storefront.add_placement(mall.hq, Owner(store_id=world.sh2.pk), data)
    assert field in refused.value.message_dict
    after = (Placement.objects.count(), AuditEntry.objects.count(), StorePage.objects.get(store=world.sh2).updated_at)
    assert after == before


def test_an_off_sale_product_cannot_be_featured_and_drops_off_the_page(world: Any, mall: Mall) -> None:
    with pytest.raises(ValidationError):
        storefront.add_placement(
            mall.hq, Owner(store_id=world.sh2.pk), PlacementIn(kind="featured", product_id=mall.rng.old.pk)
        )
    from siyu.catalog.models import Product

    Product.objects.filter(pk=mall.rng.tee.pk).update(active=False)  # taken off sale after it was featured
    shown = storefront.face(org.store_info(world.brand.pk, world.sh2.pk))
    assert [f.card.code for f in shown.featured] == []


def test_a_product_featured_by_the_store_and_its_template_shows_once_the_stores_first(world: Any, mall: Mall) -> None:
    storefront.add_placement(
        mall.hq,
        Owner(store_id=world.flagship.pk),
        PlacementIn(kind="featured", product_id=mall.rng.tee.pk, title="本店"),
    )
    shown = storefront.face(org.store_info(world.brand.pk, world.flagship.pk))
    assert [(f.card.code, f.title, f.own) for f in shown.featured] == [
        ("FY-RUN-01", "店长推荐", True),
        ("FY-TEE-01", "本店", True),
    ]


def test_a_banner_picture_is_stored_checked_replaced_and_removed(
    world: Any, mall: Mall, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    owner = Owner(store_id=world.flagship.pk)
    item = storefront.add_placement(mall.hq, owner, PlacementIn(kind="banner", image=png(1080, 480)))
    first = item.image.name
    assert first.startswith("catalog/banners/") and first.endswith(".png") and (media / first).exists()
    shown = storefront.face(org.store_info(world.brand.pk, world.flagship.pk))
    assert shown.banners[0].image_url == f"/media/{first}"
    with django_capture_on_commit_callbacks(execute=True):  # the old file goes when the change commits
        storefront.update_placement(mall.hq, owner, item.pk, PlacementIn(kind="banner", image=png(960, 400)))
    item.refresh_from_db()
    assert item.image.name != first and not default_storage.exists(first)
    second = item.image.name
    with pytest.raises(ValidationError):  # without picture and without title a banner is nothing
        storefront.update_placement(mall.hq, owner, item.pk, PlacementIn(kind="banner", drop_image=True))
    with django_capture_on_commit_callbacks(execute=True):
        storefront.update_placement(mall.hq, owner, item.pk, PlacementIn(kind="banner", title="新品", drop_image=True))
    item.refresh_from_db()
    assert item.image.name == "" and item.title == "新品"
    assert not default_storage.exists(second)


def test_a_placement_keeps_its_kind_and_its_page(world: Any, mall: Mall) -> None:
    with pytest.raises(ValidationError):  # a store's placement is not the template's to edit
        storefront.update_placement(
            mall.hq, Owner(template_id=mall.standard.pk), mall.own_runner.pk, PlacementIn(kind="banner", title="x")
        )
    storefront.update_placement(
        mall.hq,
        Owner(store_id=world.flagship.pk),
        mall.own_runner.pk,
        PlacementIn(kind="banner", title="本周", product_id=mall.rng.runner.pk),
    )
    mall.own_runner.refresh_from_db()
    assert mall.own_runner.kind == "featured" and mall.own_runner.title == "本周"


# --- Store managers and region managers --------------------------------------------------------
def test_a_store_manager_edits_her_own_store_page_only(world: Any, mall: Mall, scope_of: Any) -> None:
    wang = scope_of(world.staff["store_manager"])
    storefront.set_headline(wang, world.flagship.pk, "王芳的推荐")
    storefront.add_placement(wang, Owner(store_id=world.flagship.pk), PlacementIn(kind="banner", title="试穿有礼"))
    for other in (world.sh2, world.gz1):
        with pytest.raises(ValidationError):
            storefront.set_headline(wang, other.pk, "not mine")
    with pytest.raises(PermissionDenied):  # nor the template, though its items show on her page
        storefront.add_placement(wang, Owner(template_id=mall.standard.pk), PlacementIn(kind="banner", title="x"))
    entry = AuditEntry.objects.filter(action="store_page.headline").latest("id")
    assert entry.actor_id == world.staff["store_manager"].pk and entry.after["headline"] == "王芳的推荐"


def test_a_region_manager_edits_her_regions_store_pages(world: Any, mall: Mall, scope_of: Any) -> None:
    zhou = scope_of(world.staff["region_manager"])
    storefront.set_headline(zhou, world.hz1.pk, "杭州跑者节")
    with pytest.raises(ValidationError):
        storefront.set_headline(zhou, world.gz1.pk, "not her region")
    guide = scope_of(world.staff["guide_a"])
    with pytest.raises(PermissionDenied):
        storefront.set_headline(guide, world.flagship.pk, "a guide may not")


# --- HQ console pages ----------------------------------------------------------------------------
def test_hq_creates_a_template_adds_items_and_pushes_it_through_the_pages(world: Any, mall: Mall) -> None:
    client = world.login(Client(), "hq_operator")
    created = client.post("/hq/store-pages/templates/", {"name": "Flagship"})
    assert created.status_code == 302
    pk = int(created["Location"].rstrip("/").rsplit("/", 1)[1])
    banner = client.post(
        f"/hq/store-pages/templates/{pk}/placements/new/",
        {"kind": "banner", "title": "旗舰限定", "image": _upload(png(1080, 480))},
    )
    assert banner.status_code == 302
    featured = client.post(
        f"/hq/store-pages/templates/{pk}/placements/new/", {"kind": "featured", "product": mall.rng.runner.pk}
    )
    assert featured.status_code == 302
    bad = client.post(f"/hq/store-pages/templates/{pk}/placements/new/", {"kind": "featured"})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    editor = client.get(f"/hq/store-pages/templates/{pk}/").content.decode()
    assert "旗舰限定" in editor and "FY-RUN-01" in editor
    preview = client.get(f"/hq/store-pages/templates/{pk}/push/?preview=1&stores={world.flagship.pk}")
    assert preview.status_code == 200 and "SH001" in preview.content.decode()
    assert template_of(world.flagship) == "Standard"
    pushed = client.post(f"/hq/store-pages/templates/{pk}/push/", {"stores": [world.flagship.pk]})
    assert pushed.status_code == 302
    assert template_of(world.flagship) == "Flagship" and template_of(world.sh2) == "Standard"


def test_the_store_page_list_shows_each_store_in_reach_with_its_template(world: Any, mall: Mall) -> None:
    hq = world.login(Client(), "hq_admin").get("/hq/store-pages/").content.decode()
    assert "SH001" in hq and "GZ001" in hq and "Standard" in hq and "R001" not in hq
    zhou = world.login(Client(), "region_manager").get("/hq/store-pages/").content.decode()
    assert "HZ001" in zhou and "GZ001" not in zhou
    only_none = world.login(Client(), "hq_admin").get("/hq/store-pages/?template=none").content.decode()
    assert "GZ001" in only_none and "SH001" not in only_none


def test_a_store_manager_edits_her_page_in_the_console(world: Any, mall: Mall) -> None:
    client = world.login(Client(), "store_manager")
    editor = client.get(f"/hq/store-pages/{world.flagship.pk}/")
    html = editor.content.decode()
    assert editor.status_code == 200 and "店长推荐" in html and "春季新品" in html  # her own, and the template's
    saved = client.post(f"/hq/store-pages/{world.flagship.pk}/", {"headline": "周末跑团集合"})
    assert saved.status_code == 302
    assert StorePage.objects.get(store=world.flagship).headline == "周末跑团集合"
    assert client.get(f"/hq/store-pages/{world.sh2.pk}/").status_code == 404
    assert client.get("/hq/store-pages/templates/").status_code == 403


def test_the_guide_workbench_links_a_store_manager_to_her_store_page(world: Any, mall: Mall) -> None:
    manager = world.login(Client(), "store_manager").get("/guide/store/").content.decode()
    assert f"/hq/store-pages/{world.flagship.pk}/" in manager and "/m/SH001/" in manager
    guide = world.login(Client(), "guide_a").get("/guide/store/").content.decode()
    assert "/hq/store-pages/" not in guide and "/m/SH001/" in guide


def _upload(data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("banner.png", data, content_type="image/png")
