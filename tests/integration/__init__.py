"""Tests against real Prometheus, Alertmanager and node_exporter binaries from Debian packages."""
