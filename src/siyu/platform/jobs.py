"""The durable job queue (Huey): SQLite storage embedded, Redis when ``REDIS_URL`` is set.

Domains declare jobs in their ``jobs.py`` with :func:`job` (a Huey ``db_task``: it closes the
database connection after each run) and periodic ones with :func:`periodic`. Every app's ``jobs``
module is imported when Django starts (:meth:`siyu.platform.apps.PlatformConfig.ready`), so the web
process and the worker know the same jobs. A job must be idempotent: it may run again after a worker
dies between doing its work and acknowledging it. See docs/adr/0004-durable-jobs.md.
"""

from __future__ import annotations

import datetime as dt

from huey import crontab
from huey.contrib.djhuey import HUEY as huey
from huey.contrib.djhuey import db_periodic_task as periodic
from huey.contrib.djhuey import db_task as job

from siyu.platform import clock

__all__ = ["crontab", "huey", "job", "last_heartbeat", "pending_count", "periodic", "record_heartbeat"]

HEARTBEAT_KEY = "siyu.platform.heartbeat"


def pending_count() -> int:
    return int(huey.pending_count())


@periodic(crontab(minute="*"))
def record_heartbeat() -> str:
    """Once a minute the worker writes the time into the queue's own storage; :func:`last_heartbeat`
    tells whether a worker (with its scheduler) is alive."""
    at = clock.now().isoformat()
    huey.put(HEARTBEAT_KEY, at)
    return at


def last_heartbeat() -> dt.datetime | None:
    """When a worker last ran :func:`record_heartbeat`, or ``None`` if none has yet."""
    raw = huey.get(HEARTBEAT_KEY, peek=True)
    return dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
