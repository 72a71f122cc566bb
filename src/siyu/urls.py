"""Every URL of siyu. The authorisation matrix test (tests/test_access_matrix.py) walks them all."""

from django.urls import URLPattern, URLResolver, include, path

from siyu.api import api
from siyu.catalog import urls as catalog_urls
from siyu.catalog import views_mall as mall_views
from siyu.catalog import views_pages as store_page_views
from siyu.events import beacon as event_beacon
from siyu.members import urls as members_urls
from siyu.members import views_scan
from siyu.orders import views_mall as order_mall_views
from siyu.org import views as org_views
from siyu.platform import media
from siyu.platform import views as platform_views

hq_patterns: list[URLPattern | URLResolver] = [
    *platform_views.hq_urlpatterns,
    *org_views.hq_urlpatterns,
    *members_urls.hq_urlpatterns,
]
hq_patterns += catalog_urls.hq_urlpatterns
hq_patterns += store_page_views.hq_urlpatterns  # /hq/store-pages/: templates, pushes, each store's page
guide_patterns = [*platform_views.guide_urlpatterns, *org_views.guide_urlpatterns, *members_urls.guide_urlpatterns]

from siyu.inventory import views as stock_views  # noqa: E402  (helper-stock-orders)
from siyu.orders import views_hq as orders_hq_views  # noqa: E402
from siyu.orders import views_staff as orders_staff_views  # noqa: E402

hq_patterns += [*orders_hq_views.hq_urlpatterns, *stock_views.hq_urlpatterns]  # /hq/orders/, /hq/stock/
guide_patterns += orders_staff_views.guide_urlpatterns  # /guide/orders/: the store's parcels

from siyu.segments import views as segment_views  # noqa: E402  (segment builder, shared audiences)

hq_patterns += segment_views.hq_urlpatterns  # /hq/segments/: list, builder with live count, runs, overlap
from siyu.events import views as event_views  # noqa: E402  (the event explorer)

hq_patterns += event_views.hq_urlpatterns  # /hq/events/: a customer's or a store's events, counts by type per day
guide_patterns += segment_views.guide_urlpatterns  # /guide/customers/audiences/: what HQ shares with her

from siyu.tasks import views_guide as task_guide_views  # noqa: E402  (helper-tasks)
from siyu.tasks import views_hq as task_hq_views  # noqa: E402

hq_patterns += task_hq_views.hq_urlpatterns  # /hq/tasks/: designer, progress, completion, approvals
guide_patterns += task_guide_views.guide_urlpatterns  # /guide/today/: today's tasks, one-tap actions

from siyu.contests import views as contest_views  # noqa: E402  (helper-contests)
from siyu.learning import views as learning_views  # noqa: E402

hq_patterns += [
    *contest_views.hq_urlpatterns,
    *learning_views.hq_urlpatterns,
]  # /hq/contests/, /hq/feed/, /hq/learning/
guide_patterns += [
    *contest_views.guide_urlpatterns,
    *learning_views.guide_urlpatterns,
]  # /guide/contests/, feed/, learn/
from siyu.incentives import views as incentives_views  # noqa: E402  (helper-coins)

hq_patterns += incentives_views.hq_urlpatterns  # /hq/leaderboards/, /hq/rewards/, /hq/benchmarks/
guide_patterns += incentives_views.guide_urlpatterns  # /guide/coins/, /guide/mall/, /guide/rank/, /guide/wall/

urlpatterns = [
    path("", platform_views.root, name="root"),
    path("i18n/setlang/", platform_views.set_language, name="set_language"),
    path("healthz", platform_views.healthz, name="healthz"),
    path("hq/", include((hq_patterns, "hq"))),
    path("guide/", include((guide_patterns, "guide"))),
    path("api/v1/", api.urls),
    *event_beacon.urlpatterns_with(views_scan.current_customer),  # /m/<store>/beacon/: the mall beacon
    *mall_views.urlpatterns_with(views_scan.current_customer),  # /m/, /m/<store>/, /m/<store>/p/<product>/
    *members_urls.public_urlpatterns,
    *order_mall_views.urlpatterns_with(views_scan),  # /m/<store>/cart/, checkout/, orders/...
    *media.urlpatterns(),  # uploaded pictures under MEDIA_ROOT (production: the reverse proxy serves them)
]
