"""Forms of the HQ console and the guide workbench.

Forms only parse and offer choices; every write goes through :mod:`siyu.org.services`, whose
``ValidationError`` is put back on the form field by field (:func:`apply_errors`). Every choice a
form offers is limited to the viewer's reach (:func:`siyu.platform.tenancy.restrict`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import (
    DecimalValidator,
    MaxLengthValidator,
    MinLengthValidator,
    ProhibitNullCharactersValidator,
)
from django.db import models
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from siyu.org.models import Franchisee, Region, Staff, Store
from siyu.org.rules import (
    MANAGEABLE_ROLES,
    PERM_LABELS,
    POSTED_TO,
    ROLE_LABELS,
    TOKEN_PERMS,
    Perm,
    Role,
    valid_opening_hours,
)
from siyu.platform.tenancy import Scope, restrict

ANY = [("", _("All"))]


_FORM_HAS_ITS_OWN = (MaxLengthValidator, MinLengthValidator, DecimalValidator, ProhibitNullCharactersValidator)


def _model_fields(model: type[models.Model], names: tuple[str, ...]) -> dict[str, forms.Field]:
    """Form fields made from the model's fields, carrying the model's own validators (patterns,
    bounds) so every field's mistake is reported in the same round."""
    fields = fields_for_model(model, fields=names)
    out: dict[str, forms.Field] = {}
    for name, field in fields.items():
        if field is None:
            continue
        own = getattr(model._meta.get_field(name), "validators", [])
        extra = [v for v in own if not isinstance(v, _FORM_HAS_ITS_OWN)]
        field.validators = [*field.validators, *extra]
        out[name] = field
    return out


class _ModelFieldsForm(forms.Form):
    """A plain form whose fields (labels, lengths, choices) come from a model's fields."""

    model: type[models.Model]
    field_names: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in _model_fields(self.model, self.field_names).items():
            self.fields[name] = field

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.field_names if name in self.fields}


class RegionForm(_ModelFieldsForm):
    model = Region
    field_names = ("code", "name", "status")


class FranchiseeForm(_ModelFieldsForm):
    model = Franchisee
    field_names = ("code", "name", "kind", "credit_code", "contact_name", "contact_phone", "status")


class StoreForm(_ModelFieldsForm):
    """Create (HQ) or edit a store. Only HQ (``org.manage_structure``) may set region, owner and
    code; for anyone else those fields are left out of the form."""

    model = Store
    field_names = (
        "code",
        "name",
        "region",
        "franchisee",
        "city",
        "district",
        "address",
        "latitude",
        "longitude",
        "opening_hours",
        "phone",
        "opened_on",
    )
    structural = ("code", "region", "franchisee")

    def __init__(self, scope: Scope, *args: Any, creating: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["status"] = _model_fields(Store, ("status",))["status"]
        if scope.can(Perm.ORG_STRUCTURE):
            self.fields["region"].queryset = restrict(Region, scope)  # type: ignore[attr-defined]
            self.fields["franchisee"].queryset = restrict(Franchisee, scope)  # type: ignore[attr-defined]
        else:
            for name in self.structural:
                del self.fields[name]
        self.fields["opening_hours"].help_text = _("HH:MM-HH:MM, e.g. 10:00-22:00")
        self.fields["latitude"].help_text = _("Degrees north, e.g. 31.229800")
        self.fields["longitude"].help_text = _("Degrees east, e.g. 121.459500")
        self.fields["opened_on"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def clean_opening_hours(self) -> str:
        hours = str(self.cleaned_data.get("opening_hours") or "").strip()
        if not valid_opening_hours(hours):
            raise forms.ValidationError(_("Write opening hours as HH:MM-HH:MM, e.g. 10:00-22:00."))
        return hours

    def changes(self) -> dict[str, Any]:
        data = super().changes()
        if "status" in self.fields:
            data["status"] = self.cleaned_data["status"]
        return data


class StoreStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Store.State.choices)


class StaffCreateForm(_ModelFieldsForm):
    """New member of staff: the roles offered are those the actor may manage; the stores and
    regions offered are those within her reach."""

    model = Staff
    field_names = ("name", "username", "phone")
    password = forms.CharField(label=_("Initial password"), min_length=8, widget=forms.PasswordInput)

    def __init__(self, scope: Scope, actor_role: Role, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = [r for r in Role if r in MANAGEABLE_ROLES[actor_role]]
        self.fields["role"] = forms.ChoiceField(
            label=_("Role"), choices=[("", "---------"), *[(r.value, ROLE_LABELS[r]) for r in roles]]
        )
        postings = {POSTED_TO[r] for r in roles}
        if "region" in postings:
            self.fields["region"] = forms.ModelChoiceField(
                label=_("Region"),
                queryset=restrict(Region, scope),
                required=False,
                help_text=_("For a region manager."),
            )
        if "store" in postings:
            self.fields["store"] = forms.ModelChoiceField(
                label=_("Store"),
                queryset=restrict(Store, scope).exclude(status=Store.State.CLOSED),
                required=False,
                help_text=_("For a store manager or a guide."),
            )
        self.order_fields(["name", "username", "phone", "role", "region", "store", "password"])

    def changes(self) -> dict[str, Any]:
        data = super().changes()
        data["role"] = self.cleaned_data["role"]
        data["region"] = self.cleaned_data.get("region")
        data["store"] = self.cleaned_data.get("store")
        return data


class StaffEditForm(_ModelFieldsForm):
    model = Staff
    field_names = ("name", "username", "phone")


class MoveForm(forms.Form):
    """Move a guide or store manager to another store (or a region manager to another region)."""

    def __init__(self, scope: Scope, staff: Staff, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if POSTED_TO[staff.role_enum] == "region":
            regions = restrict(Region, scope).exclude(pk__in=[staff.region_id or 0])
            self.fields["region"] = forms.ModelChoiceField(label=_("New region"), queryset=regions)
        else:
            stores = restrict(Store, scope).exclude(status=Store.State.CLOSED).exclude(pk__in=[staff.store_id or 0])
            self.fields["store"] = forms.ModelChoiceField(label=_("New store"), queryset=stores)


class SetPasswordForm(forms.Form):
    password = forms.CharField(label=_("New password"), min_length=8, widget=forms.PasswordInput)
    confirm = forms.CharField(label=_("Repeat the new password"), widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("confirm") and data["password"] != data["confirm"]:
            self.add_error("confirm", _("The two passwords differ."))
        return data


class OwnPasswordForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput)
    new_password = forms.CharField(label=_("New password"), min_length=8, widget=forms.PasswordInput)
    confirm = forms.CharField(label=_("Repeat the new password"), widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("confirm") and data["new_password"] != data["confirm"]:
            self.add_error("confirm", _("The two passwords differ."))
        return data


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80, help_text=_("Which system uses it, e.g. 'POS Shanghai'."))
    perms = forms.MultipleChoiceField(
        label=_("Permissions"),
        choices=[(p, PERM_LABELS[Perm(p)]) for p in TOKEN_PERMS],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"] = forms.ModelChoiceField(
            label=_("Limited to store"),
            queryset=restrict(Store, scope),
            required=False,
            empty_label=_("No: the whole brand"),
            help_text=_("A POS token can be limited to one store."),
        )


# --- Filters (GET) ---------------------------------------------------------------------------
class StoreFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    region = forms.ModelChoiceField(
        label=_("Region"), queryset=Region.objects.none(), required=False, empty_label=_("All")
    )
    city = forms.ChoiceField(label=_("City"), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=ANY + Store.State.choices, required=False)

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = restrict(Region, scope)  # type: ignore[attr-defined]
        cities = restrict(Store, scope).order_by("city").values_list("city", flat=True).distinct()
        self.fields["city"].choices = ANY + [(c, c) for c in cities]  # type: ignore[attr-defined]
        self.fields["q"].widget.attrs["placeholder"] = _("code, name, city or address")


class StaffFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=60)
    role = forms.ChoiceField(label=_("Role"), required=False, choices=ANY + [(r.value, ROLE_LABELS[r]) for r in Role])
    store = forms.ModelChoiceField(
        label=_("Store"), queryset=Store.objects.none(), required=False, empty_label=_("All")
    )
    employment = forms.ChoiceField(
        label=_("Employment"), required=False, choices=ANY + Staff.Employment.choices, initial=""
    )

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = restrict(Store, scope)  # type: ignore[attr-defined]
        self.fields["q"].widget.attrs["placeholder"] = _("name, username or mobile")


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(label=_("Object type"), required=False)
    actor = forms.CharField(label=_("Who"), required=False, max_length=60)

    def __init__(self, object_types: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = ANY + [(t, t) for t in object_types]  # type: ignore[attr-defined]
