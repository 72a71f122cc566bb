"""The durable job queue (Huey): SQLite storage embedded, Redis when ``REDIS_URL`` is set.

Domains declare jobs with :func:`job` (a Huey ``db_task``: it closes the database connection after
each run) and periodic ones with :func:`periodic`. A job must be idempotent: it may run again after
a worker dies between doing its work and acknowledging it. See docs/adr/0004-durable-jobs.md.
"""

from __future__ import annotations

from huey.contrib.djhuey import HUEY as huey
from huey.contrib.djhuey import db_periodic_task as periodic
from huey.contrib.djhuey import db_task as job

__all__ = ["huey", "job", "pending_count", "periodic"]


def pending_count() -> int:
    return int(huey.pending_count())
