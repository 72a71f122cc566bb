"""Scanning a code: ``/c/<token>``, the customer-facing, phone-sized stand-in for the mini-program.

The visitor is known by a stable anonymous openid (app ``h5-sandbox``) kept in a signed cookie, as
the mini-program would know her by the openid WeChat gives it. The page shows the brand, store and
guide of the code. Opening the page IS the scan (:func:`siyu.members.codes.scan`), as in the
mini-program: she is found or created by her openid, bound per the brand's rules, and the touch is
recorded. The page then offers an optional mobile number and consent per channel; submitting them
completes her details without counting a second scan. Her customer id is kept in a signed cookie,
so the store mall's pages know her (:func:`current_customer`). An inactive or expired code answers
a friendly 410.
"""

from __future__ import annotations

import secrets

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from siyu.members import codes
from siyu.members.identity import IdentityIn, root_of
from siyu.members.models import Channel, Code, Customer
from siyu.org import services as org
from siyu.platform.access import PUBLIC, access
from siyu.platform.forms import MobileField, apply_errors

VISITOR_COOKIE = "siyu_visitor"
CUSTOMER_COOKIE = "siyu_customer"
SALT = "siyu.members.scan"
MAX_AGE = 400 * 24 * 3600  # browsers keep a cookie at most 400 days


class ScanForm(forms.Form):
    phone = MobileField(
        label=gettext_lazy("Mobile (optional)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "13812345678"}),
        help_text=gettext_lazy("In the mini-program WeChat confirms your number; this page stands in for it."),
    )
    name = forms.CharField(label=gettext_lazy("Your name (optional)"), required=False, max_length=40)
    wecom = forms.BooleanField(label=gettext_lazy("The guide may contact me on WeCom"), required=False)
    sms = forms.BooleanField(label=gettext_lazy("Offers by SMS"), required=False)
    mini_program = forms.BooleanField(label=gettext_lazy("Mini-program messages"), required=False)


def visitor_openid(request: HttpRequest) -> str | None:
    value = request.get_signed_cookie(VISITOR_COOKIE, default=None, salt=SALT)
    return value if isinstance(value, str) and value else None


def current_customer(request: HttpRequest) -> Customer | None:
    """The customer this browser belongs to (she scanned a code here), or ``None``. A customer who
    was merged since is followed to the one she was merged into."""
    raw = request.get_signed_cookie(CUSTOMER_COOKIE, default=None, salt=SALT)
    if not raw or not str(raw).isdigit():
        return None
    found = Customer.objects.filter(pk=int(raw)).first()
    if found is None:
        return None
    found = root_of(found)
    return found if found.erased_at is None else None


def _context(code: Code) -> dict[str, object]:
    store = org.store_info(code.brand_id, code.store_id) if code.store_id else None
    guide = org.staff_info(code.brand_id, code.guide_id) if code.guide_id else None
    return {"code": code, "store": store, "guide": guide}


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def scan_landing(request: HttpRequest, token: str) -> HttpResponse:
    code = codes.code_by_token(token)
    if code is None:
        return render(request, "members/scan/gone.html", {"missing": True}, status=404)
    if not codes.is_live(code):
        return render(request, "members/scan/gone.html", {"code": code}, status=410)
    openid = visitor_openid(request) or "h5-" + secrets.token_urlsafe(18)
    visitor = [IdentityIn("openid", openid, app_id=codes.SCAN_APP_ID)]
    form = ScanForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "GET":
        try:
            result = codes.scan(code, visitor)
        except codes.CodeGone:
            return render(request, "members/scan/gone.html", {"code": code}, status=410)
    else:
        result = None
        if form.is_valid():
            f = form.cleaned_data
            identities = [*visitor]
            if f["phone"]:
                identities.append(IdentityIn("phone", f["phone"], verified=True))
            consents = {c: bool(f[c]) for c in Channel.values}
            try:
                done = codes.scan(code, identities, name=f["name"] or None, consents=consents, count_scan=False)
            except codes.CodeGone:
                return render(request, "members/scan/gone.html", {"code": code}, status=410)
            except ValidationError as exc:
                apply_errors(form, exc)
                status = 400
            else:
                response = render(
                    request, "members/scan/done.html", {**_context(code), "result": done, "customer": done.customer}
                )
                _remember(response, openid, done.customer.pk)
                return response
        else:
            status = 400
    me = result.customer if result is not None else current_customer(request)
    context = {**_context(code), "form": form, "me": me, "result": result}
    response = render(request, "members/scan/landing.html", context, status=status)
    if me is not None:
        _remember(response, openid, me.pk)
    elif visitor_openid(request) is None:
        response.set_signed_cookie(VISITOR_COOKIE, openid, salt=SALT, max_age=MAX_AGE, httponly=True, samesite="Lax")
    return response


def _remember(response: HttpResponse, openid: str, customer_id: int) -> None:
    for name, value in ((VISITOR_COOKIE, openid), (CUSTOMER_COOKIE, str(customer_id))):
        response.set_signed_cookie(name, value, salt=SALT, max_age=MAX_AGE, httponly=True, samesite="Lax")


public_urlpatterns = [path("c/<str:token>", scan_landing, name="scan")]
