"""What the commands of ``incident`` share: the BUNDLE argument and one translation of the
project's errors into one-line messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from incident_timeline.collector.errors import IncidentError

# Every command that reads a bundle takes it the same way: an existing directory.
bundle_argument = click.argument(
    "bundle", type=click.Path(path_type=Path, exists=True, file_okay=False)
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's errors into one-line messages with exit code 1."""
    try:
        yield
    except IncidentError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # an unwritable -o, a full disk: say which file and why
        raise click.ClickException(f"{exc.filename or 'I/O'}: {exc.strerror or exc}") from exc
