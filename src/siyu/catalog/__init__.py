"""Catalog: products (SPU) and their SKUs, with the roles they play in the private domain."""
