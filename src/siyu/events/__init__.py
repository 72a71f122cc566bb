"""Behaviour events: ingestion that never loses an acknowledged event, and the event lake (ADR 0011)."""
