"""Who may use the events API (see ``tests/access/model.py``): systems with ``events.ingest`` and
the HQ admin send events; a customer's events are read by whoever may see her, a store's by the
console roles whose reach holds the store."""

from __future__ import annotations

from siyu.org.rules import Perm
from tests.access.model import CONSOLE, EVERYONE, Rule

RULES: dict[tuple[str, str], Rule] = {
    ("api:events_ingest", "POST"): Rule(
        roles=frozenset({"hq_admin"}), data=lambda w: {"events": []}, token_perm=Perm.EVENTS_INGEST
    ),
    ("api:customer_events", "GET"): Rule(
        roles=EVERYONE,
        kwargs=lambda w: {"customer_id": w.customers["chen.guide"][0]},
        out_of_scope={
            "region_manager": lambda w: {"customer_id": w.customers["he.guide"][0]},
            "store_manager": lambda w: {"customer_id": w.customers["sun.guide"][0]},
            "guide_a": lambda w: {"customer_id": w.customers["liu.guide"][0]},
        },
        token_perm=Perm.MEMBERS_VIEW,
    ),
    ("api:store_events", "GET"): Rule(
        roles=CONSOLE,
        kwargs=lambda w: {"store_id": w.flagship.pk},
        out_of_scope={
            "region_manager": lambda w: {"store_id": w.gz1.pk},
            "store_manager": lambda w: {"store_id": w.sh2.pk},
        },
        token_perm=Perm.HQ_CONSOLE,
    ),
}

# --- the HQ event explorer (/hq/events/) and the mall beacon (/m/<store>/beacon/) ----------------------
RULES.update(
    {
        ("hq:event_explorer", "GET"): Rule(CONSOLE),
        # Public, but it records only the mall's own customer (the scan cookie): anyone else's batch
        # is answered 204 and dropped.
        ("mall_beacon", "POST"): Rule(
            EVERYONE, public=True, kwargs=lambda w: {"store_code": w.flagship.code}, data=lambda w: {}, ok=204
        ),
    }
)
