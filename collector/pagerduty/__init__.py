"""The ``pagerduty`` source: the live collector (REST API v2) and its formats
(log entries, notes, alerts)."""
