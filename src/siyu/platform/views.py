"""Sign-in, sign-out, language switch and health: the pages every surface shares."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from siyu.platform.access import AUTHENTICATED, PUBLIC, access, scope_of


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("Wrong username/mobile or password, or the account is not active."),
        "inactive": _("This account is not active."),
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["username"].label = _("Username or mobile")
        self.fields["password"].label = _("Password")


def _home_for(request: HttpRequest) -> str:
    scope = scope_of(request)
    if scope is not None and scope.can("hq.console"):
        return reverse("hq:home")
    if scope is not None and scope.can("guide.workbench"):
        return reverse("guide:home")
    return reverse("hq:login")


@access(PUBLIC)
def root(request: HttpRequest) -> HttpResponse:
    return redirect(_home_for(request))


def _sign_in(request: HttpRequest, surface: str) -> HttpResponse:
    form = SignInForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.get_user())
        target = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
            target = ""
        if surface == "guide" and not target:
            target = reverse("guide:home")
        return redirect(target or _home_for(request))
    template = "platform/guide_login.html" if surface == "guide" else "platform/login.html"
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, "next": request.GET.get("next", "")}, status=status)


@access(PUBLIC)
def hq_login(request: HttpRequest) -> HttpResponse:
    return _sign_in(request, "hq")


@access(PUBLIC)
def guide_login(request: HttpRequest) -> HttpResponse:
    return _sign_in(request, "guide")


@access(AUTHENTICATED)
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out and land on the sign-in page of the surface she used (workbench or console)."""
    scope = scope_of(request)
    surface = "hq" if scope is not None and scope.can("hq.console") else "guide"
    if request.resolver_match is not None and request.resolver_match.namespace == "guide":
        surface = "guide"
    logout(request)
    return redirect(f"{surface}:login")


@access(PUBLIC)
def set_language(request: HttpRequest) -> HttpResponse:
    return django_set_language(request)


@access(PUBLIC)
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


hq_urlpatterns = [
    path("login/", hq_login, name="login"),
    path("logout/", sign_out, name="logout"),
]
guide_urlpatterns = [
    path("login/", guide_login, name="login"),
    path("logout/", sign_out, name="logout"),
]
