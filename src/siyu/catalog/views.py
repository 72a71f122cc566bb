"""HQ console pages of the catalog (``/hq/catalog/``): products with search, filters, paging and
export; a product's facts, SKUs, pictures and store prices; categories.

Every viewer of the console with ``catalog.view`` reads them; only ``catalog.manage`` (HQ) sees the
forms and may post. Views stay thin: reads go through the viewer's scope, writes through a verb of
:mod:`siyu.catalog.services`, whose ``ValidationError`` lands on the form field by field (nothing is
written)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.catalog import importer, services
from siyu.catalog.forms import (
    CategoryForm,
    ClearPricesForm,
    ImageForm,
    ProductFilterForm,
    ProductForm,
    SkuForm,
    StorePriceForm,
)
from siyu.catalog.models import Category, Product, ProductImage, Sku
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.exports import csv_response
from siyu.platform.forms import form_page, submit_valid
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.sheets import xlsx_response
from siyu.platform.tenancy import Scope, get_scoped, restrict

_submit = submit_valid
_form_page = partial(form_page, template="catalog/hq/form.html")


def _product(scope: Scope, pk: int) -> Product:
    return get_scoped(Product.objects.select_related("category"), scope, pk=pk)


# --- Products ----------------------------------------------------------------------------------
def _filtered(request: HttpRequest, scope: Scope) -> tuple[ProductFilterForm, Any]:
    form = ProductFilterForm(scope, request.GET)
    form.is_valid()
    f = getattr(form, "cleaned_data", {})
    on_sale = {"yes": True, "no": False}.get(f.get("on_sale") or "")
    qs = services.find_products(
        scope,
        q=f.get("q"),
        category=f["category"].pk if f.get("category") else None,
        role=f.get("role"),
        on_sale=on_sale,
    )
    return form, qs


@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_VIEW)
@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form, qs = _filtered(request, scope)
    page = paginate(request, qs.select_related("category").order_by("code"), 50)
    cards = {c.id: c for c in services.product_cards(scope.brand_id, [p.pk for p in page.object_list])}
    sku_counts = services.sku_counts([p.pk for p in page.object_list])
    context = {
        "form": form,
        "page": page,
        "rows": [(p, cards.get(p.pk), sku_counts.get(p.pk, 0)) for p in page.object_list],
        "qs": querystring_without_page(request),
        "may_manage": scope.can(Perm.CATALOG_MANAGE),
    }
    return render(request, "catalog/hq/product_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_VIEW)
@require_GET
def product_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The filtered list, one row per SKU, in the import's columns (it imports back unchanged)."""
    scope = require_scope(request)
    _form, qs = _filtered(request, scope)
    rows = importer.export_rows(qs)
    header = importer.header("products")
    if fmt == "xlsx":
        return xlsx_response(importer.export_name("products", "xlsx"), header, rows, title="products")
    return csv_response(importer.export_name("products", "csv"), header, rows)


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = ProductForm(scope, request.POST or None)
    product = _submit(
        request,
        form,
        lambda: services.create_product(
            scope, **{("category_id" if k == "category" else k): v for k, v in form.changes().items()}
        ),
        ProductForm.RENAME,
    )
    if product is not None:
        messages.success(request, _("Product %(code)s created. Add its SKUs and pictures.") % {"code": product.code})
        return redirect("hq:product_detail", pk=product.pk)
    return _form_page(request, form, title=_("New product"), back=reverse("hq:product_list"), submit=_("Create"))


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    product = _product(scope, pk)
    form = ProductForm(scope, request.POST or None, initial=ProductForm.initial_of(product))
    saved = _submit(
        request, form, lambda: services.update_product(scope, product.pk, **form.changes()), ProductForm.RENAME
    )
    if saved is not None:
        messages.success(request, _("Product %(code)s saved.") % {"code": saved.code})
        return redirect("hq:product_detail", pk=saved.pk)
    title = _("Edit product %(code)s %(name)s") % {"code": product.code, "name": product.name}
    return _form_page(request, form, title=title, back=reverse("hq:product_detail", args=[pk]), submit=_("Save"))


def _detail(request: HttpRequest, scope: Scope, product: Product, status: int = 200, **forms: Any) -> HttpResponse:
    may = scope.can(Perm.CATALOG_MANAGE)
    context: dict[str, Any] = {
        "product": product,
        "card": services.product_card(scope.brand_id, product.pk),
        "skus": list(product.skus.order_by("code")),
        "images": list(product.images.all()),
        "prices": services.store_prices(scope.brand_id, product.pk),
        "may_manage": may,
    }
    if may:
        context.update(
            sku_form=forms.get("sku_form") or SkuForm(),
            image_form=forms.get("image_form") or ImageForm(),
            price_form=forms.get("price_form") or StorePriceForm(scope, product),
            clear_form=forms.get("clear_form") or ClearPricesForm(scope, product, prefix="clear"),
        )
    return render(request, "catalog/hq/product_detail.html", context, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_VIEW)
@require_GET
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    return _detail(request, scope, _product(scope, pk))


# --- SKUs --------------------------------------------------------------------------------------
@access(Perm.CATALOG_MANAGE)
@require_POST
def sku_create(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    product = _product(scope, pk)
    form = SkuForm(request.POST)
    sku = _submit(request, form, lambda: services.add_sku(scope, product.pk, **form.cleaned_data))
    if sku is None:
        return _detail(request, scope, product, status=400, sku_form=form)
    messages.success(request, _("SKU %(code)s added.") % {"code": sku.code})
    return redirect(reverse("hq:product_detail", args=[product.pk]) + "#skus")


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def sku_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    sku = get_scoped(Sku.objects.select_related("product"), scope, pk=pk)
    form = SkuForm(request.POST or None, initial=SkuForm.initial_of(sku))
    saved = _submit(request, form, lambda: services.update_sku(scope, sku.pk, **form.cleaned_data))
    back = reverse("hq:product_detail", args=[sku.product_id]) + "#skus"
    if saved is not None:
        messages.success(request, _("SKU %(code)s saved.") % {"code": saved.code})
        return redirect(back)
    title = _("Edit SKU %(code)s of %(product)s") % {"code": sku.code, "product": sku.product.name}
    return _form_page(request, form, title=title, back=back, submit=_("Save"))


# --- Pictures ----------------------------------------------------------------------------------
@access(Perm.CATALOG_MANAGE)
@require_POST
def image_add(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    product = _product(scope, pk)
    form = ImageForm(request.POST, request.FILES)

    def write() -> ProductImage:
        upload = form.cleaned_data["image"]
        if upload.size > services.pictures.MAX_BYTES:
            raise ValidationError({"image": _("A picture is at most 5 MB; this one is larger.")})
        return services.add_image(scope, product.pk, data=upload.read(), alt=form.cleaned_data["alt"])

    if _submit(request, form, write) is None:
        return _detail(request, scope, product, status=400, image_form=form)
    messages.success(request, _("Picture added."))
    return redirect(reverse("hq:product_detail", args=[product.pk]) + "#images")


@access(Perm.CATALOG_MANAGE)
@require_POST
def image_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a picture one place up or down (``direction``); the first is the main picture."""
    scope = require_scope(request)
    image = get_scoped(ProductImage.objects.all(), scope, pk=pk)
    order = list(ProductImage.objects.filter(product_id=image.product_id).values_list("pk", flat=True))
    i = order.index(image.pk)
    j = i - 1 if request.POST.get("direction") == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
        services.reorder_images(scope, image.product_id, order)
    return redirect(reverse("hq:product_detail", args=[image.product_id]) + "#images")


@access(Perm.CATALOG_MANAGE)
@require_POST
def image_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    image = get_scoped(ProductImage.objects.all(), scope, pk=pk)
    services.delete_image(scope, image.pk)
    messages.success(request, _("Picture deleted."))
    return redirect(reverse("hq:product_detail", args=[image.product_id]) + "#images")


# --- Store prices ------------------------------------------------------------------------------
def _prices(
    request: HttpRequest, pk: int, form_class: type[StorePriceForm | ClearPricesForm], prefix: str | None
) -> HttpResponse:
    """Set (``StorePriceForm``) or clear (``ClearPricesForm``) store prices of one SKU or of every SKU
    of the product, at the stores the form names."""
    scope = require_scope(request)
    product = _product(scope, pk)
    form = form_class(scope, product, request.POST, prefix=prefix)

    def write() -> int:
        target = form.target()
        product_id = None if target["sku_id"] else product.pk
        if isinstance(form, StorePriceForm):
            return services.set_store_prices(
                scope, price_fen=form.cleaned_data["price"], product_id=product_id, **target
            )
        return services.clear_store_prices(scope, product_id=product_id, **target)

    n = _submit(request, form, write, form_class.RENAME)
    if n is None:
        key = "price_form" if form_class is StorePriceForm else "clear_form"
        return _detail(request, scope, product, status=400, **{key: form})
    if form_class is StorePriceForm:
        messages.success(request, _("%(n)s store prices set.") % {"n": n})
    else:
        messages.success(request, _("%(n)s store prices cleared: those stores sell at the brand price.") % {"n": n})
    return redirect(reverse("hq:product_detail", args=[product.pk]) + "#prices")


@access(Perm.CATALOG_MANAGE)
@require_POST
def price_set(request: HttpRequest, pk: int) -> HttpResponse:
    return _prices(request, pk, StorePriceForm, None)


@access(Perm.CATALOG_MANAGE)
@require_POST
def price_clear(request: HttpRequest, pk: int) -> HttpResponse:
    return _prices(request, pk, ClearPricesForm, "clear")


# --- Categories --------------------------------------------------------------------------------
@access(Perm.HQ_CONSOLE)
@access(Perm.CATALOG_VIEW)
@require_http_methods(["GET", "POST"])
def category_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    may = scope.can(Perm.CATALOG_MANAGE)
    form = CategoryForm(request.POST or None) if may else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(Perm.CATALOG_MANAGE)
        made = _submit(request, form, lambda: services.create_category(scope, **form.cleaned_data))
        if made is not None:
            messages.success(request, _("Category %(code)s created.") % {"code": made.code})
            return redirect("hq:category_list")
    rows = services.category_counts(scope)
    status = 400 if request.method == "POST" else 200
    return render(request, "catalog/hq/category_list.html", {"rows": rows, "form": form}, status=status)


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    category = get_scoped(restrict(Category, scope), scope, pk=pk)
    form = CategoryForm(request.POST or None, initial={"code": category.code, "name": category.name})
    saved = _submit(request, form, lambda: services.update_category(scope, category.pk, **form.cleaned_data))
    if saved is not None:
        messages.success(request, _("Category %(code)s saved.") % {"code": saved.code})
        return redirect("hq:category_list")
    title = _("Edit category %(code)s %(name)s") % {"code": category.code, "name": category.name}
    return _form_page(request, form, title=title, back=reverse("hq:category_list"), submit=_("Save"))


hq_urlpatterns = [
    path("catalog/", product_list, name="product_list"),
    path("catalog/export.csv", product_export, {"fmt": "csv"}, name="product_export_csv"),
    path("catalog/export.xlsx", product_export, {"fmt": "xlsx"}, name="product_export_xlsx"),
    path("catalog/new/", product_create, name="product_create"),
    path("catalog/<int:pk>/", product_detail, name="product_detail"),
    path("catalog/<int:pk>/edit/", product_edit, name="product_edit"),
    path("catalog/<int:pk>/skus/", sku_create, name="sku_create"),
    path("catalog/skus/<int:pk>/edit/", sku_edit, name="sku_edit"),
    path("catalog/<int:pk>/images/", image_add, name="image_add"),
    path("catalog/images/<int:pk>/move/", image_move, name="image_move"),
    path("catalog/images/<int:pk>/delete/", image_delete, name="image_delete"),
    path("catalog/<int:pk>/prices/", price_set, name="price_set"),
    path("catalog/<int:pk>/prices/clear/", price_clear, name="price_clear"),
    path("catalog/categories/", category_list, name="category_list"),
    path("catalog/categories/<int:pk>/edit/", category_edit, name="category_edit"),
]
