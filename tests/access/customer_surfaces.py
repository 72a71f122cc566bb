"""Authorisation matrix of the customer surfaces' finishing work: the Excel export of the filtered
customer list (the same people as its CSV) and the scan page's SMS code step."""

from __future__ import annotations

from tests.access.model import CONSOLE, Rule

RULES = {
    ("hq:customer_export_xlsx", "GET"): Rule(CONSOLE),
}
