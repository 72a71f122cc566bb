"""Who may use the HQ stock pages (see ``tests/access/model.py``): every console viewer reads the
stock of her reach (``inventory.view``); HQ and the region and store managers receive, adjust and
transfer (``inventory.manage``); only HQ sets the allocation policy and checks the whole ledger."""

from __future__ import annotations

from siyu.org.rules import Perm
from tests.access.model import CONSOLE, HQ, Rule, World


def _receive(w: World) -> dict[str, object]:
    from tests.access.orders_staff import _sku

    _sku(w)
    return {"key": "matrix-receive", "store": w.flagship.pk, "lines": "MX-1, 2"}


RULES: dict[tuple[str, str], Rule] = {
    ("hq:stock_list", "GET"): Rule(CONSOLE),
    ("hq:stock_ledger", "GET"): Rule(CONSOLE),
    ("hq:stock_receive", "GET"): Rule(CONSOLE),
    ("hq:stock_receive", "POST"): Rule(CONSOLE, data=_receive, ok=302),
    ("hq:stock_adjust", "GET"): Rule(CONSOLE),
    ("hq:stock_adjust", "POST"): Rule(
        CONSOLE,
        data=lambda w: {**_receive(w), "key": "matrix-adjust", "sku": "MX-1", "counted": 7, "reason": "盘点"},
        ok=302,
    ),
    ("hq:stock_transfer", "GET"): Rule(CONSOLE),
    ("hq:stock_transfer", "POST"): Rule(
        CONSOLE, data=lambda w: {**_receive(w), "key": "matrix-transfer", "to_store": w.sh2.pk}, ok=302
    ),
    ("hq:stock_policy", "GET"): Rule(HQ),
    ("hq:stock_policy", "POST"): Rule(HQ, data=lambda w: {"split": "nearest", "hold_minutes": 20}, ok=302),
    ("hq:stock_check", "GET"): Rule(HQ),
}


def _sync(w: World) -> dict[str, object]:
    from tests.access.orders_staff import _sku

    _sku(w)
    return {"store_code": "SH001", "key": "matrix-sync", "counts": [{"sku_code": "MX-1", "count": 60}]}


def _receipt(w: World) -> dict[str, object]:
    from tests.access.orders_staff import _sku

    _sku(w)
    return {"store_code": "SH001", "key": "matrix-dn", "lines": [{"sku_code": "MX-1", "quantity": 2}]}


RULES.update(
    {
        ("api:stock_pos_sync", "POST"): Rule(CONSOLE, data=_sync, token_perm=Perm.STOCK_MANAGE),
        ("api:stock_receipt", "POST"): Rule(CONSOLE, data=_receipt, token_perm=Perm.STOCK_MANAGE),
    }
)
