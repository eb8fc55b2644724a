"""The ``chat`` source: incident channel messages (Slack exports)."""
