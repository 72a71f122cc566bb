"""The customer domain's routes, composed from its view modules: HQ console (``hq:``), guide
workbench (``guide:``) and the customer-facing pages (scan landing, the customer's own profile)."""

from django.urls import URLPattern, URLResolver

from siyu.members import views, views_guide, views_mall, views_settings

hq_urlpatterns = [*views.hq_urlpatterns, *views_settings.hq_urlpatterns]
guide_urlpatterns = [*views_guide.guide_urlpatterns]
public_urlpatterns: list[URLPattern | URLResolver] = [*views_mall.public_urlpatterns]  # /c/<token>, /m/<store>/me ...
