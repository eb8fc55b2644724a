"""The ``alertmanager`` source: alerts, silences and a webhook log as notification history."""
