"""Ledger replication: frontier exchange and range pulls (``/cooptracks/sync/1.0.0``)."""
