"""Jobs of the customer domain, registered with the queue at start (``siyu.platform.apps``).

Each slice declares its jobs in its own module; importing them here registers them in every
process (web and worker)."""

from siyu.members.importer import import_job as import_job  # large imports (HQ page, API)
from siyu.members.transfers import complete_due_transfers_job as complete_due_transfers_job  # WeCom takeover
