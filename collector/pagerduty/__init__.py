"""The ``pagerduty`` source's formats: incident log entries and notes."""
