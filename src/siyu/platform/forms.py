"""Form helpers shared by every surface."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from siyu.platform import privacy
from siyu.platform.money import yuan_to_fen


def apply_errors(
    form: forms.BaseForm,
    exc: ValidationError,
    rename: Mapping[str, str] | None = None,
    *,
    skip: Collection[str] = (),
) -> None:
    """Put a service's ``ValidationError`` on the form: each message on the field it names (after
    ``rename``, service name -> form field) when the form has that field, otherwise at the top.
    Fields in ``skip`` (those the form itself already refused) keep only their own message."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        field = (rename or {}).get(name, name)
        if field in skip:
            continue
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


T = TypeVar("T")


def submit_valid(
    request: HttpRequest, form: forms.BaseForm, write: Callable[[], T], rename: Mapping[str, str] | None = None
) -> T | None:
    """Run a service verb for a posted, valid form; on its ``ValidationError`` the messages go onto
    the form's fields (:func:`apply_errors`, with ``rename``) and ``None`` comes back (the verb's
    transaction wrote nothing). ``None`` too for a GET or an invalid form."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return write()
    except ValidationError as exc:
        apply_errors(form, exc, rename)
        return None


def form_page(
    request: HttpRequest, form: forms.BaseForm, *, template: str, title: str, back: str, submit: str, **extra: Any
) -> HttpResponse:
    """A page with one form (``template`` renders ``form``, ``title``, ``back`` and the ``submit``
    label): 400 when it answers a POST (the form had errors), else 200."""
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": title, "back": back, "submit": submit, **extra}
    return render(request, template, context, status=status)


class MobileField(forms.CharField):
    """A mainland mobile number, cleaned to its 11 digits (``+86``, spaces and dashes removed);
    empty when not required and left blank."""

    default_error_messages = {"invalid": _("A mobile number has 11 digits and starts with 13–19.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        raw = str(super().to_python(value) or "").strip()
        if not raw:
            return ""
        try:
            return privacy.normalize_phone(raw)
        except ValueError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class YuanField(forms.Field):
    """An amount in yuan (``599``, ``599.00``, ``¥1,299``), cleaned to an ``int`` of fen."""

    widget = forms.TextInput
    default_error_messages = {"invalid": _("Write a price in yuan, e.g. 599 or 599.00.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "placeholder": "599.00", "maxlength": "16"})

    def to_python(self, value: Any) -> int | None:
        raw = str(value or "").replace("¥", "").replace("￥", "").strip()
        if not raw:
            return None
        try:
            return yuan_to_fen(raw)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
