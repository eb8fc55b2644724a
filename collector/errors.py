"""The project's error tree. Every foreseeable failure is one of these, and the CLI turns
them into a one-line message and an exit code; anything else is a bug. The root and the input
errors live in the foundation (`timeline.errors`) and are re-exported here.

    IncidentError               root: anything a user can fix
    ├── InputError              (timeline.errors) WindowError, ZoneError, DurationError, ...
    ├── ConfigError             bad or unknown key, wrong type, missing value (names key and file)
    ├── BundleError             bundle missing, unreadable, or collected for another window
    │   └── IncompleteBundle    a source started and never finished (kill, Ctrl-C)
    ├── SourceError             one source failed; the bundle is still written
    │   ├── DeadlineError       a request or a source ran past its time budget
    │   ├── AuthError           401/403 from a source: the credential is wrong
    │   ├── TooLargeError       an answer over the size cap (cut, not stored)
    │   └── ExportFormatError   a hand-made export file is not in the format it claims
    └── TemplateError           a report template cannot be read or rendered
"""

from __future__ import annotations

from incident_timeline.timeline.errors import (
    CorrectionError,
    DurationError,
    IncidentError,
    InputError,
    PatternError,
    ThresholdError,
    WindowError,
    ZoneError,
)

__all__ = [
    "AuthError",
    "BundleError",
    "ConfigError",
    "CorrectionError",
    "DeadlineError",
    "DurationError",
    "ExportFormatError",
    "IncidentError",
    "IncompleteBundle",
    "InputError",
    "PatternError",
    "SourceError",
    "TemplateError",
    "ThresholdError",
    "TooLargeError",
    "WindowError",
    "ZoneError",
]


class ConfigError(IncidentError):
    """The configuration file is wrong; the message names the key and the file."""


class BundleError(IncidentError):
    """A bundle directory is missing, damaged, or does not match the request."""


class IncompleteBundle(BundleError):
    """A bundle holds sources that started and never finished."""


class SourceError(IncidentError):
    """A source could not be collected (or only in part)."""


class DeadlineError(SourceError):
    """A request or a whole source took longer than its budget."""


class AuthError(SourceError):
    """The source refused the credential (401 or 403); asking again will not help."""


class TooLargeError(SourceError):
    """An answer was larger than the size cap; it was cut and not stored."""


class ExportFormatError(SourceError):
    """An export file does not have the format its config entry (or its content) claims.

    ``pointer`` is the JSON pointer of the bad field when one is known."""

    def __init__(self, message: str, pointer: str | None = None) -> None:
        super().__init__(message)
        self.pointer = pointer


class TemplateError(IncidentError):
    """A postmortem template (``--template``) is missing, invalid or uses unknown names."""
