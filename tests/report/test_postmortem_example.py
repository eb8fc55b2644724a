"""The postmortem of the bundled example incident: the facts a team writes first, a timeline
it would paste, Markdown that survives rendering, and human work that is never lost."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.report.postmortem import SECTIONS
from tests.report.gfm import Html, render_gfm
from tests.support import ROOT, cli

CONFIG = ROOT / "config.example.toml"


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("story") / "bundle"
    cli(["collect", "-c", str(CONFIG), "-o", str(out)])
    cli(["report", str(out)])
    return out


@pytest.fixture
def bundle(collected: Path, tmp_path: Path) -> Path:
    """A private copy, so notes and edits of one test do not leak into another."""
    return Path(shutil.copytree(collected, tmp_path / "bundle"))


def draft(bundle: Path) -> str:
    return (bundle / "postmortem.md").read_text()


def section(text: str, name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    assert match, name
    return match.group(1)


def table_rows(text: str) -> list[str]:
    return [line for line in section(text, "Timeline").splitlines() if line.startswith("| ")][2:]


def test_summary_sentence(collected: Path) -> None:
    assert section(draft(collected), "Summary").strip().splitlines()[0] == (
        "5xx ratio \\> 0.05 (service=checkout-api) for 15 min 30 s, 14:11:15–14:26:45 UTC, "
        "starting 9 min 10 s after deploy v2.3.4 by ci-bot (14:02:05); mitigated by rollback "
        "to v2.3.3 by alice.chen at 14:22:40; resolved at 14:31:12 by Alice Chen."
    )


def test_header_says_incident_impact_and_duration(collected: Path) -> None:
    text = draft(collected)
    for row in (
        "| **Incident** | `Q1CHKT5XYZABCD` (#4211) |",
        "| **Impact start** | 2026-02-17 14:11:15 UTC |",
        "| **Impact end** | 2026-02-17 14:26:45 UTC |",
        "| **Duration** | 15 min 30 s |",
    ):
        assert row in text


def test_impact_span_peak_and_what_was_affected(collected: Path) -> None:
    lines = [x for x in section(draft(collected), "Impact").splitlines() if x[:2] == "- "]
    assert lines == [
        "- 5xx ratio \\> 0.05 (service=checkout-api): from 14:11:15 to 14:26:45 (15 min 30 s), "
        "peak 0.3234 at 14:16:15",
        "- Error log lines from checkout-api: 501, 14:10:03–14:19:56",
        "- Affected services: checkout-api",
        "- Pods with error logs: 4 (checkout-api-6d8f7b9c5d-5mk8p, checkout-api-6d8f7b9c5d-6gmfc, "
        "checkout-api-6d8f7b9c5d-7f8k7, checkout-api-6d8f7b9c5d-rzgxz)",
        "- Alerts: HighErrorRate",
    ]


def test_what_changed_deploy_and_rollback_with_versions_and_actor(collected: Path) -> None:
    lines = [x for x in section(draft(collected), "What Changed").splitlines() if x[:2] == "- "]
    assert [line.split(" (file, ")[0] for line in lines] == [
        "- 14:02:05 Deploy v2.3.4 (from v2.3.3) by ci-bot: deployment/checkout-api, pipeline "
        "checkout-api#1842, 14:02:05–14:04:41 success; Kubernetes deployment "
        "checkout/checkout-api: ReplicaSet checkout-api-6d8f7b9c5d replacing "
        "checkout-api-5c9d7f6b8, 8 ReplicaSet steps 14:02:10–14:04:40 ◀",
        "- 14:18:05 Silence by alice.chen on alertname=HighErrorRate, service=checkout-api "
        "until 2026-02-17T16:18:05.220Z: Rollback of checkout-api in progress; silencing "
        "HighErrorRate while it rolls out (alertmanager, "
        "`raw/file/examples/checkout-incident/exports/alertmanager/silences.json#/0`)",
        "- 14:22:40 Rollback to v2.3.3 (from v2.3.4) by alice.chen: pipeline "
        "checkout-api#1843, 14:22:40–14:25:11 success; Kubernetes deployment "
        "checkout/checkout-api: ReplicaSet checkout-api-5c9d7f6b8 replacing "
        "checkout-api-6d8f7b9c5d, 8 ReplicaSet steps 14:22:41–14:25:10",
    ]


def test_response_metrics_name_their_events(collected: Path) -> None:
    body = section(draft(collected), "Response")
    assert [x for x in body.splitlines() if x.startswith("- **")] == [
        "- **Time to acknowledge:** 3 min 14 s (page 14:13:33 → acknowledged 14:16:47)",
        "- **Time to mitigate:** 9 min 7 s (page 14:13:33 → rollback to v2.3.3 14:22:40)",
        "- **Time to symptom end:** 13 min 12 s (page 14:13:33 → symptom ended 14:26:45)",
        "- **Time to resolve:** 17 min 39 s (page 14:13:33 → resolved 14:31:12)",
    ]
    assert (
        "- Alice Chen (also alice.chen): paged, acknowledged, noted, resolved, silenced "
        "alerts, rolled back" in body
    )


def test_timeline_tells_the_story_without_integrity_rows(collected: Path) -> None:
    text = draft(collected)
    rows = table_rows(text)
    assert len(rows) == 25
    assert "11 clock and gap findings are under Evidence integrity, not in this table." in text
    assert not any(" integrity " in r or "No logs for pod" in r for r in rows)
    assert all(re.match(r"^\| \d\d:\d\d:\d\d \| ", r) for r in rows)
    assert sum("ReplicaSet steps" in r for r in rows) == 2  # one row per rollout
    full = pd.read_csv(collected / "postmortem-timeline.csv")  # every event, findings too
    assert (len(full), int((full["source"] == "integrity").sum())) == (12858, 11)


def test_the_draft_renders_as_its_text_with_cmark_gfm(collected: Path) -> None:
    page = Html(render_gfm(draft(collected)))
    assert [len({len(row) for row in table}) for table in page.tables] == [1] * len(page.tables)
    assert page.headings[1 : len(SECTIONS) + 1] == list(SECTIONS)
    assert {"script", "br"}.isdisjoint(page.tags)
    # The only images and links are the draft's own figures (issue 14), none from evidence.
    assert page.tags.count("img") == len(list((collected / "figures").glob("*.png")))
    assert all(link.startswith("figures/") and link.endswith(".svg") for link in page.links)
    assert "pipeline checkout-api#1842" in "".join(page.text)


def test_an_edited_draft_survives_a_rerun(bundle: Path) -> None:
    path = bundle / "postmortem.md"
    edited = draft(bundle).replace("> _TODO (human): In two", "We lost checkout. In two")
    path.write_text(edited)
    result = cli(["report", str(bundle)])
    assert result.output.splitlines()[:2] == [
        f"{path} was edited since it was generated; kept it as it is.",
        f"New draft: {bundle / 'postmortem.new.md'} (replace the edited one with --force)",
    ]
    assert path.read_text() == edited
    assert "> _TODO (human): In two" in (bundle / "postmortem.new.md").read_text()
    cli(["report", str(bundle), "--force"])
    assert "> _TODO (human): In two" in path.read_text()
    again = cli(["report", str(bundle)])  # unchanged since written: replaced quietly
    assert again.output.startswith(f"Postmortem draft: {path}\n")


def test_a_note_appears_on_the_timeline_and_in_the_report(bundle: Path) -> None:
    result = cli(
        ["note", str(bundle), "--at", "14:40", "--actor", "alice", "Decided <b>rollback</b>"]
    )
    assert result.output == "Note at 2026-02-17T14:40:00Z: Decided <b>rollback</b>\n"
    key = cli(["timeline", str(bundle), "--key-only", "-f", "md"]).output
    assert "| 2026-02-17 14:40:00 | human | note | alice | Decided \\<b\\>rollback\\</b\\> |" in key
    cli(["report", str(bundle)])
    rows = table_rows(draft(bundle))
    assert (
        "| 14:40:00 | ✍ Decided \\<b\\>rollback\\</b\\> | human (human-entered) | alice |" in rows
    )
    # a re-collect with --resume keeps it (curation.json is the people's file)
    cli(["collect", "-c", str(CONFIG), "-o", str(bundle), "--resume"])
    assert "Decided" in (bundle / "curation.json").read_text()
    assert "Decided" in cli(["timeline", str(bundle), "--key-only"]).output


def test_pin_and_hide_change_the_key_timeline(bundle: Path) -> None:
    silence = "raw/file/examples/checkout-incident/exports/alertmanager/silences.json#/0"
    info = "raw/file/examples/checkout-incident/exports/checkout-logs-1420.txt#L3"
    assert cli(["hide", str(bundle), silence]).output == f"Hidden {silence}\n"
    assert cli(["pin", str(bundle), info]).output == f"Pinned {info}\n"
    cli(["report", str(bundle)])
    rows = table_rows(draft(bundle))
    assert not any("Silence by alice.chen" in r for r in rows)
    assert sum("📌" in r for r in rows) == 1
    key = cli(["timeline", str(bundle), "--key-only", "-f", "csv"]).output
    assert info in key and silence not in key
    bad = cli(["pin", str(bundle), "raw/nope#L1"], exit_code=1)
    assert "Error: no event has ref 'raw/nope#L1'; find refs with incident timeline" in bad.output


def test_note_times_must_fall_in_the_window(bundle: Path) -> None:
    bad = cli(["note", str(bundle), "--at", "16:40", "late"], exit_code=1)
    assert "Error: --at '16:40' is outside the window (2026-02-17T14:00:00Z .." in bad.output


def test_report_with_a_team_template(bundle: Path, tmp_path: Path) -> None:
    ours = tmp_path / "ours.md.j2"
    ours.write_text(
        "# {{ story.title }}\n\n{{ story.summary }}\n\n"
        "{% for x in story.response.metrics %}- {{ x.label }}: {{ x.text }}\n{% endfor %}"
    )
    out = tmp_path / "pm.md"
    result = cli(["report", str(bundle), "--template", str(ours), "-o", str(out)])
    assert result.output.splitlines()[0] == f"Postmortem draft: {out}"
    text = out.read_text()
    assert text.startswith("# Checkout API 5xx after v2.3.4 deploy\n\n5xx ratio \\> 0.05")
    assert "- Time to mitigate: 9 min 7 s (page 14:13:33 → rollback to v2.3.3 14:22:40)\n" in text
    assert (tmp_path / "pm-timeline.csv").is_file()
    ours.write_text("{% if %}")
    bad = cli(["report", str(bundle), "--template", str(ours), "-o", str(out)], exit_code=1)
    assert bad.output.startswith(f"Error: {ours}:1: ")
