"""The demo brand generator (not a Django app): a fictional sportswear brand, deterministic from a
seed, seeded through the domains' services."""
