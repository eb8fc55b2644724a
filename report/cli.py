"""The ``incident`` command line: thin commands over the collector, timeline and report code."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import click

from incident_timeline.collector.bundle import (
    MANIFEST,
    TOOL,
    incomplete_message,
    read_manifest,
)
from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.config import Config, load_config
from incident_timeline.collector.errors import BundleError
from incident_timeline.collector.kubernetes.settings import with_overrides
from incident_timeline.collector.runner import Interrupted, SourceOutcome, collect
from incident_timeline.report import cli_curation as curation_commands
from incident_timeline.report.cliutil import bundle_argument, user_errors
from incident_timeline.report.outputs import CHUNKED, FORMATS
from incident_timeline.timeline.window import Window, resolve_window

# The commands that read a bundle import what they use (pandas and the report modules) in
# their bodies: ``collect`` starts without them.

EXIT_PARTIAL = 3
# From a wheel the example incident is package data (incident_timeline/demo/, see setup.py);
# from a clone it is the source tree's own config.example.toml and examples/.
_PACKAGE = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = next(
    (
        p
        for p in (_PACKAGE / "demo" / "config.example.toml", _PACKAGE / "config.example.toml")
        if p.exists()
    ),
    _PACKAGE / "config.example.toml",
)
_SUFFIXES = {
    ".md": "md",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}
# A format may also be written to files with these suffixes (Timesketch reads .csv or .jsonl).
_ALSO = {"timesketch": (".csv", ".jsonl"), "table": (".txt",)}


def write_report(*args: Any, **kwargs: Any) -> Any:
    """`report.drafts.write_report`, imported when a report is written: it brings matplotlib,
    about a second of start-up that every other command (``collect`` first) does without."""
    from incident_timeline.report.drafts import write_report as write

    return write(*args, **kwargs)


def output_format(fmt: str | None, output: Path | None) -> str:
    """The format: ``fmt`` if given, else from ``output``'s suffix, else ``table``. A suffix
    that names another format is a ValueError: never a file of the wrong kind."""
    suffix = output.suffix.lower() if output is not None else ""
    implied = _SUFFIXES.get(suffix)
    if fmt is None:
        return implied or "table"
    if implied is not None and implied != fmt and suffix not in _ALSO.get(fmt, ()):
        raise ValueError(
            f"-o {output} is a {suffix} file but --format is {fmt}; "
            f"use a matching suffix or drop --format"
        )
    if fmt == "timesketch" and suffix not in ("", ".csv", ".jsonl"):
        raise ValueError(f"--format timesketch writes .csv or .jsonl, not {output}")
    return fmt


def redact_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--no-redact``: secrets are masked unless the user asks otherwise."""
    return click.option(
        "--no-redact",
        "redact",
        is_flag=True,
        flag_value=False,
        default=True,
        help="Keep secrets (tokens, passwords, keys) as they are; masked by default.",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=TOOL)
def cli() -> None:
    """Collect incident evidence, put it on one UTC timeline, draft the postmortem.

    \b
    Start with the bundled example (no cluster needed):
      incident demo
    Then on a real incident:
      incident collect -c config.toml --last 2h -o bundle/
      incident timeline bundle/ --key-only
      incident clocks bundle/
      incident report bundle/
    """


@cli.command("collect")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    envvar="INCIDENT_CONFIG",
    help="config.toml (or $INCIDENT_CONFIG).",
)
@click.option(
    "--since", help="Window start: RFC 3339, '2026-02-17 14:00 Europe/Paris', or 2h (ago)."
)
@click.option("--until", help="Window end (default: now).")
@click.option("--last", help="Window of this length ending now (or at --until), e.g. 90m.")
@click.option("--tz", help="Zone of naive --since/--until (default: incident.timezone, UTC).")
@click.option(
    "--pagerduty-incident",
    "pd_incident",
    metavar="ID",
    help="Window, title and paging record from this PagerDuty incident (id or number).",
)
@click.option(
    "--pad",
    default="30m",
    show_default=True,
    help="With --pagerduty-incident: widen its window by this much on both sides.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Bundle directory to write.",
)
@click.option("--resume", is_flag=True, help="Complete an interrupted bundle; skip sources done.")
@click.option("--context", "kube_context", help="Kubernetes: kubeconfig context (as kubectl).")
@click.option(
    "-n", "--namespace", "namespaces", multiple=True, help="Kubernetes: namespace (repeatable)."
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Kubernetes: every namespace.")
@click.option("-l", "--selector", help="Kubernetes: label selector, e.g. app=checkout-api.")
def collect_cmd(
    config_path: Path,
    since: str | None,
    until: str | None,
    last: str | None,
    tz: str | None,
    pd_incident: str | None,
    pad: str,
    output: Path,
    resume: bool,
    kube_context: str | None,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    selector: str | None,
) -> None:
    """Collect every configured source for a window into an evidence bundle.

    \b
    Examples:
      incident collect -c config.toml --last 90m -o bundle/
      incident collect -c config.toml --since '2026-02-17 09:00' --tz America/New_York \\
          --until '2026-02-17 10:30' -o bundle/
      incident collect -c config.toml --since 2026-02-17T14:00:00Z --until 2026-02-17T15:30Z -o b/
      incident collect -c config.toml --context prod -n checkout -l app=checkout-api \\
          --last 2h -o bundle/
      incident collect -c config.toml --pagerduty-incident Q1ABCDE --pad 30m -o bundle/

    --context, -n, -A and -l override the [kubernetes] table (and add it when absent).

    With --pagerduty-incident the window runs from the incident's creation to its
    resolution (or now), padded; --since/--until win where given.

    Exit status: 0 all sources ok; 3 bundle written but a source failed or is partial;
    1 nothing could be done (bad config or window).
    """
    with user_errors():
        config = with_overrides(
            load_config(config_path),
            context=kube_context,
            namespaces=namespaces,
            all_namespaces=all_namespaces,
            selector=selector,
        )
        incident = None
        if pd_incident:
            if last:
                raise click.UsageError("give either --last or --pagerduty-incident, not both")
            # imported here: the pagerduty collector loads only when asked for (registry)
            from incident_timeline.collector.pagerduty.incident import resolve_incident_window

            window, incident = resolve_incident_window(
                config,
                pd_incident,
                pad=pad,
                since=since,
                until=until,
                tz=tz or config.incident.timezone,
            )
            click.echo(f"Window (UTC): {window.describe()}", err=True)
        else:
            window = _window(config, since, until, last, tz)
        outcomes = _collect(config, window, output, resume, incident)
    if any(o.status in ("partial", "failed") for o in outcomes):
        sys.exit(EXIT_PARTIAL)


@cli.command("timeline")
@bundle_argument
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from -o's suffix, else table); timesketch: CSV if -o ends "
    "in .csv, else JSON Lines.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here, not stdout.")
@click.option("--key-only", is_flag=True, help="Only key events: alerts, pages, deploys, ...")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--grep", help="Only events whose summary, message or actor match this regex.")
@redact_option
def timeline_cmd(
    bundle: Path,
    fmt: str | None,
    output: Path | None,
    key_only: bool,
    sources: tuple[str, ...],
    grep: str | None,
    redact: bool,
) -> None:
    """Print or write the bundle's merged timeline (all times UTC).

    \b
    Examples:
      incident timeline bundle/ --key-only
      incident timeline bundle/ --source pagerduty --source alertmanager
      incident timeline bundle/ --grep 'pool exhausted|503' -o errors.csv
      incident timeline bundle/ -o bundle/timeline.parquet
      incident timeline bundle/ -o timeline.html          # interactive, self-contained
      incident timeline bundle/ --format timesketch -o timesketch.jsonl
    """
    try:
        fmt = output_format(fmt, output)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    from incident_timeline.report.render import render, render_chunks, stream_chunks, write_parquet
    from incident_timeline.report.stream import STREAMED, timeline_stream

    with user_errors():
        stream = (
            None
            if key_only or fmt not in STREAMED
            else timeline_stream(bundle, sources, grep, redact)
        )
        if stream is not None:
            _emit(stream_chunks(stream, fmt), output)
            _exit_if_incomplete(bundle)
            return
        frame = _timeline(bundle, key_only, sources, grep, redact=redact)
        title = read_manifest(bundle).get("title") or "Incident timeline"
    csv = output is not None and output.suffix.lower() == ".csv"
    if fmt in CHUNKED:  # rows of text: written a batch at a time, never one big string
        text: str | bytes | Iterator[bytes] = render_chunks(frame, fmt)
    elif fmt == "parquet" and output is not None:
        with user_errors(), atomic_open(output, "wb") as handle:
            write_parquet(frame, handle)
        click.echo(f"Wrote {output}", err=True)
        _exit_if_incomplete(bundle)
        return
    else:
        text = render(frame, fmt, title=f"Timeline: {title}", csv=csv)
    with user_errors():
        _emit(text, output)
    _exit_if_incomplete(bundle)


@cli.command("clocks")
@bundle_argument
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--correct",
    "correct",
    multiple=True,
    is_flag=False,
    flag_value="all",
    metavar="[ID]",
    help="Accept a suggested correction (repeatable); alone: all.",
)
def clocks_cmd(bundle: Path, fmt: str, correct: tuple[str, ...]) -> None:
    """Say where the bundle's evidence cannot be trusted: clock skew and evidence gaps.

    Clocks: an app logging local time without a zone, an app or node clock off, an alert
    stamped by one system before the system that caused it. Gaps: silent streams, missing
    metric samples, up == 0, pods whose logs are gone, time running backwards or ahead,
    Kubernetes events past their TTL. The same findings appear on the timeline and in the
    report as events of kind clock or gap.

    --correct writes accepted corrections to BUNDLE/corrections.json; timeline and report then
    shift the affected times (time_quality=corrected, the original kept in labels). Put
    BUNDLE before --correct. Delete corrections.json to undo.

    \b
    Examples:
      incident clocks bundle/
      incident clocks bundle/ --format json > findings.json
      incident clocks bundle/ --correct                  # accept every suggested correction
      incident clocks bundle/ --correct node_clock:node-b --correct app_clock:pgbouncer
    """
    from incident_timeline.report.trust import (
        CORRECTIONS,
        clocks_json,
        clocks_text,
        load_integrity,
        write_corrections,
    )
    from incident_timeline.timeline.trust.checks import select_corrections

    _warn_incomplete(bundle)
    with user_errors():
        manifest, integrity, applied = load_integrity(bundle)
        if correct:
            chosen = select_corrections(integrity, correct)
            kept = write_corrections(bundle, chosen)
            click.echo(
                f"Wrote {bundle / CORRECTIONS}: {', '.join(c.id for c in kept) or 'none'}", err=True
            )
            manifest, integrity, applied = load_integrity(bundle)
    if fmt == "json":
        click.echo(clocks_json(manifest, integrity, applied), nl=False)
    else:
        click.echo(clocks_text(str(bundle), manifest, integrity, applied), nl=False)


@cli.command("report")
@bundle_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Markdown file to write (default: BUNDLE/postmortem.md).",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Your own Jinja2 template (same context as the shipped one; see README).",
)
@click.option("--force", is_flag=True, help="Replace the draft even if a person edited it.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    help="Also write one self-contained HTML page: the draft, figures, interactive timeline.",
)
@redact_option
def report_cmd(
    bundle: Path,
    output: Path | None,
    template: Path | None,
    force: bool,
    html_path: Path | None,
    redact: bool,
) -> None:
    """Draft a blameless postmortem in Markdown from the bundle, with figures.

    A draft someone has edited since it was generated is never overwritten: the new draft
    is written beside it (postmortem.new.md) unless --force. The full timeline is written
    next to the draft as CSV. Figures (PNG and SVG) go to BUNDLE/figures/ and are linked
    from the draft. Secrets in the evidence (tokens, passwords, keys) are masked as
    «secret-N» unless --no-redact.

    \b
    Examples:
      incident report bundle/
      incident report bundle/ -o postmortem.md --template team-postmortem.md.j2
      incident report bundle/ --html report.html
    """
    if output is not None and output.suffix.lower() in (".html", ".htm"):
        raise click.UsageError(f"-o {output} is for the Markdown draft; use --html {output}")
    with user_errors():
        written = write_report(
            bundle, output, template=template, force=force, redact=redact, html_path=html_path
        )
    if written.kept is not None:
        click.echo(f"{written.kept} was edited since it was generated; kept it as it is.")
        click.echo(f"New draft: {written.path} (replace the edited one with --force)")
    else:
        click.echo(f"Postmortem draft: {written.path}")
    click.echo(f"Full timeline: {written.csv}")
    if html_path is not None:
        click.echo(f"HTML report: {html_path}")
    _exit_if_incomplete(bundle)


for _command in curation_commands.COMMANDS:
    cli.add_command(_command)


@cli.command("demo")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("incident-demo"),
    show_default=True,
    help="Bundle directory for the example incident.",
)
def demo_cmd(output: Path) -> None:
    """Run the bundled example incident end to end: collect, timeline, report.

    The example is a scripted outage of checkout-api (examples/checkout-incident) made of the
    exports an on-call engineer would have: kubectl logs and events, Prometheus query_range
    JSON, Alertmanager and amtool JSON, PagerDuty log entries and notes. No cluster needed.
    """
    if not EXAMPLE_CONFIG.exists():
        raise click.ClickException(
            f"the example incident is missing ({EXAMPLE_CONFIG}); reinstall incident-timeline"
        )
    from incident_timeline.report.render import render

    with user_errors():
        _clear_old_bundle(output)
        config = load_config(EXAMPLE_CONFIG)
        window = _window(config, None, None, None, None)
        outcomes = _collect(config, window, output, False)
        frame = _timeline(output, True, (), None)
        with atomic_open(output / "timeline.md", "w") as handle:
            handle.write(render(_timeline(output, False, (), None), "md"))
        click.echo(render(frame, "table"))
        report = write_report(output, html_path=output / "report.html").path
    click.echo(f"\nBundle:      {output}/ (manifest.json, raw/, events/, metrics/)")
    click.echo(f"Timeline:    {output / 'timeline.md'}  (all events; incident timeline {output})")
    click.echo(f"Postmortem:  {report}  (figures in {output / 'figures'}/)")
    click.echo(f"HTML:        {output / 'report.html'}  (draft, figures, interactive timeline)")
    found = frame["kind"].isin(["clock", "gap"]).sum()
    click.echo(f"Trust:       {found} clock/gap findings (incident clocks {output})")
    if any(o.status in ("partial", "failed") for o in outcomes):
        sys.exit(EXIT_PARTIAL)


def _window(
    config: Config, since: str | None, until: str | None, last: str | None, tz: str | None
) -> Window:
    settings = config.incident
    if since is None and last is None:
        since, until = settings.since, until or settings.until
    window = resolve_window(
        since=since,
        until=until,
        last=last,
        tz=tz or settings.timezone,
        max_window=settings.max_window_delta,
    )
    click.echo(f"Window (UTC): {window.describe()}", err=True)
    return window


def _collect(
    config: Config,
    window: Window,
    output: Path,
    resume: bool,
    incident: dict[str, Any] | None = None,
) -> list[SourceOutcome]:
    def progress(o: SourceOutcome) -> None:
        counts = ", ".join(f"{k} {v:,}" for k, v in o.counts.items() if v)
        line = f"  {o.name:<12} {o.status:<8} {counts} ({o.seconds:.1f} s)"
        click.echo(line + (f"\n    {o.error}" if o.error else ""), err=True)

    def notice(text: str) -> None:
        click.echo(f"  {text}", err=True)

    try:
        outcomes = collect(
            config,
            window,
            output,
            resume=resume,
            progress=progress,
            notice=notice,
            incident=incident,
        )
    except Interrupted as exc:  # the manifest says so; exit as the signal would have
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.status)
    click.echo(f"Bundle written: {output}", err=True)
    return outcomes


def _timeline(  # type: ignore[no-untyped-def]
    bundle: Path, key_only: bool, sources: tuple[str, ...], grep: str | None, redact: bool = True
):
    import pandas as pd

    from incident_timeline.report.curation import curate_key, read_curation, with_notes
    from incident_timeline.report.redact import for_bundle
    from incident_timeline.report.story import manifest_window
    from incident_timeline.report.stream import check_sources, timeline_stream
    from incident_timeline.report.trust import load
    from incident_timeline.timeline.keyevents import key_candidates, key_events
    from incident_timeline.timeline.merge import filter_events
    from incident_timeline.timeline.schema import empty_events

    curation = read_curation(bundle)
    if key_only:  # the key events' candidates, a batch at a time (see report.stream)
        keep = partial(key_candidates, pinned=curation.pins)
        stream = timeline_stream(bundle, sources, grep, redact, keep=keep)
        if stream is not None:
            frame = pd.concat([empty_events(), *stream], ignore_index=True)
            window = manifest_window(read_manifest(bundle))
            return curate_key(frame, key_events(frame, window), curation)
    manifest, assembled = load(bundle)
    frame = with_notes(assembled.events, curation)
    check_sources(bundle, sources, set(frame["source"].unique()) - {"integrity"})  # findings
    if redact:  # the whole timeline, so a secret's number does not depend on the filters
        frame = for_bundle(manifest).frame(frame)
    frame = filter_events(frame, sources, grep)
    if not key_only:
        return frame
    return curate_key(frame, key_events(frame, manifest_window(manifest)), curation)


def _warn_incomplete(bundle: Path) -> bool:
    """Say on stderr that the bundle did not finish; whether it did not."""
    try:
        message = incomplete_message(read_manifest(bundle))
    except BundleError:
        return False
    if message:
        click.echo(f"Warning: {bundle}: {message}", err=True)
    return message is not None


def _exit_if_incomplete(bundle: Path) -> None:
    if _warn_incomplete(bundle):
        sys.exit(EXIT_PARTIAL)


def _emit(text: str | bytes | Iterator[bytes], output: Path | None) -> None:
    from incident_timeline.report.chunks import write_chunks  # numpy and pandas: not for collect

    if output is None:
        if isinstance(text, str):
            click.echo(text, nl=not text.endswith("\n"))
        else:
            write_chunks([text] if isinstance(text, bytes) else text, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return
    with atomic_open(output, "wb") as handle:
        if isinstance(text, str):
            handle.write(text.encode("utf-8"))
        else:
            write_chunks([text] if isinstance(text, bytes) else text, handle)
    click.echo(f"Wrote {output}", err=True)


def _clear_old_bundle(path: Path) -> None:
    """The demo re-runs into the same directory, but only ever deletes its own old bundle."""
    manifest = path / MANIFEST
    if manifest.exists() and json.loads(manifest.read_text()).get("tool", {}).get("name") == TOOL:
        shutil.rmtree(path)
