"""Jobs of the customer domain, registered with the queue at start (``siyu.platform.apps``).

Each slice declares its jobs in its own module; importing them here registers them in every
process (web and worker)."""

from siyu.members.importer import import_job as import_job  # large imports (HQ page, API)
from siyu.members.transfers import complete_due_transfers_job as complete_due_transfers_job  # WeCom takeover

# --- profile (helper-profile): lifecycle, RFM and tiers recomputed daily ------------------------
from siyu.platform.jobs import crontab, periodic


@periodic(crontab(hour="3", minute="30"))
def recompute_profiles() -> dict[int, int]:
    """Every night: lifecycle stages, RFM scores and tiers of every brand (idempotent: a rerun at
    the same time changes nothing). Returns the tier changes per brand."""
    from siyu.members.profile import brands_with_customers, recompute_brand

    return {brand: recompute_brand(brand).tier_changes for brand in brands_with_customers()}
