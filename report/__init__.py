"""What people read: the ``incident`` command line, timeline renderings, the postmortem draft."""
