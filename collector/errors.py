"""The project's error tree. Every foreseeable failure is one of these, and the CLI turns
them into a one-line message and an exit code; anything else is a bug.

    IncidentError               root: anything a user can fix
    ├── ConfigError             bad or unknown key, wrong type, missing value (names key and file)
    ├── WindowError             bad time, unknown zone, start >= end, window too long
    ├── BundleError             bundle missing, unreadable, or collected for another window
    └── SourceError             one source failed; the bundle is still written
        └── ExportFormatError   a hand-made export file is not in the format it claims
"""

from __future__ import annotations


class IncidentError(Exception):
    """Root of every error a user can act on."""


class ConfigError(IncidentError):
    """The configuration file is wrong; the message names the key and the file."""


class WindowError(IncidentError):
    """The time window cannot be understood or is not allowed."""


class BundleError(IncidentError):
    """A bundle directory is missing, damaged, or does not match the request."""


class SourceError(IncidentError):
    """A source could not be collected (or only in part)."""


class ExportFormatError(SourceError):
    """An export file does not have the format its config entry (or its content) claims."""
