"""Code management: HQ console pages (list and filter, create per kind within reach, detail with
the QR image and PNG/SVG download, deactivate) and the guide's "my codes" to show in store.

Every read goes through :func:`siyu.members.codes.visible_codes` / ``get_scoped`` (the viewer's
reach); every write through the verbs of :mod:`siyu.members.codes`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import codes
from siyu.members.models import Code, CodeKind
from siyu.org import services as org
from siyu.org.services import Perm, Role
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.tenancy import Level, Scope, get_scoped

ANY = [("", gettext_lazy("All"))]
GUIDE = "guide:login"
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def _kinds(scope: Scope) -> list[tuple[str, str]]:
    offered = [(v, str(label)) for v, label in CodeKind.choices if v != CodeKind.SHARE]
    if scope.level is Level.BRAND:
        return offered
    return [(v, label) for v, label in offered if v in codes.LOCAL_KINDS]


class CodeFilterForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.TypedChoiceField(label=gettext_lazy("Guide"), required=False, coerce=int, empty_value=None)

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = ANY + list(CodeKind.choices)  # type: ignore[attr-defined]
        self.fields["store"].choices = ANY + _store_choices(scope)  # type: ignore[attr-defined]
        self.fields["guide"].choices = ANY + _guide_choices(scope)  # type: ignore[attr-defined]


def _store_choices(scope: Scope) -> list[tuple[Any, str]]:
    return [(s.id, f"{s.code} {s.name}") for s in org.visible_stores(scope)]


def _guide_choices(scope: Scope) -> list[tuple[Any, str]]:
    return [(g.id, g.name) for g in org.visible_staff(scope, role=Role.GUIDE) if g.active]


class CodeForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"))
    name = forms.CharField(
        label=gettext_lazy("Name"), required=False, max_length=100, help_text=gettext_lazy("Made for you when empty.")
    )
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.TypedChoiceField(
        label=gettext_lazy("Guide"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=gettext_lazy("A customer who scans is bound to this guide (and her store)."),
    )
    campaign = forms.CharField(label=gettext_lazy("Campaign"), required=False, max_length=60)
    sku_code = forms.CharField(label=gettext_lazy("SKU code"), required=False, max_length=40)
    serial = forms.CharField(
        label=gettext_lazy("Item serial"),
        required=False,
        max_length=40,
        help_text=gettext_lazy("Product codes: the serial of one item; or leave it empty and say how many."),
    )
    count = forms.IntegerField(
        label=gettext_lazy("How many item codes"),
        required=False,
        min_value=1,
        max_value=codes.MAX_BATCH,
        help_text=gettext_lazy("Product codes: one code per item, numbered serials."),
    )
    expires_at = forms.DateTimeField(
        label=gettext_lazy("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = _kinds(scope)  # type: ignore[attr-defined]
        if scope.level is not Level.BRAND:  # store and guide codes only: no campaign or product fields
            for name in ("campaign", "sku_code", "serial", "count"):
                del self.fields[name]
        self.fields["store"].choices = [("", "—"), *_store_choices(scope)]  # type: ignore[attr-defined]
        self.fields["guide"].choices = [("", "—"), *_guide_choices(scope)]  # type: ignore[attr-defined]


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_CODES)
@require_GET
def code_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = CodeFilterForm(scope, request.GET)
    form.is_valid()
    f = getattr(form, "cleaned_data", {})
    qs = codes.visible_codes(scope, kind=f.get("kind") or None, store_id=f.get("store"), guide_id=f.get("guide"))
    page = paginate(request, qs, 50)
    context = {"form": form, "page": page, "rows": page.object_list, "qs": querystring_without_page(request)}
    return render(request, "members/codes/code_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_CODES)
@require_http_methods(["GET", "POST"])
def code_create(request: HttpRequest) -> HttpResponse:
    """Make a code, or a batch of product codes. A refused form lists every problem at once: the
    form's own (a malformed date) and the service's (no store for a store code, an item that
    already has its code)."""
    scope = require_scope(request)
    initial = {"kind": request.GET.get("kind", CodeKind.STORE)}
    form = CodeForm(scope, request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        valid = form.is_valid()
        f = {k: v for k, v in getattr(form, "cleaned_data", {}).items() if k not in form.errors}
        batch = f.get("kind") == CodeKind.PRODUCT and (f.get("count") or 1) > 1
        if batch and f.get("serial"):
            form.add_error("serial", _("Give one item's serial, or a number of codes to number them for you."))
            valid = False
        data = {k: f.get(k) for k in CODE_FIELDS if k in f}
        try:
            if not valid:
                codes.check_code(scope, **data)  # only to report its problems beside the form's
            elif batch:
                made = codes.create_product_codes(
                    scope, sku_code=f["sku_code"], count=f["count"], name=f["name"], store=f.get("store")
                )
                messages.success(request, _("%(n)d product codes made.") % {"n": len(made)})
                return redirect(f"{_url('hq:code_list')}?kind=product")
            else:
                code = codes.create_code(scope, **data)
                messages.success(request, _("Code %(name)s made.") % {"name": code.name})
                return redirect("hq:code_detail", pk=code.pk)
        except ValidationError as exc:
            apply_errors(form, exc, skip=set(form.errors))
    status = 400 if request.method == "POST" else 200
    return render(request, "members/codes/code_form.html", {"form": form}, status=status)


CODE_FIELDS = ("kind", "name", "store", "guide", "campaign", "sku_code", "serial", "expires_at")


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_CODES)
@require_GET
def code_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    code = get_scoped(Code, scope, pk=pk)
    context = {
        "code": code,
        "url": codes.scan_url(code),
        "qr": codes.code_svg_inline(code),
        "live": codes.is_live(code),
        "store": org.store_info(code.brand_id, code.store_id) if code.store_id else None,
        "guide": org.staff_info(code.brand_id, code.guide_id) if code.guide_id else None,
        "may_deactivate": scope.level is Level.BRAND or code.kind in codes.LOCAL_KINDS,
    }
    return render(request, "members/codes/code_detail.html", context)


def _image(code: Code, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("not found")
    response = HttpResponse(codes.code_image(code, fmt), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="siyu-code-{code.token}.{fmt}"'
    return response


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_CODES)
@require_GET
def code_image(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    return _image(get_scoped(Code, require_scope(request), pk=pk), fmt)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_CODES)
@require_POST
def code_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    code = codes.deactivate_code(scope, pk)
    messages.success(
        request, _("Code %(name)s deactivated: scanning it now says it is no longer valid.") % {"name": code.name}
    )
    return redirect("hq:code_detail", pk=code.pk)


# --- Guide workbench -------------------------------------------------------------------------
@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def my_codes(request: HttpRequest) -> HttpResponse:
    """Her guide code and her store's code, big, to show on the phone in store."""
    scope = require_scope(request)
    mine = codes.codes_of_staff(scope.brand_id, scope.staff_id) if scope.staff_id else []
    rows = [{"code": c, "qr": codes.code_svg_inline(c, scale=8), "url": codes.scan_url(c)} for c in mine]
    return render(request, "members/codes/my_codes.html", {"rows": rows})


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def my_code_image(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    return _image(get_scoped(Code, require_scope(request), pk=pk), fmt)


hq_urlpatterns = [
    path("codes/", code_list, name="code_list"),
    path("codes/new/", code_create, name="code_create"),
    path("codes/<int:pk>/", code_detail, name="code_detail"),
    path("codes/<int:pk>/qr.<slug:fmt>", code_image, name="code_image"),
    path("codes/<int:pk>/deactivate/", code_deactivate, name="code_deactivate"),
]
guide_urlpatterns = [
    path("codes/", my_codes, name="my_codes"),
    path("codes/<int:pk>/qr.<slug:fmt>", my_code_image, name="my_code_image"),
]
