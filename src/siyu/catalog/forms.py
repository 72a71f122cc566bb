"""Forms of the HQ catalog pages. They parse and offer choices; every write goes through
:mod:`siyu.catalog.services`, whose ``ValidationError`` lands back on the field it names
(:func:`siyu.platform.forms.apply_errors`). Prices are typed in yuan and handed on as fen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.catalog import importer
from siyu.catalog.models import CatalogImport, Category, Product, ProductRole, Sku
from siyu.org import services as org
from siyu.platform.forms import YuanField
from siyu.platform.money import fen_to_yuan
from siyu.platform.tenancy import Scope, restrict

ANY = [("", _("All"))]


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=60)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False, empty_label=_("All")
    )
    role = forms.ChoiceField(label=_("Role"), required=False, choices=ANY + ProductRole.choices)
    on_sale = forms.ChoiceField(
        label=_("On sale"), required=False, choices=[*ANY, ("yes", _("On sale")), ("no", _("Off sale"))]
    )

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = restrict(Category, scope)  # type: ignore[attr-defined]
        self.fields["q"].widget.attrs["placeholder"] = _("style code, name, SKU code or barcode")


class ProductForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.none())
    code = forms.CharField(label=_("Style code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=120)
    role = forms.ChoiceField(label=_("Role"), choices=ProductRole.choices, initial=ProductRole.REGULAR)
    price = YuanField(label=_("Brand price (¥)"))
    launched_on = forms.DateField(
        label=_("Launched on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    active = forms.BooleanField(label=_("On sale"), required=False, initial=True)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    RENAME = {"price_fen": "price"}  # service field -> form field

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = restrict(Category, scope)  # type: ignore[attr-defined]

    @classmethod
    def initial_of(cls, product: Product) -> dict[str, Any]:
        return {
            "category": product.category_id,
            "code": product.code,
            "name": product.name,
            "role": product.role,
            "price": fen_to_yuan(product.price_fen),
            "launched_on": product.launched_on,
            "active": product.active,
            "description": product.description,
        }

    def changes(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "category": d["category"].pk,
            "code": d["code"],
            "name": d["name"],
            "role": d["role"],
            "price_fen": d["price"],
            "launched_on": d["launched_on"],
            "active": d["active"],
            "description": d["description"],
        }


class SkuForm(forms.Form):
    code = forms.CharField(label=_("SKU code"), max_length=40)
    color = forms.CharField(label=_("Colour"), max_length=30)
    size = forms.CharField(label=_("Size"), max_length=10)
    barcode = forms.CharField(label=_("Barcode"), max_length=20, required=False)

    @classmethod
    def initial_of(cls, sku: Sku) -> dict[str, Any]:
        return {"code": sku.code, "color": sku.color, "size": sku.size, "barcode": sku.barcode}


class CategoryForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=60)


class ImageForm(forms.Form):
    image = forms.FileField(
        label=_("Picture"),
        help_text=_("PNG, JPEG or WebP, at most 5 MB, each side 64–8000 pixels."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    alt = forms.CharField(label=_("Description"), max_length=120, required=False)


class _StoresForm(forms.Form):
    """Which SKUs (one, or every SKU of the product) at which stores (one, a region's, a city's)."""

    sku = forms.ChoiceField(label=_("SKU"), required=False)
    store = forms.ChoiceField(label=_("Store"), required=False)
    region = forms.ChoiceField(label=_("Region"), required=False)
    city = forms.ChoiceField(label=_("City"), required=False)

    def __init__(self, scope: Scope, product: Product, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stores = org.stores(scope.brand_id)
        self.fields["sku"].choices = [("", _("Every SKU of the product"))] + [  # type: ignore[attr-defined]
            (str(s.pk), f"{s.code} · {s.color} {s.size}") for s in product.skus.order_by("code")
        ]
        none = [("", "—")]
        self.fields["store"].choices = none + [(str(s.id), f"{s.code} {s.name}") for s in stores]  # type: ignore[attr-defined]
        self.fields["region"].choices = none + [  # type: ignore[attr-defined]
            (str(pk), code) for code, pk in sorted(org.region_ids(scope.brand_id).items())
        ]
        self.fields["city"].choices = none + [(c, c) for c in sorted({s.city for s in stores})]  # type: ignore[attr-defined]

    def target(self) -> dict[str, Any]:
        d = self.cleaned_data
        sku = d.get("sku") or None
        return {
            "sku_id": int(sku) if sku else None,
            "store_id": int(d["store"]) if d.get("store") else None,
            "region_id": int(d["region"]) if d.get("region") else None,
            "city": d.get("city") or None,
        }


class StorePriceForm(_StoresForm):
    price = YuanField(label=_("Store price (¥)"))
    RENAME = {"price_fen": "price", "product": "sku"}


class ClearPricesForm(_StoresForm):
    RENAME = {"product": "sku"}


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=CatalogImport.Kind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or GBK) or Excel .xlsx, at most 20 MB; the first line names the columns. Products: one "
            "row per SKU — style_code, name, category, role, price (yuan), sku_code, color, size, barcode, on_sale "
            "(or 款号, 品名, 品类, 角色, 吊牌价, SKU编码, 颜色, 尺码, 条码, 在售). Store prices: store_code, sku_code, "
            "price (or 门店编码, SKU编码, 门店价)."
        ),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in {".csv", ".txt", ".xlsx"}:
            raise forms.ValidationError(_("Choose a .csv or .xlsx file."))
        if upload.size > importer.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB; split it."))
        return upload
