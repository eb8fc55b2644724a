"""A first draft of a blameless postmortem, in Markdown, rendered from Jinja2 templates.

The facts are computed in Python (`report.story.build_story`) into one `Story`; the
template only lays them out. The shipped template is ``report/templates/postmortem.md.j2``;
``incident report --template FILE`` renders a team's own with the same context:

    story           the Story (see report/story.py for every field)
    prompts         section name -> the questions only people can answer
    sections        the sections of the shipped template, in order
    action_prompts  starting rows for Action Items

Every ``{{ }}`` output is escaped for Markdown (`report.markdown.md_text`), so evidence text
can never become markup, HTML or a link. Filters that return Markdown: ``code`` (inline code),
``link(url)`` (a link; only for URLs from configuration), ``todo`` (a blockquoted prompt),
``todo_inline``; and ``hms``/``when`` format a timestamp. `postmortem` is a pure function of
its inputs: no clock, no I/O beyond reading the template.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from incident_timeline.collector.errors import TemplateError
from incident_timeline.report.facts import full, hms, human_duration
from incident_timeline.report.markdown import md_code, md_text
from incident_timeline.report.response import runs
from incident_timeline.report.story import Story, Tally, build_story
from incident_timeline.timeline.trust.findings import Correction

__all__ = ["PROMPTS", "SECTIONS", "human_duration", "postmortem", "render_story", "todo"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "postmortem.md.j2"
SECTIONS: tuple[str, ...] = (
    "Summary",
    "What Changed",
    "Impact",
    "Detection",
    "Response",
    "Timeline",
    "Root Cause",
    "Contributing Factors",
    "What Went Well",
    "What Went Wrong",
    "Where We Got Lucky",
    "Action Items",
    "Lessons Learned",
    "Evidence Integrity",
    "Appendix",
)
PROMPTS: dict[str, str] = {
    "Summary": "In two or three sentences: what happened, to whom, for how long, and how it "
    "was fixed? Write it for someone who was not there.",
    "What Changed": "Which of these changes (or which change not listed) set the conditions? "
    "What else changed: feature flags, traffic, dependencies, data?",
    "Impact": "Who and what was affected, and for how long? How many users, requests or "
    "orders failed; how much revenue is at stake? Which SLOs were breached, how much error "
    "budget was spent? Was any data lost or corrupted?",
    "Detection": "How was the incident noticed: an alert, a customer, someone looking? "
    "Could it have been detected sooner? Was the alert actionable?",
    "Response": "What was tried, in what order, and what worked? What slowed mitigation? "
    "Were runbooks, dashboards and access available when needed?",
    "Root Cause": "What conditions allowed this to happen? Keep asking 'why' until you reach "
    "systems, defaults and decisions, not people. Which evidence (ref) supports each step?",
    "Contributing Factors": "What conditions made it worse, longer or harder to diagnose? "
    "Missing alerts, noisy dashboards, risky defaults, unclear ownership, load, timing?",
    "What Went Well": "Which practices, tools or decisions helped? What should we keep doing?",
    "What Went Wrong": "Where did process or tooling get in the way? What surprised the "
    "responders?",
    "Where We Got Lucky": "What could have made this much worse, and did not by chance? "
    "Which of those conditions still hold?",
    "Action Items": "One row per action. Every action has one owner, a due date, a priority "
    "and a ticket; prefer actions that change the conditions (prevent, detect, mitigate) "
    "over actions that ask people to be careful.",
    "Lessons Learned": "What did we learn about our systems and how we operate them? What "
    "conditions would we tell another team to look for?",
    "Appendix": "Link the dashboards, graphs and queries you used during the response.",
}
ACTION_PROMPTS: tuple[str, ...] = (
    "_TODO: prevent (remove or contain the root cause)_",
    "_TODO: detect sooner (alerting, dashboards)_",
    "_TODO: mitigate faster (runbooks, rollback, tooling)_",
)


def postmortem(
    manifest: Mapping[str, Any],
    events: pd.DataFrame,
    *,
    corrections: Sequence[Correction] = (),
    applied: Mapping[str, int] | None = None,
    pins: Collection[str] = (),
    hides: Collection[str] = (),
    regenerate: str = "incident report BUNDLE",
    csv_name: str | None = None,
    template: Path | None = None,
    metrics: Mapping[str, pd.DataFrame] | None = None,
    tally: Tally | None = None,
) -> str:
    """Draft a blameless postmortem in Markdown from a bundle manifest and its events.

    ``events`` is the full merged timeline, human notes included; ``corrections`` are the
    clock corrections the user accepted and ``applied`` how many rows each shifted; ``pins``
    and ``hides`` are refs put into or out of the timeline table. ``template`` is a team's own
    template file (default: the shipped one). With ``tally``, ``events`` may be the rows the
    story reads (see `build_story`). Returns the document, ending with a newline.
    """
    story = build_story(
        manifest,
        events,
        corrections=corrections,
        applied=applied,
        pins=pins,
        hides=hides,
        regenerate=regenerate,
        csv_name=csv_name,
        metrics=metrics,
        tally=tally,
    )
    return render_story(story, template)


def render_story(story: Story, template: Path | None = None) -> str:
    """Render ``story`` with the shipped template or the template file ``template``."""
    env = environment(template.parent if template is not None else None)
    name = template.name if template is not None else TEMPLATE
    try:
        text = env.get_template(name).render(
            story=story, prompts=PROMPTS, sections=SECTIONS, action_prompts=ACTION_PROMPTS
        )
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"{template or name}: no such template") from exc
    except (jinja2.UndefinedError, TypeError, AttributeError) as exc:
        raise TemplateError(f"{template or name}: {exc}") from exc
    return _tidy(text)


def environment(extra: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment: a team's folder (if any) first, then the shipped templates."""
    paths = [str(extra)] if extra is not None else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*paths, str(TEMPLATES)]),
        autoescape=False,  # HTML escaping is wrong for Markdown; finalize escapes instead
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(code=_code, link=_link, todo=todo, todo_inline=_todo_inline)
    env.filters.update(hms=hms, when=full, num="{:,}".format, counted=_counted, runs=runs)
    return env


def _counted(n: int, noun: str) -> str:
    """``1 key event``, ``2,001 key events``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def todo(prompt: str) -> Markup:
    """A blockquoted prompt for what only the people involved can write."""
    return Markup(f"> _TODO (human): {md_text(prompt)}_")


def _todo_inline(text: str) -> Markup:
    # The placeholders are ours (``_TODO: ..._`` in italics): Markdown on purpose.
    return Markup(text)


def _code(value: Any) -> Markup:
    return Markup(md_code(value))


def _link(text: Any, url: str) -> Markup:
    # Only URLs from configuration reach here (report.appendix checks them); a URL with
    # ")" or whitespace would break the link, so such URLs are shown as code instead.
    if any(c in url for c in " ()<>\n"):
        return Markup(f"{md_text(text)}: {md_code(url)}")
    return Markup(f"[{md_text(text)}]({url})")


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    return md_text(value)


def _tidy(text: str) -> str:
    """At most one blank line in a row, and exactly one newline at the end."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip("\n") + "\n"
