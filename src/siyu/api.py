"""The REST API at /api/v1/ (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Callers are systems with an API token (``Authorization: Bearer siyu_…``) or signed-in staff (their
session, with CSRF on unsafe methods). Each domain contributes a router; the kernel
(:mod:`siyu.platform.api`) supplies errors, permissions and paging.
"""

from siyu.catalog.api import router as catalog_router
from siyu.catalog.api_storefront import router as storefront_router
from siyu.members.api import router as members_router
from siyu.orders.api import router as orders_router
from siyu.org.api import SystemToken
from siyu.org.api import router as org_router
from siyu.platform.api import StaffSession, build_api

api = build_api(
    title="siyu API",
    version="1",
    description=(
        "The REST API of siyu, the private-domain retail operations platform. "
        "Send an API token as `Authorization: Bearer siyu_…` (issued by HQ to a system such as a POS) "
        "or use a signed-in staff session. Every list is paged with `limit` and `offset`; every error "
        "is JSON with a `detail` and, for invalid input, `errors` per field. Money is integer fen."
    ),
    auth=[SystemToken(), StaffSession()],
)
api.add_router("", org_router)
api.add_router("", members_router)
api.add_router("", catalog_router)
api.add_router("", storefront_router)  # the store mall: store pages (public), template push (HQ)
api.add_router("", orders_router)
from siyu.inventory.api import router as stock_router  # noqa: E402  (helper-stock-orders)
from siyu.orders.api_pos import router as pos_router  # noqa: E402

api.add_router("", stock_router)  # POS stock sync, receipts
api.add_router("", pos_router)  # offline POS orders
from siyu.events.api import router as events_router  # noqa: E402  (helper-events)

api.add_router("", events_router)  # behaviour events: ingestion, a customer's and a store's recent events
from siyu.segments.api import router as segments_router  # noqa: E402  (helper-segments)

api.add_router("", segments_router)  # segment definitions, counts, members, overlap, materialise
from siyu.tasks.api import router as tasks_router  # noqa: E402  (helper-tasks)

api.add_router("", tasks_router)  # guide tasks: design, preview, publish, completion, a guide's work today
from siyu.contests.api import router as contests_router  # noqa: E402  (helper-contests)
from siyu.learning.api import router as learning_router  # noqa: E402

api.add_router("", contests_router)  # PK contests, boards, a guide's own contests; the performance feed
api.add_router("", learning_router)  # knowledge base, reads, quizzes, attempts, knowledge contest rankings
from siyu.incentives.api import router as incentives_router  # noqa: E402  (helper-incapi)

api.add_router("", incentives_router)  # coins, the reward mall, leaderboards, benchmarks
