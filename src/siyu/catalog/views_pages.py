"""HQ console pages of the store pages (``/hq/store-pages/``): the stores with the template each
follows; HQ's page templates with their banners and featured products (order, time windows) and the
push of a template to many stores with a preview; one store's own headline, banners and featured
products on top of its template.

Templates and pushes need ``catalog.manage`` (HQ); a store's own page needs ``catalog.store_page``
and the store within reach (its manager, its region's manager, HQ). Views stay thin: every write is
a verb of :mod:`siyu.catalog.storefront`, whose ``ValidationError`` lands on the form field by field
(nothing is written) and whose ``PermissionDenied`` becomes a 403.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.catalog import storefront
from siyu.catalog.storefront import Owner, PlacementIn, Selection
from siyu.org import services as org
from siyu.org.services import Perm, StoreInfo
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.pagination import querystring_without_page
from siyu.platform.tenancy import Level, Scope

MAX_UPLOAD = 5 * 1024 * 1024
WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
WHEN_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


# --- Forms -----------------------------------------------------------------------------------------
class TemplateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)


class HeadlineForm(forms.Form):
    headline = forms.CharField(
        label=gettext_lazy("Headline"),
        max_length=120,
        required=False,
        help_text=gettext_lazy("One line under the store's name, e.g. this week's event."),
    )


class PlacementForm(forms.Form):
    """A banner (picture and/or title, optionally leading to a product) or a featured product."""

    kind = forms.ChoiceField(choices=storefront.Placement.Kind.choices, widget=forms.HiddenInput)
    product = forms.TypedChoiceField(label=gettext_lazy("Product"), coerce=int, required=False, empty_value=None)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=80, required=False)
    subtitle = forms.CharField(label=gettext_lazy("Subtitle"), max_length=120, required=False)
    image = forms.FileField(
        label=gettext_lazy("Picture"),
        required=False,
        help_text=gettext_lazy("PNG, JPEG or WebP, at most 5 MB; wide (e.g. 1080 × 480) fits a phone."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    drop_image = forms.BooleanField(label=gettext_lazy("Remove the picture"), required=False)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Shown from"), required=False, widget=WHEN, input_formats=WHEN_FORMATS
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("Shown until"),
        required=False,
        widget=WHEN,
        input_formats=WHEN_FORMATS,
        help_text=gettext_lazy("Empty: from now on, without end."),
    )

    def __init__(self, brand_id: int, kind: str, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].initial = kind
        choices = storefront.products_to_feature(brand_id)
        product = self.fields["product"]
        empty = _("— none —") if kind == "banner" else _("Choose a product")
        product.choices = [("", empty), *choices]  # type: ignore[attr-defined]
        if kind == "featured":
            product.required = True
            product.label = _("Product to feature")
            self.fields["title"].label = _("Line above it (optional)")
            for name in ("subtitle", "image", "drop_image"):
                del self.fields[name]
        else:
            product.label = _("Leads to product (optional)")
            if not editing:
                del self.fields["drop_image"]

    def clean_image(self) -> Any:
        image = self.cleaned_data.get("image")
        if image and image.size > MAX_UPLOAD:
            raise forms.ValidationError(_("A picture is at most 5 MB; this one is larger."))
        return image

    def placement(self) -> PlacementIn:
        f = self.cleaned_data
        image = f.get("image")
        return PlacementIn(
            kind=f["kind"],
            product_id=f.get("product"),
            title=f.get("title", ""),
            subtitle=f.get("subtitle", ""),
            starts_at=f.get("starts_at"),
            ends_at=f.get("ends_at"),
            image=image.read() if image else None,
            drop_image=bool(f.get("drop_image")),
        )


class PushForm(forms.Form):
    every = forms.BooleanField(label=gettext_lazy("Every store"), required=False)
    regions = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Regions"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    cities = forms.MultipleChoiceField(
        label=gettext_lazy("Cities"), required=False, widget=forms.CheckboxSelectMultiple
    )
    stores = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Stores"),
        coerce=int,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=gettext_lazy("Hold Ctrl (or ⌘) to choose several."),
    )

    def __init__(self, stores: list[StoreInfo], regions: dict[int, str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["regions"].choices = sorted(regions.items(), key=lambda kv: kv[1])  # type: ignore[attr-defined]
        self.fields["cities"].choices = [(c, c) for c in sorted({s.city for s in stores})]  # type: ignore[attr-defined]
        self.fields["stores"].choices = [(s.id, f"{s.code} {s.name}") for s in stores]  # type: ignore[attr-defined]

    def selection(self) -> Selection:
        f = self.cleaned_data
        return Selection(
            every=bool(f.get("every")),
            region_ids=tuple(f.get("regions") or ()),
            cities=tuple(f.get("cities") or ()),
            store_ids=tuple(f.get("stores") or ()),
        )


class PageFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=60)
    city = forms.ChoiceField(label=gettext_lazy("City"), required=False)
    template = forms.ChoiceField(label=gettext_lazy("Template"), required=False)

    def __init__(self, stores: list[StoreInfo], templates: list[storefront.TemplateInfo], *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        every = [("", _("All"))]
        self.fields["city"].choices = every + [(c, c) for c in sorted({s.city for s in stores})]  # type: ignore[attr-defined]
        self.fields["template"].choices = (  # type: ignore[attr-defined]
            every + [("none", _("No template"))] + [(str(t.id), t.name) for t in templates]
        )


# --- Helpers -----------------------------------------------------------------------------------
def _store(scope: Scope, pk: int) -> StoreInfo:
    """A store within the viewer's reach, else 404 (out of reach looks like missing)."""
    found = org.store_info(scope.brand_id, pk, scope=scope)
    if found is None:
        raise Http404("not found")
    return found


def _template_owner(scope: Scope, pk: int) -> tuple[Owner, str]:
    try:
        name = storefront.template_name(scope, pk)
    except ValidationError as exc:
        raise Http404("not found") from exc
    return Owner(template_id=pk), name


def _may_manage_templates(scope: Scope) -> bool:
    return scope.level is Level.BRAND and scope.can(Perm.CATALOG_MANAGE)


def _regions(scope: Scope, stores: list[StoreInfo]) -> dict[int, str]:
    names = {s.region_id for s in stores}
    return {pk: code for code, pk in org.region_ids(scope.brand_id).items() if pk in names}


def _editor(
    request: HttpRequest,
    owner: Owner,
    *,
    title: str,
    urls: dict[str, str],
    forms_: dict[str, PlacementForm] | None = None,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """A template's or a store's page editor: its placements in order and the two add forms."""
    scope = require_scope(request)
    forms_ = forms_ or {}
    context = {
        "title": title,
        "placements": storefront.placements_of(scope, owner),
        "banner_form": forms_.get("banner") or PlacementForm(scope.brand_id, "banner"),
        "featured_form": forms_.get("featured") or PlacementForm(scope.brand_id, "featured"),
        "urls": urls,
        **extra,
    }
    return render(request, "catalog/pages/editor.html", context, status=status)


def _add(request: HttpRequest, owner: Owner, on_error: Any, done: str) -> HttpResponse:
    scope = require_scope(request)
    kind = request.POST.get("kind", "")
    if kind not in ("banner", "featured"):
        raise Http404("not found")
    form = PlacementForm(scope.brand_id, kind, request.POST, request.FILES)
    if form.is_valid():
        try:
            storefront.add_placement(scope, owner, form.placement())
        except ValidationError as exc:
            apply_errors(form, exc, {"product_id": "product"})
        else:
            messages.success(request, _("Added."))
            return redirect(done)
    return on_error({kind: form})


def _placement(scope: Scope, owner: Owner, placement_id: int) -> storefront.PlacementView:
    found = next((p for p in storefront.placements_of(scope, owner) if p.id == placement_id), None)
    if found is None:
        raise Http404("not found")
    return found


def _edit(request: HttpRequest, owner: Owner, placement_id: int, *, back: str, where: str) -> HttpResponse:
    scope = require_scope(request)
    current = _placement(scope, owner, placement_id)
    initial = {
        "kind": current.kind,
        "product": current.product_id,
        "title": current.title,
        "subtitle": current.subtitle,
        "starts_at": current.starts_at,
        "ends_at": current.ends_at,
    }
    form = PlacementForm(
        scope.brand_id, current.kind, request.POST or None, request.FILES or None, initial=initial, editing=True
    )
    if request.method == "POST" and form.is_valid():
        try:
            storefront.update_placement(scope, owner, current.id, form.placement())
        except ValidationError as exc:
            apply_errors(form, exc, {"product_id": "product"})
        else:
            messages.success(request, _("Saved."))
            return redirect(back)
    context = {"form": form, "placement": current, "back": back, "where": where}
    return render(request, "catalog/pages/placement.html", context, status=400 if request.method == "POST" else 200)


def _act(request: HttpRequest, owner: Owner, placement_id: int, back: str) -> HttpResponse:
    scope = require_scope(request)
    _placement(scope, owner, placement_id)
    action = request.POST.get("action", "")
    if action in ("up", "down"):
        storefront.move_placement(scope, owner, placement_id, -1 if action == "up" else 1)
    elif action == "delete":
        storefront.delete_placement(scope, owner, placement_id)
        messages.success(request, _("Removed."))
    else:
        messages.error(request, _("Choose up, down or remove."))
    return redirect(back)


# --- Stores and their pages --------------------------------------------------------------------
@access(Perm.STORE_PAGE)
@require_GET
def store_page_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    stores = org.visible_stores(scope)
    templates = storefront.templates(scope)
    form = PageFilterForm(stores, templates, request.GET)
    form.is_valid()
    f = getattr(form, "cleaned_data", {})
    if q := (f.get("q") or "").strip().lower():
        stores = [s for s in stores if q in f"{s.code} {s.name} {s.city} {s.district}".lower()]
    if f.get("city"):
        stores = [s for s in stores if s.city == f["city"]]
    rows = storefront.page_rows(scope, stores)
    if f.get("template") == "none":
        rows = [r for r in rows if r.template_id is None]
    elif f.get("template"):
        rows = [r for r in rows if str(r.template_id) == f["template"]]
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": page.object_list,
        "qs": querystring_without_page(request),
        "templates": templates,
        "may_manage_templates": _may_manage_templates(scope),
        "tab": "stores",
    }
    return render(request, "catalog/pages/store_list.html", context)


def _store_urls(store: StoreInfo) -> dict[str, str]:
    return {
        "add": reverse("hq:store_page_placement_add", args=[store.id]),
        "edit": "hq:store_page_placement",
        "act": "hq:store_page_placement_act",
        "owner": str(store.id),
        "back": reverse("hq:store_page_edit", args=[store.id]),
    }


def _store_editor(
    request: HttpRequest, store: StoreInfo, *, headline: HeadlineForm | None = None, **kw: Any
) -> HttpResponse:
    scope = require_scope(request)
    row = storefront.page_rows(scope, [store])[0]
    inherited = storefront.placements_of(scope, Owner(template_id=row.template_id)) if row.template_id else []
    return _editor(
        request,
        Owner(store_id=store.id),
        title=_("Store page of %(code)s %(name)s") % {"code": store.code, "name": store.name},
        urls=_store_urls(store),
        store=store,
        row=row,
        inherited=inherited,
        headline_form=headline or HeadlineForm(initial={"headline": row.headline}),
        mall_url=reverse("mall_store", args=[store.code]) if store.status == "open" else "",
        **kw,
    )


@access(Perm.STORE_PAGE)
@require_http_methods(["GET", "POST"])
def store_page_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """One store's page: its headline and its own banners and featured products."""
    scope = require_scope(request)
    store = _store(scope, pk)
    form = HeadlineForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                storefront.set_headline(scope, store.id, form.cleaned_data["headline"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Headline saved."))
                return redirect("hq:store_page_edit", pk=store.id)
        return _store_editor(request, store, headline=form, status=400)
    return _store_editor(request, store)


@access(Perm.STORE_PAGE)
@require_POST
def store_page_placement_add(request: HttpRequest, pk: int) -> HttpResponse:
    store = _store(require_scope(request), pk)
    done = reverse("hq:store_page_edit", args=[store.id])
    return _add(request, Owner(store_id=store.id), lambda f: _store_editor(request, store, forms_=f, status=400), done)


@access(Perm.STORE_PAGE)
@require_http_methods(["GET", "POST"])
def store_page_placement(request: HttpRequest, pk: int, placement_id: int) -> HttpResponse:
    store = _store(require_scope(request), pk)
    back = reverse("hq:store_page_edit", args=[store.id])
    return _edit(request, Owner(store_id=store.id), placement_id, back=back, where=f"{store.code} {store.name}")


@access(Perm.STORE_PAGE)
@require_POST
def store_page_placement_act(request: HttpRequest, pk: int, placement_id: int) -> HttpResponse:
    store = _store(require_scope(request), pk)
    return _act(request, Owner(store_id=store.id), placement_id, reverse("hq:store_page_edit", args=[store.id]))


# --- Templates (HQ) ------------------------------------------------------------------------------
@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def page_template_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = storefront.create_template(scope, name=form.cleaned_data["name"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Template %(name)s created.") % {"name": created.name})
            return redirect("hq:page_template_detail", pk=created.pk)
    context = {"form": form, "templates": storefront.templates(scope), "tab": "templates", "may_manage_templates": True}
    return render(request, "catalog/pages/template_list.html", context, status=400 if form.errors else 200)


def _template_urls(pk: int) -> dict[str, str]:
    return {
        "add": reverse("hq:page_template_placement_add", args=[pk]),
        "edit": "hq:page_template_placement",
        "act": "hq:page_template_placement_act",
        "owner": str(pk),
        "back": reverse("hq:page_template_detail", args=[pk]),
    }


def _template_editor(
    request: HttpRequest, pk: int, name: str, *, rename: TemplateForm | None = None, **kw: Any
) -> HttpResponse:
    scope = require_scope(request)
    info = next(t for t in storefront.templates(scope) if t.id == pk)
    return _editor(
        request,
        Owner(template_id=pk),
        title=_("Template %(name)s") % {"name": name},
        urls=_template_urls(pk),
        template=info,
        rename_form=rename or TemplateForm(initial={"name": name}),
        **kw,
    )


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def page_template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A template: its name, its banners and featured products in order; the push."""
    scope = require_scope(request)
    _owner, name = _template_owner(scope, pk)
    form = TemplateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                storefront.rename_template(scope, pk, name=form.cleaned_data["name"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Template saved."))
                return redirect("hq:page_template_detail", pk=pk)
        return _template_editor(request, pk, name, rename=form, status=400)
    return _template_editor(request, pk, name)


@access(Perm.CATALOG_MANAGE)
@require_POST
def page_template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    _owner, name = _template_owner(scope, pk)
    try:
        storefront.delete_template(scope, pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("hq:page_template_detail", pk=pk)
    messages.success(request, _("Template %(name)s deleted.") % {"name": name})
    return redirect("hq:page_template_list")


@access(Perm.CATALOG_MANAGE)
@require_POST
def page_template_placement_add(request: HttpRequest, pk: int) -> HttpResponse:
    owner, name = _template_owner(require_scope(request), pk)
    done = reverse("hq:page_template_detail", args=[pk])
    return _add(request, owner, lambda f: _template_editor(request, pk, name, forms_=f, status=400), done)


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def page_template_placement(request: HttpRequest, pk: int, placement_id: int) -> HttpResponse:
    owner, name = _template_owner(require_scope(request), pk)
    return _edit(request, owner, placement_id, back=reverse("hq:page_template_detail", args=[pk]), where=name)


@access(Perm.CATALOG_MANAGE)
@require_POST
def page_template_placement_act(request: HttpRequest, pk: int, placement_id: int) -> HttpResponse:
    owner, _name = _template_owner(require_scope(request), pk)
    return _act(request, owner, placement_id, reverse("hq:page_template_detail", args=[pk]))


@access(Perm.CATALOG_MANAGE)
@require_http_methods(["GET", "POST"])
def page_template_push(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the stores (every one, regions, cities, single stores), see which pages change, push."""
    scope = require_scope(request)
    _owner, name = _template_owner(scope, pk)
    stores = [s for s in org.visible_stores(scope) if s.status != "closed"]
    data = request.POST if request.method == "POST" else (request.GET if "preview" in request.GET else None)
    form = PushForm(stores, _regions(scope, stores), data)
    plan = None
    status = 200
    if form.is_bound and form.is_valid():
        try:
            if request.method == "POST":
                done = storefront.push_template(scope, pk, form.selection())
                messages.success(
                    request,
                    _("%(name)s pushed to %(n)d store(s); %(same)d already followed it.")
                    % {"name": name, "n": len(done.changing), "same": len(done.unchanged)},
                )
                return redirect("hq:page_template_detail", pk=pk)
            plan = storefront.push_plan(scope, pk, form.selection())
        except ValidationError as exc:
            apply_errors(form, exc, {"stores": "stores"})
            status = 400
    elif form.is_bound:
        status = 400
    context = {
        "form": form,
        "plan": plan,
        "name": name,
        "pk": pk,
        "back": reverse("hq:page_template_detail", args=[pk]),
    }
    return render(request, "catalog/pages/push.html", context, status=status)


hq_urlpatterns = [
    path("store-pages/", store_page_list, name="store_page_list"),
    path("store-pages/templates/", page_template_list, name="page_template_list"),
    path("store-pages/templates/<int:pk>/", page_template_detail, name="page_template_detail"),
    path("store-pages/templates/<int:pk>/delete/", page_template_delete, name="page_template_delete"),
    path("store-pages/templates/<int:pk>/push/", page_template_push, name="page_template_push"),
    path(
        "store-pages/templates/<int:pk>/placements/new/",
        page_template_placement_add,
        name="page_template_placement_add",
    ),
    path(
        "store-pages/templates/<int:pk>/placements/<int:placement_id>/",
        page_template_placement,
        name="page_template_placement",
    ),
    path(
        "store-pages/templates/<int:pk>/placements/<int:placement_id>/act/",
        page_template_placement_act,
        name="page_template_placement_act",
    ),
    path("store-pages/<int:pk>/", store_page_edit, name="store_page_edit"),
    path("store-pages/<int:pk>/placements/new/", store_page_placement_add, name="store_page_placement_add"),
    path("store-pages/<int:pk>/placements/<int:placement_id>/", store_page_placement, name="store_page_placement"),
    path(
        "store-pages/<int:pk>/placements/<int:placement_id>/act/",
        store_page_placement_act,
        name="store_page_placement_act",
    ),
]
