"""The demo generator: a list of steps, each a function, run in order for the demo brand.

The built-in steps seed the organisation (``org``), the product range (``catalog``) and the
customers (``customers``). A later issue adds its own data by registering a step from a module
named ``demo.py`` in its app (found at start, like ``admin.py``)::

    from siyu.demo.generator import Step, register

    register(Step("orders", "Orders and their history", run=seed_orders, done=orders_exist), after="customers")

A step is skipped when its ``done`` check says its data is already there, so running the generator
again on an existing demo brand adds nothing twice and finishes an interrupted run.

Everything is drawn from random generators seeded with ``Config.seed`` (one per step and purpose),
and the history ends at the start of ``Config.as_of``'s day, so the same seed on the same day gives
the same rows.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from siyu.platform import clock
from siyu.platform.tenancy import Scope

# The demo brand trades in China: its history is written in China's local time.
LOCAL = ZoneInfo("Asia/Shanghai")


class DemoError(Exception):
    """Flags or a state the generator cannot work with; the message says what to do instead."""


@dataclass(frozen=True)
class Config:
    seed: int = 42
    members: int = 50_000  # customers, the demo customer included
    events: int = 0  # behaviour events; need a step that provides "events" (the event lake)
    as_of: dt.datetime | None = None  # the history ends at the start of this day (default: today)


class Reporter:
    """Where the generator reports progress. This one is silent; the CLI passes one that draws
    progress bars."""

    def begin(self, label: str, total: int | None = None) -> None:
        """A step starts; ``total`` is the number of units it will ``advance`` by, if known."""

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done."""

    def end(self) -> None:
        """The step is finished."""

    def note(self, text: str) -> None:
        """A line of information (a skipped step, a figure)."""

    def close(self) -> None:
        """No more steps: release the display."""


@dataclass
class Context:
    config: Config
    as_of: dt.datetime  # the end of the generated history: local midnight of the day
    brand_id: int
    scope: Scope  # the brand's HQ scope every write goes through
    reporter: Reporter
    facts: dict[str, int] = field(default_factory=dict)  # figures the steps report (rows written)


@dataclass(frozen=True)
class Step:
    name: str
    label: str  # English, marked with gettext_noop; shown translated
    run: Callable[[Context], None]
    done: Callable[[Context], bool] = lambda ctx: False
    provides: frozenset[str] = frozenset()  # kinds of data the step generates ("events", ...)


@dataclass
class Summary:
    brand_id: int
    as_of: dt.datetime
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall-clock time of each step run
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # CPU time of this process (all threads)
    facts: dict[str, int] = field(default_factory=dict)


_extra: list[tuple[Step, str | None]] = []
_loaded = False


_last: set[str] = set()


def register(step: Step, *, after: str | None = None, last: bool = False) -> None:
    """Add a step to the generator: right after the step named ``after``, or at the end. A step of
    the same name as an earlier one replaces it. ``last``: after every other step whenever they were
    registered (the segments read what all the others wrote)."""
    _extra.append((step, after))
    if last:
        _last.add(step.name)


def steps() -> list[Step]:
    """The steps in the order they run: the built-in ones, then those the apps register."""
    global _loaded
    from siyu.demo import (
        seed_catalog,
        seed_contests,  # noqa: F401  (registers the contests, feed and learning step; after the orders)
        seed_customers,
        seed_events,  # noqa: F401  (registers the behaviour events step)
        seed_incentives,  # noqa: F401  (registers the coins, mall, leaderboards and benchmarks step)
        seed_orders,  # noqa: F401  (registers the stock and orders step)
        seed_org,
        seed_pages,  # noqa: F401  (registers the store pages step)
        seed_segments,  # noqa: F401  (registers the segments step, the last)
        seed_tasks,  # noqa: F401  (registers the guide tasks step)
    )

    if not _loaded:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("demo")
        _loaded = True
    ordered = [seed_org.STEP, seed_catalog.STEP, seed_customers.STEP]
    for step, after in _extra:
        names = [s.name for s in ordered]
        if step.name in names:
            ordered[names.index(step.name)] = step
        elif after is None:
            ordered.append(step)
        elif after in names:
            ordered.insert(names.index(after) + 1, step)
        else:
            raise ValueError(f"demo step {step.name!r} goes after {after!r}, but the steps are {names}")
    return [s for s in ordered if s.name not in _last] + [s for s in ordered if s.name in _last]


def history_end(at: dt.datetime | None = None) -> dt.datetime:
    """Local midnight of the day of ``at`` (default: the platform clock's now)."""
    local = (at or clock.now()).astimezone(LOCAL)
    return dt.datetime.combine(local.date(), dt.time(0, 0), tzinfo=LOCAL)


def validate(config: Config) -> None:
    """Refuse flags the generator cannot honour, before anything is written."""
    if config.seed < 0:
        raise DemoError(_("--seed is a whole number of 0 or more."))
    if config.members < 1:
        raise DemoError(_("--members is at least 1 (the demo customer is one of them)."))
    if config.events < 0:
        raise DemoError(_("--events is a whole number of 0 or more."))
    if config.events > 0 and not any("events" in s.provides for s in steps()):
        raise DemoError(
            _(
                "--events needs the event lake (behaviour events), which arrives with a later issue; "
                "run without --events (or with --events 0) for now."
            )
        )


def run(config: Config, reporter: Reporter | None = None, *, only: Collection[str] | None = None) -> Summary:
    """Seed (or finish seeding) the demo brand. Raises :class:`DemoError` on bad flags.

    ``only`` runs just the named steps (the benchmarks time one step at a time); a run of every
    step is recorded as complete (see :func:`seeded`)."""
    from siyu.demo import seed_org
    from siyu.org import services as org

    reporter = reporter or Reporter()
    validate(config)
    brand_id = seed_org.ensure_brand()
    as_of = history_end(config.as_of)
    ctx = Context(
        config=config,
        as_of=as_of,
        brand_id=brand_id,
        scope=org.hq_scope(brand_id, "siyu demo"),
        reporter=reporter,
    )
    summary = Summary(brand_id=brand_id, as_of=as_of)
    for step in steps():
        if only is not None and step.name not in only:
            continue
        if step.done(ctx):
            summary.skipped.append(step.name)
            reporter.note(_("%(step)s: already there, kept") % {"step": _(step.label)})
            continue
        started, cpu = time.perf_counter(), time.process_time()
        step.run(ctx)
        summary.seconds[step.name] = round(time.perf_counter() - started, 3)
        summary.cpu_seconds[step.name] = round(time.process_time() - cpu, 3)
        summary.ran.append(step.name)
    if only is None:
        seed_org.mark_seeded(ctx, summary)
    summary.facts = dict(ctx.facts)
    return summary


def seeded(brand_code: str | None = None) -> dict[str, Any] | None:
    """What the last complete run of the generator recorded for the demo brand (seed, members,
    when), or ``None`` when the brand has not been seeded completely."""
    from siyu.demo import seed_org

    return seed_org.seeded_marker(brand_code)
