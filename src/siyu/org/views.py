"""HQ console and guide workbench pages of the organisation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from siyu.org.rules import Perm
from siyu.platform.access import access


@access(Perm.HQ_CONSOLE)
def hq_home(request: HttpRequest) -> HttpResponse:
    return render(request, "org/hq_home.html", {})


@access(Perm.GUIDE_WORKBENCH, login_url="guide:login")
def guide_home(request: HttpRequest) -> HttpResponse:
    return render(request, "org/guide_home.html", {})


hq_urlpatterns = [path("", hq_home, name="home")]
guide_urlpatterns = [path("", guide_home, name="home")]
