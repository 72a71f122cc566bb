"""Sign-in for staff with username or mobile number and a password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.db.models import Q
from django.http import HttpRequest

from siyu.org.models import Staff


class PhoneOrUsernameBackend(BaseBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Staff | None:
        if not username or not password:
            return None
        login = username.strip()
        staff = Staff.objects.select_related("store").filter(Q(username=login) | Q(phone=login)).first()
        if staff is None:
            Staff().set_password(password)  # same work as a real check: no timing oracle
            return None
        if staff.check_password(password) and staff.is_active and staff.employment == Staff.Employment.ACTIVE:
            return staff
        return None

    def get_user(self, user_id: int) -> Staff | None:
        return Staff.objects.select_related("store").filter(pk=user_id, is_active=True).first()
