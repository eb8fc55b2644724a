"""The root of the project's error tree, in the foundation so that every package raises the
same classes and the command line translates them once.

    IncidentError               root: anything a user can fix (collector.errors adds the rest)
    └── InputError              a value a person typed or a file holds is not understood
        ├── WindowError         bad time, unknown zone, start >= end, window too long
        │   ├── ZoneError       not an IANA time zone
        │   └── DurationError   not a duration like 90m, 1h30m or 7d
        ├── ThresholdError      not a threshold like '> 0.05'
        ├── PatternError        not a valid regular expression (--grep)
        └── CorrectionError     a clock correction that is unknown or malformed

``InputError`` is also a ``ValueError``: code written before the tree existed (``except
ValueError``) keeps working, and new code catches the precise class.
"""

from __future__ import annotations


class IncidentError(Exception):
    """Root of every error a user can act on."""


class InputError(IncidentError, ValueError):
    """A value (a command-line option, a config value, a bundle file) is not understood."""


class WindowError(InputError):
    """The time window cannot be understood or is not allowed."""


class ZoneError(WindowError):
    """A time zone name is not an IANA zone."""


class DurationError(WindowError):
    """A duration is not in a known form."""


class ThresholdError(InputError):
    """A threshold expression is not understood."""


class PatternError(InputError):
    """A regular expression given by the user does not compile."""


class CorrectionError(InputError):
    """A clock correction is unknown or malformed."""
