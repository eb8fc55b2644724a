"""The ``kubernetes`` source's formats: ``kubectl logs``, CRI files and ``kubectl get events``."""
