"""One thin Lambda handler per state of the incident state machine (plus ingest and approvals)."""
