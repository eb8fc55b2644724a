"""The ``prometheus`` source: range queries, ``ALERTS`` history and built-in clock/gap evidence."""
