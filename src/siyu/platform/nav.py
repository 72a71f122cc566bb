"""The HQ console's menu: groups of pages, each page one line of :data:`HQ_MENU`.

A viewer sees the entries her permissions allow and only the groups that have an entry for her.
The page she is on belongs to the entry whose URL is the longest prefix of the request's path
(``/hq/customers/imports/3/`` is under *Imports*, not *Customers*); an entry can claim other
sections with ``also`` (*Customer settings* also covers the tag settings). Its group is the
current group. ``platform/_hq_nav.html`` draws it: the groups in the top bar and the current
group's pages below it on a desk, one collapsible menu on a phone.

To add a page to the console, add one :class:`Entry` line to its group below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from siyu.platform.access import scope_of


@dataclass(frozen=True)
class Entry:
    """One page of the menu: its URL name, its label and the permission it needs (``None``: every
    viewer of the console). ``also``: URL names of further sections that belong to this entry."""

    url: str
    label: str | Promise
    perm: str | None = None
    also: tuple[str, ...] = ()
    exact: bool = False  # the entry is current on its own URL only (the overview, at /hq/)


@dataclass(frozen=True)
class Group:
    key: str
    label: str | Promise
    entries: tuple[Entry, ...] = ()


HQ_MENU: tuple[Group, ...] = (
    Group("overview", _("Overview"), (Entry("hq:home", _("Overview"), exact=True),)),
    Group(
        "org",
        _("Organisation"),
        (
            Entry("hq:region_list", _("Regions")),
            Entry("hq:franchisee_list", _("Franchisees")),
            Entry("hq:store_list", _("Stores")),
            Entry("hq:staff_list", _("Staff")),
        ),
    ),
    Group(
        "customers",
        _("Customers"),
        (
            Entry("hq:customer_list", _("Customers"), "members.view"),
            Entry("hq:code_list", _("Codes"), "members.codes"),
            Entry("hq:transfer_list", _("Transfers"), "members.bind"),
            Entry("hq:merge_list", _("Merges"), "members.merge"),
            Entry("hq:import_list", _("Imports"), "members.import"),
            Entry("hq:member_settings", _("Customer settings"), "members.policy", also=("hq:tag_settings",)),
        ),
    ),
    Group(
        "commerce",
        _("Commerce"),
        (
            # Catalog, stock, orders and store pages: one line per page, e.g.
            # Entry("hq:product_list", _("Products"), "catalog.view"),
            # The group shows as soon as the viewer may open one of its entries.
            Entry("hq:product_list", _("Catalog"), "catalog.view"),
            Entry("hq:order_list", _("Orders"), "orders.view"),
            Entry("hq:stock_list", _("Stock"), "inventory.view"),
            Entry("hq:store_page_list", _("Store pages"), "catalog.store_page"),
        ),
    ),
    Group(
        "insight",
        _("Insight"),
        (
            Entry("hq:segment_list", _("Segments"), "segments.view"),
            Entry("hq:event_explorer", _("Events"), "members.view"),
        ),
    ),
    Group(
        "guides",
        _("Guides' work"),
        (
            Entry("hq:task_list", _("Tasks"), "tasks.view", also=("hq:task_approvals",)),
            Entry("hq:task_dashboard", _("Task completion"), "tasks.view"),
            Entry("hq:contest_list", _("PK contests"), "contests.view"),
            Entry("hq:feed_list", _("Performance feed"), "contests.view"),
            Entry("hq:learning_list", _("Knowledge base"), "learning.view"),
            Entry("hq:quiz_list", _("Quizzes"), "learning.view"),
            Entry("hq:incentives_leaderboards", _("Leaderboards")),
            Entry("hq:incentives_redemptions", _("Reward mall"), also=("hq:incentives_gifts",)),
            Entry("hq:incentives_benchmarks", _("Benchmarks"), "incentives.manage"),
        ),
    ),
    Group(
        "system",
        _("System"),
        (
            Entry("hq:audit_list", _("Audit log"), "org.audit"),
            Entry("hq:token_list", _("API tokens"), "org.tokens"),
        ),
    ),
)


@dataclass(frozen=True)
class ShownEntry:
    label: str | Promise
    href: str
    current: bool


@dataclass(frozen=True)
class ShownGroup:
    key: str
    label: str | Promise
    entries: tuple[ShownEntry, ...]
    current: bool

    @property
    def href(self) -> str:
        """Where the group's name leads: its first page the viewer may open."""
        return self.entries[0].href


@dataclass(frozen=True)
class Menu:
    groups: tuple[ShownGroup, ...] = ()
    current: ShownGroup | None = field(default=None)


def _prefixes(entry: Entry) -> list[str]:
    found = []
    for name in (entry.url, *entry.also):
        try:
            found.append(reverse(name))
        except NoReverseMatch:
            continue
    return found


def _match(entry: Entry, path: str) -> int:
    """How long a prefix of ``path`` the entry claims (0: none)."""
    best = 0
    for prefix in _prefixes(entry):
        if (path == prefix) if entry.exact else path.startswith(prefix):
            best = max(best, len(prefix))
    return best


def hq_menu(request: HttpRequest, menu: Sequence[Group] = HQ_MENU) -> Menu:
    """The menu as ``request``'s viewer sees it, with the current group and page marked."""
    scope = scope_of(request)
    if scope is None:
        return Menu()
    allowed = [(g, [e for e in g.entries if e.perm is None or scope.can(e.perm)]) for g in menu]
    allowed = [(g, entries) for g, entries in allowed if entries]
    scores = {(g.key, e.url): _match(e, request.path) for g, entries in allowed for e in entries}
    best = max(scores.values(), default=0)
    groups = []
    for g, entries in allowed:
        shown = tuple(
            ShownEntry(e.label, reverse(e.url), current=best > 0 and scores[(g.key, e.url)] == best) for e in entries
        )
        groups.append(ShownGroup(g.key, g.label, shown, current=any(e.current for e in shown)))
    return Menu(tuple(groups), next((g for g in groups if g.current), None))
