"""Customers: the brand's long-held assets, bound to a guide and a store, protected at rest."""
