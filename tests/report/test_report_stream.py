"""`incident report` from the streamed timeline writes what it writes from the loaded one."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from incident_timeline.report import drafts, html
from incident_timeline.report.curation import Curation, Note, write_curation
from incident_timeline.report.drafts import write_report
from tests.report.test_stream import SECRET, shuffled

__all__ = ["shuffled"]  # the fixture, imported for pytest


def outputs(bundle: Path, redact: bool = True) -> dict[str, bytes]:
    """Every file the report writes, by name."""
    shutil.rmtree(bundle / "figures", ignore_errors=True)
    write_report(bundle, force=True, redact=redact, html_path=bundle / "report.html")
    names = ["postmortem.md", "postmortem-timeline.csv", "report.html"]
    names += [f"figures/{p.name}" for p in sorted((bundle / "figures").iterdir())]
    return {name: (bundle / name).read_bytes() for name in names}


def loaded(bundle: Path, monkeypatch: pytest.MonkeyPatch, redact: bool = True) -> dict[str, bytes]:
    """`outputs` with the whole timeline loaded, as before the stream."""
    with monkeypatch.context() as patch:
        patch.setattr(drafts, "timeline_stream", lambda *args, **kwargs: None)
        return outputs(bundle, redact)


@pytest.fixture
def curated(shuffled: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shuffled bundle with notes (one with a secret), a pinned info line, a hidden key
    event and the late row's secret, bare, in the manifest's title; the page's JSON made a
    few rows at a time."""
    monkeypatch.setattr(html, "JSON_ROWS", 7)
    events = pq.read_table(shuffled / "events" / "two.parquet").to_pandas()
    info = events.loc[(events["kind"] == "log") & (events["severity"] == "info"), "ref"]
    warned = events.loc[events["kind"] == "k8s_event", "ref"]
    notes = (
        Note("2026-02-17T14:20:00Z", f"rotated {SECRET}", "sam", "14:20", "2026-02-18T09:00Z"),
        Note("2026-02-17T14:31:00Z", "Rolled back", None, "14:31", "2026-02-18T09:01Z"),
    )
    write_curation(
        shuffled, Curation(notes, pins=(str(info.iloc[3]),), hides=(str(warned.iloc[0]),))
    )
    manifest = json.loads((shuffled / "manifest.json").read_text())
    manifest["title"] = f"{manifest['title']} {SECRET}"
    (shuffled / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return shuffled


@pytest.mark.parametrize("redact", [True, False])
def test_the_streamed_report_writes_the_loaded_report_s_bytes(
    curated: Path, monkeypatch: pytest.MonkeyPatch, redact: bool
) -> None:
    want = loaded(curated, monkeypatch, redact)
    with monkeypatch.context() as patch:
        patch.setattr(drafts, "load", lambda *args: pytest.fail("loaded the whole timeline"))
        got = outputs(curated, redact)
    assert got.keys() == want.keys()
    for name, data in want.items():
        assert got[name] == data, name
    draft = got["postmortem.md"].decode()
    assert "rotated" in draft and "📌" in draft
    assert (SECRET in draft) is not redact
    if redact:  # numbered as the whole timeline numbers it, the title's too
        assert "«secret-3»" in draft and "«secret-3»" in got["postmortem-timeline.csv"].decode()


def test_without_a_window_the_report_loads_the_whole_timeline(
    curated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = json.loads((curated / "manifest.json").read_text())
    del manifest["window"]
    (curated / "manifest.json").write_text(json.dumps(manifest, indent=2))
    called: list[Path] = []
    load = drafts.load
    monkeypatch.setattr(drafts, "load", lambda bundle: called.append(bundle) or load(bundle))
    frame = outputs(curated)["postmortem-timeline.csv"]
    assert called == [curated]
    assert len(pd.read_csv(io.BytesIO(frame))) > 0
