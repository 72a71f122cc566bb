"""Model validation whose errors land on the field a person can correct."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils.translation import gettext as _


def full_clean(instance: models.Model, exclude: Iterable[str] | None = None) -> None:
    """``Model.full_clean``, with a brand-wide uniqueness clash (``UniqueConstraint`` on brand and
    code) reported on the field that clashed rather than on the whole object."""
    try:
        instance.full_clean(exclude=list(exclude) if exclude else None)
    except ValidationError as exc:
        errors: dict[str, list[ValidationError]] = {}
        for name, items in exc.error_dict.items():
            for error in items:
                clash = [f for f in (error.params or {}).get("unique_check", ()) if f != "brand"]
                if name == NON_FIELD_ERRORS and error.code == "unique_together" and clash:
                    name, error = (
                        clash[0],
                        ValidationError(_("This value is already used by another record of the brand."), code="unique"),
                    )
                errors.setdefault(name, []).append(error)
        raise ValidationError(errors) from exc
