"""Jobs of orders and stock: unpaid orders are cancelled when their time to pay runs out (their
stock freed), and any hold left behind is released."""

from siyu.platform.jobs import crontab, periodic


@periodic(crontab(minute="*"))
def expire_unpaid_orders() -> int:
    from siyu.orders.services import expire_unpaid

    return expire_unpaid()


@periodic(crontab(minute="*/5"))
def release_expired_holds() -> int:
    from siyu.inventory.services import expire_due

    return expire_due()
