"""The customer domain's routes, composed from its view modules: HQ console (``hq:``), guide
workbench (``guide:``) and the customer-facing pages (scan landing, the customer's own profile)."""

from django.urls import URLPattern, URLResolver

from siyu.members import views, views_guide, views_mall, views_settings

hq_urlpatterns = [*views.hq_urlpatterns, *views_settings.hq_urlpatterns]
guide_urlpatterns = [*views_guide.guide_urlpatterns]
public_urlpatterns: list[URLPattern | URLResolver] = [*views_mall.public_urlpatterns]  # /c/<token>, /m/<store>/me ...
from siyu.members import views_codes, views_identity, views_scan, views_transfers  # noqa: E402  (helper-identity)

hq_urlpatterns += [*views_codes.hq_urlpatterns, *views_transfers.hq_urlpatterns, *views_identity.hq_urlpatterns]
guide_urlpatterns += views_codes.guide_urlpatterns
public_urlpatterns += views_scan.public_urlpatterns
from siyu.members import views_import  # noqa: E402  (helper-import)

hq_urlpatterns += views_import.hq_urlpatterns  # helper-import: /hq/customers/imports/
