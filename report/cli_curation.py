"""The commands that work on a bundle after collection: people's notes, pins and hides
(kept in BUNDLE/curation.json), and a scrubbed copy that is safe to share."""

from __future__ import annotations

from pathlib import Path

import click

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.report.cliutil import bundle_argument, user_errors

# Each command imports the report modules it uses (pandas with them) in its body: the root
# group registers these commands, and ``incident collect`` should not pay for them.


@click.group("bundle")
def bundle_group() -> None:
    """Work on a bundle as a whole: make a copy that is safe to share.

    \b
    Example:
      incident bundle scrub bundle/ -o shareable/
    """


@bundle_group.command("scrub")
@bundle_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="New directory for the scrubbed copy.",
)
@click.option("--pattern", "patterns", multiple=True, help="Another regex to mask (repeatable).")
def scrub_cmd(bundle: Path, output: Path, patterns: tuple[str, ...]) -> None:
    """Write a shareable copy of BUNDLE with secrets masked in raw/, events/ and metrics/.

    The original is left as received. The copy's checksums are recomputed and its manifest
    says it was scrubbed and which rules ran; the same secret has the same «secret-N»
    placeholder everywhere.

    \b
    Example:
      incident bundle scrub bundle/ -o shareable/
    """
    from incident_timeline.report.scrub import scrub_bundle

    with user_errors():
        try:
            manifest = scrub_bundle(bundle, output, patterns=patterns)
        except ValueError as exc:  # a --pattern that is not a regex
            raise click.ClickException(str(exc)) from exc
    done = manifest["scrubbed"]
    click.echo(f"Scrubbed copy: {output} ({done['secrets']} distinct secrets masked)")


@click.command("note")
@bundle_argument
@click.argument("text")
@click.option(
    "--at", "at", required=True, help="When: 14:40 (on the incident's day) or a full time."
)
@click.option("--actor", help="Who did or decided it.")
@click.option("--tz", default="UTC", show_default=True, help="Zone of a naive --at.")
def note_cmd(bundle: Path, text: str, at: str, actor: str | None, tz: str) -> None:
    """Add a human-entered event to the bundle's timeline (kept in BUNDLE/curation.json).

    \b
    Example:
      incident note bundle/ --at 14:40 --actor alice "Decided to roll back"
    """
    from incident_timeline.report.curation import add_note
    from incident_timeline.report.story import manifest_window

    with user_errors():
        note = add_note(
            bundle, at, text, window=manifest_window(read_manifest(bundle)), actor=actor, tz=tz
        )
    click.echo(f"Note at {note.time}: {note.text}")


@click.command("pin")
@bundle_argument
@click.argument("ref")
def pin_cmd(bundle: Path, ref: str) -> None:
    """Put the event REF (its ref column) into the key timeline and the report.

    \b
    Example:
      incident pin bundle/ 'raw/file/exports/app.log#L812'
    """
    from incident_timeline.report.curation import check_ref, pin
    from incident_timeline.report.trust import load

    with user_errors():
        check_ref(load(bundle)[1].events, ref)
        pin(bundle, ref)
    click.echo(f"Pinned {ref}")


@click.command("hide")
@bundle_argument
@click.argument("ref")
def hide_cmd(bundle: Path, ref: str) -> None:
    """Take the event REF out of the key timeline and the report (it stays in the bundle).

    \b
    Example:
      incident hide bundle/ 'raw/file/exports/events.json#/items/12'
    """
    from incident_timeline.report.curation import check_ref, hide, read_curation, with_notes
    from incident_timeline.report.trust import load

    with user_errors():
        events = with_notes(load(bundle)[1].events, read_curation(bundle))
        check_ref(events, ref)
        hide(bundle, ref)
    click.echo(f"Hidden {ref}")


COMMANDS = (bundle_group, note_cmd, pin_cmd, hide_cmd)
