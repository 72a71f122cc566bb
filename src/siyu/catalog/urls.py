"""The catalog's routes, composed from its view modules: the HQ console (``hq:``, ``/hq/catalog/``).
Another module of the catalog (the store pages of the mall) adds its own lines below."""

from django.urls import URLPattern

from siyu.catalog import views, views_import

hq_urlpatterns: list[URLPattern] = [*views_import.hq_urlpatterns, *views.hq_urlpatterns]
