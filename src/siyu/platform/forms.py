"""Form helpers shared by every surface."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from siyu.platform import privacy


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
