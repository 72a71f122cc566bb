"""Scanning a code: ``/c/<token>``, the customer-facing, phone-sized stand-in for the mini-program.

The visitor is known by a stable anonymous openid (app ``h5-sandbox``) kept in a signed cookie, as
the mini-program would know her by the openid WeChat gives it. The page shows the brand, store and
guide of the code. Opening the page IS the scan (:func:`siyu.members.codes.scan`), as in the
mini-program: she is found or created by her openid, bound per the brand's rules, and the touch is
recorded. The page then offers an optional mobile number and consent per channel; submitting them
completes her details without counting a second scan.

**A typed number proves nothing** (ADR 0007, amended): the page texts a one-time code to the number
(:func:`siyu.channels.services.send_code`, purpose ``scan.phone``); only with that code is the
number *verified*, so that it finds and merges the customer who holds it. Saved without a code it
is kept as an *unverified* phone identity: it finds nobody and merges nothing. With the SMS
sandbox (the demo) no text leaves siyu, and the page shows the code it "sent", labelled as such.

Her customer id is kept in a signed cookie, so the store mall's pages know her
(:func:`current_customer`). An inactive or expired code answers a friendly 410.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from siyu.channels import services as channels
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
PURPOSE = "scan.phone"  # what the one-time codes of this page are for (siyu.channels)
SEND, SAVE = "send_code", "save"


class ScanForm(forms.Form):
    phone = MobileField(
        label=gettext_lazy("Mobile (optional)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "13812345678"}),
        help_text=gettext_lazy("We text you a code to confirm the number is yours."),
    )
    code = forms.CharField(
        label=gettext_lazy("Code from the text message"),
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]*",
                "placeholder": "123456",
            }
        ),
        help_text=gettext_lazy("Without the code we keep your number unconfirmed: it does not link your membership."),
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


def _gone(request: HttpRequest, code: Code) -> HttpResponse:
    return render(request, "members/scan/gone.html", {"code": code}, status=410)


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def scan_landing(request: HttpRequest, token: str) -> HttpResponse:
    code = codes.code_by_token(token)
    if code is None:
        return render(request, "members/scan/gone.html", {"missing": True}, status=404)
    if not codes.is_live(code):
        return _gone(request, code)
    openid = visitor_openid(request) or "h5-" + secrets.token_urlsafe(18)
    visitor = [IdentityIn("openid", openid, app_id=codes.SCAN_APP_ID)]
    form = ScanForm(request.POST if request.method == "POST" else None)
    extra: dict[str, Any] = {}
    status = 200
    result = None
    if request.method == "GET":
        try:
            result = codes.scan(code, visitor)
        except codes.CodeGone:
            return _gone(request, code)
    elif request.POST.get("action") == SEND:
        # Text a code to the number; nothing else changes (no scan, no identity) until she saves.
        if form.is_valid() and not form.cleaned_data["phone"]:
            form.add_error("phone", _("Type your mobile number first."))
        if form.is_valid():
            try:
                extra["sent"] = channels.send_code(code.brand_id, form.cleaned_data["phone"], PURPOSE)
            except ValidationError as exc:
                apply_errors(form, exc)
        if form.errors:
            status = 400
    elif form.is_valid():
        f = form.cleaned_data
        identities = [*visitor]
        if f["phone"]:
            verified = bool(f["code"]) and channels.check_code(code.brand_id, f["phone"], PURPOSE, f["code"])
            if f["code"] and not verified:
                form.add_error(
                    "code",
                    _(
                        "This code is wrong or no longer valid. A code works for 5 minutes and 5 tries: "
                        "ask for a new one."
                    ),
                )
            identities.append(IdentityIn("phone", f["phone"], verified=verified))
        elif f["code"]:
            form.add_error("phone", _("Type the mobile number the code was sent to."))
        if not form.errors:
            consents = {c: bool(f[c]) for c in Channel.values}
            try:
                done = codes.scan(code, identities, name=f["name"] or None, consents=consents, count_scan=False)
            except codes.CodeGone:
                return _gone(request, code)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                verified_phone = any(i.kind == "phone" and i.verified for i in identities)
                context = {
                    **_context(code),
                    "result": done,
                    "customer": done.customer,
                    "phone_unconfirmed": bool(f["phone"]) and not verified_phone,
                }
                response = render(request, "members/scan/done.html", context)
                _remember(response, openid, done.customer.pk)
                return response
        status = 400
    else:
        status = 400
    me = result.customer if result is not None else current_customer(request)
    context = {**_context(code), "form": form, "me": me, "result": result, "send": SEND, "save": SAVE, **extra}
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
