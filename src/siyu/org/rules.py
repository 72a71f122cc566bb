"""Pure rules of the organisation: roles, what each may do, how far each reaches. No I/O."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import Level

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import StrOrPromise


class Role(StrEnum):
    HQ_ADMIN = "hq_admin"
    HQ_OPERATOR = "hq_operator"
    REGION_MANAGER = "region_manager"
    STORE_MANAGER = "store_manager"
    GUIDE = "guide"


ROLE_LABELS = {
    Role.HQ_ADMIN: _("HQ admin"),
    Role.HQ_OPERATOR: _("HQ operator"),
    Role.REGION_MANAGER: _("Region manager"),
    Role.STORE_MANAGER: _("Store manager"),
    Role.GUIDE: _("Shopping guide"),
}

LEVEL_OF_ROLE = {
    Role.HQ_ADMIN: Level.BRAND,
    Role.HQ_OPERATOR: Level.BRAND,
    Role.REGION_MANAGER: Level.REGION,
    Role.STORE_MANAGER: Level.STORE,
    Role.GUIDE: Level.SELF,
}

# Where a member of staff is posted: HQ roles to the brand, region managers to a region,
# store managers and guides to a store.
POSTED_TO = {
    Role.HQ_ADMIN: None,
    Role.HQ_OPERATOR: None,
    Role.REGION_MANAGER: "region",
    Role.STORE_MANAGER: "store",
    Role.GUIDE: "store",
}


class Perm(StrEnum):
    HQ_CONSOLE = "hq.console"  # may open the HQ console
    GUIDE_WORKBENCH = "guide.workbench"  # may open the guide workbench
    ORG_VIEW = "org.view"
    ORG_STRUCTURE = "org.manage_structure"  # regions, franchisees, new stores
    ORG_STORE = "org.manage_store"  # edit / pause / close a store in reach
    ORG_STAFF = "org.manage_staff"  # create, edit, move, mark as left
    AUDIT_VIEW = "org.audit"
    TOKENS = "org.tokens"
    MEMBERS_VIEW = "members.view"
    MEMBERS_EDIT = "members.edit"  # tags, notes, follow-ups, consent on customers in reach
    MEMBERS_REGISTER = "members.register"  # register customers and touches (POS, ERP, scans)
    MEMBERS_BIND = "members.bind"  # assign a guide, transfer customers in reach
    MEMBERS_MERGE = "members.merge"  # merge and unmerge customers
    MEMBERS_CODES = "members.codes"  # create and manage store, guide, campaign and product codes
    MEMBERS_IMPORT = "members.import"
    MEMBERS_EXPORT = "members.export"  # export a filtered customer list (scoped, masked)
    MEMBERS_POLICY = "members.policy"  # tag groups, lifecycle thresholds, tiers, binding rules
    MEMBERS_PRIVACY = "members.privacy"  # a customer's data export and erasure on request
    CATALOG_VIEW = "catalog.view"
    CATALOG_MANAGE = "catalog.manage"  # products, SKUs, prices, images, catalog import/export, page templates
    STORE_PAGE = "catalog.store_page"  # a store's own page in the mall: headline, banners, featured products
    STOCK_VIEW = "inventory.view"
    STOCK_MANAGE = "inventory.manage"  # receipts, adjustments, transfers between stores, POS stock sync
    ORDERS_VIEW = "orders.view"
    ORDERS_FULFIL = "orders.fulfil"  # pick, pack, ship, hand over at pickup
    ORDERS_MANAGE = "orders.manage"  # cancel orders, decide returns, allocation policy
    ORDERS_PLACE = "orders.place"  # place orders for customers (the mini-program backend, systems)
    ORDERS_IMPORT = "orders.import"  # offline POS orders
    EVENTS_INGEST = "events.ingest"  # send behaviour events (the ingestion API, systems)
    SEGMENTS_VIEW = "segments.view"  # read segments, their counts, samples (masked), overlaps and history
    SEGMENTS_MANAGE = "segments.manage"  # define, edit, share and materialise segments
    TASKS_VIEW = "tasks.view"  # read tasks, their progress and the completion dashboards within reach
    TASKS_MANAGE = "tasks.manage"  # design, publish and close guide tasks; remind guides
    TASKS_APPROVE = "tasks.approve"  # approve or reject store-action photos within reach
    CONTESTS_VIEW = "contests.view"  # PK contests' boards and results in the console
    CONTESTS_MANAGE = "contests.manage"  # design, start and settle PK contests
    FEED_MODERATE = "contests.feed"  # hide feed posts, set who guides see in the feed
    LEARNING_VIEW = "learning.view"  # the knowledge base, quizzes and their results in the console
    LEARNING_MANAGE = "learning.manage"  # write articles, scripts, videos and quizzes; knowledge contests
    INCENTIVES_MANAGE = "incentives.manage"  # reward mall, redemptions, benchmark rules, coin reversals
    INCENTIVES_VIEW = "incentives.view"  # coins, redemptions, leaderboards, benchmark wall within reach (API)


PERM_LABELS: dict[Perm, StrOrPromise] = {
    Perm.HQ_CONSOLE: _("Open the HQ console"),
    Perm.GUIDE_WORKBENCH: _("Open the guide workbench"),
    Perm.ORG_VIEW: _("Read the organisation"),
    Perm.ORG_STRUCTURE: _("Manage regions, franchisees and new stores"),
    Perm.ORG_STORE: _("Edit stores"),
    Perm.ORG_STAFF: _("Manage staff"),
    Perm.AUDIT_VIEW: _("Read the audit log"),
    Perm.TOKENS: _("Manage API tokens"),
    Perm.MEMBERS_VIEW: _("Read customers"),
    Perm.MEMBERS_EDIT: _("Tag and annotate customers, record consent"),
    Perm.MEMBERS_REGISTER: _("Register customers and touches"),
    Perm.MEMBERS_BIND: _("Assign and transfer customers"),
    Perm.MEMBERS_MERGE: _("Merge and unmerge customers"),
    Perm.MEMBERS_CODES: _("Manage codes"),
    Perm.MEMBERS_IMPORT: _("Import customers"),
    Perm.MEMBERS_EXPORT: _("Export customer lists"),
    Perm.MEMBERS_POLICY: _("Set tags, lifecycle, tiers and binding rules"),
    Perm.MEMBERS_PRIVACY: _("Export or erase a customer's data on request"),
    Perm.CATALOG_VIEW: _("Read the catalog"),
    Perm.CATALOG_MANAGE: _("Manage the catalog, prices and page templates"),
    Perm.STORE_PAGE: _("Edit store pages in the mall"),
    Perm.STOCK_VIEW: _("Read stock"),
    Perm.STOCK_MANAGE: _("Receive, adjust and transfer stock"),
    Perm.ORDERS_VIEW: _("Read orders"),
    Perm.ORDERS_FULFIL: _("Pick, pack, ship and hand over orders"),
    Perm.ORDERS_MANAGE: _("Cancel orders, decide returns, set the allocation policy"),
    Perm.ORDERS_PLACE: _("Place orders for customers"),
    Perm.ORDERS_IMPORT: _("Import offline POS orders"),
    Perm.EVENTS_INGEST: _("Send behaviour events"),
    Perm.SEGMENTS_VIEW: _("Read segments"),
    Perm.SEGMENTS_MANAGE: _("Define and materialise segments"),
    Perm.TASKS_VIEW: _("Read guide tasks and their progress"),
    Perm.TASKS_MANAGE: _("Design, publish and close guide tasks"),
    Perm.TASKS_APPROVE: _("Approve store-action photos"),
    Perm.CONTESTS_VIEW: _("Read PK contests and their boards"),
    Perm.CONTESTS_MANAGE: _("Design, start and settle PK contests"),
    Perm.FEED_MODERATE: _("Moderate the performance feed"),
    Perm.LEARNING_VIEW: _("Read the knowledge base and training results"),
    Perm.LEARNING_MANAGE: _("Manage the knowledge base, quizzes and knowledge contests"),
    Perm.INCENTIVES_MANAGE: _("Manage the reward mall, benchmark rules and coins"),
    Perm.INCENTIVES_VIEW: _("Read coins, redemptions, leaderboards and the benchmark wall"),
}

_EVERY_STAFF = {
    Perm.ORG_VIEW,
    Perm.MEMBERS_VIEW,
    Perm.MEMBERS_EDIT,
    Perm.MEMBERS_REGISTER,
    Perm.CATALOG_VIEW,
    Perm.STOCK_VIEW,
    Perm.ORDERS_VIEW,
    Perm.INCENTIVES_VIEW,
}
_MANAGERS = {
    Perm.HQ_CONSOLE,
    Perm.CONTESTS_VIEW,
    Perm.LEARNING_VIEW,
    Perm.MEMBERS_BIND,
    Perm.MEMBERS_CODES,
    Perm.MEMBERS_EXPORT,
    Perm.STORE_PAGE,
    Perm.STOCK_MANAGE,
    Perm.ORDERS_MANAGE,
}

ROLE_PERMS: dict[Role, frozenset[str]] = {
    Role.HQ_ADMIN: frozenset(p.value for p in Perm if p is not Perm.GUIDE_WORKBENCH),
    Role.HQ_OPERATOR: frozenset(
        _EVERY_STAFF
        | _MANAGERS
        | {
            Perm.ORG_STRUCTURE,
            Perm.ORG_STORE,
            Perm.MEMBERS_MERGE,
            Perm.MEMBERS_IMPORT,
            Perm.MEMBERS_POLICY,
            Perm.CATALOG_MANAGE,
            Perm.ORDERS_IMPORT,
            Perm.SEGMENTS_VIEW,
            Perm.SEGMENTS_MANAGE,
            Perm.CONTESTS_MANAGE,
            Perm.FEED_MODERATE,
            Perm.LEARNING_MANAGE,
            Perm.INCENTIVES_MANAGE,
        }
    ),
    Role.REGION_MANAGER: frozenset(_EVERY_STAFF | _MANAGERS | {Perm.ORG_STORE, Perm.ORG_STAFF}),
    Role.STORE_MANAGER: frozenset(
        _EVERY_STAFF | _MANAGERS | {Perm.GUIDE_WORKBENCH, Perm.ORG_STAFF, Perm.ORDERS_FULFIL}
    ),
    Role.GUIDE: frozenset(_EVERY_STAFF | {Perm.GUIDE_WORKBENCH, Perm.ORDERS_FULFIL, Perm.LEARNING_VIEW}),
}

# Guide tasks (issue 6): HQ designs them; managers read their reach's progress and approve photos.
ROLE_PERMS[Role.HQ_OPERATOR] |= {Perm.TASKS_VIEW, Perm.TASKS_MANAGE, Perm.TASKS_APPROVE}
ROLE_PERMS[Role.REGION_MANAGER] |= {Perm.TASKS_VIEW, Perm.TASKS_APPROVE}
ROLE_PERMS[Role.STORE_MANAGER] |= {Perm.TASKS_VIEW, Perm.TASKS_APPROVE}

# What an API token may be granted (systems: POS, ERP, callbacks).
TOKEN_PERMS: tuple[str, ...] = (
    Perm.ORG_VIEW,
    Perm.ORG_STRUCTURE,
    Perm.ORG_STORE,
    Perm.ORG_STAFF,
    Perm.MEMBERS_VIEW,
    Perm.MEMBERS_EDIT,
    Perm.MEMBERS_REGISTER,
    Perm.MEMBERS_BIND,
    Perm.MEMBERS_CODES,
    Perm.CATALOG_VIEW,
    Perm.CATALOG_MANAGE,
    Perm.STOCK_VIEW,
    Perm.STOCK_MANAGE,
    Perm.ORDERS_VIEW,
    Perm.ORDERS_FULFIL,
    Perm.ORDERS_PLACE,
    Perm.ORDERS_IMPORT,
    Perm.SEGMENTS_VIEW,
    Perm.EVENTS_INGEST,
    Perm.TASKS_VIEW,
    Perm.CONTESTS_VIEW,
    Perm.LEARNING_VIEW,
    Perm.INCENTIVES_VIEW,
)

# Who may manage whom: a manager manages only roles below her own.
MANAGEABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.HQ_ADMIN: frozenset(Role),
    Role.HQ_OPERATOR: frozenset(),
    Role.REGION_MANAGER: frozenset({Role.STORE_MANAGER, Role.GUIDE}),
    Role.STORE_MANAGER: frozenset({Role.GUIDE}),
    Role.GUIDE: frozenset(),
}


def can_manage_role(actor: Role, target: Role) -> bool:
    return target in MANAGEABLE_ROLES[actor]


_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


def valid_opening_hours(text: str) -> bool:
    """Opening hours as ``HH:MM-HH:MM`` (e.g. ``10:00-22:00``); closing may pass midnight."""
    if not _HOURS.match(text):
        return False
    opens, closes = text.split("-")
    return opens != closes
