"""``incident clocks`` reads log lines without their texts and finds exactly what the full
load finds, duplicates across raw files included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.report.trust import load, load_integrity
from incident_timeline.timeline.schema import SCHEMA


def test_clocks_load_matches_the_full_load_with_duplicates(
    demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    events = pq.read_table(bundle / "events" / "file.parquet").to_pandas()
    pgbouncer = events.loc[events["stream"].str.endswith("/pgbouncer")].head(300).copy()
    pgbouncer["ref"] = pgbouncer["ref"].str.replace("raw/file/", "raw/file/copy/", regex=False)
    # Twins of the same lines from another raw file (dropped), and one line that shares
    # time, source and kind with another but not its text (kept).
    pgbouncer.iloc[-1, pgbouncer.columns.get_loc("message")] = "not the same line"
    path = bundle / "events" / "copy.parquet"
    pq.write_table(pa.Table.from_pandas(pgbouncer, schema=SCHEMA, preserve_index=False), path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["events/copy.parquet"] = {"sha256": "0" * 64, "bytes": path.stat().st_size}
    (bundle / "manifest.json").write_text(json.dumps(manifest))

    _, full = load(bundle)
    _, integrity, applied = load_integrity(bundle)
    assert full.duplicates == 2 + 299  # the example's own two and the twins
    assert integrity.to_dict() == full.integrity.to_dict()
    assert applied == dict(full.applied)
    lines = {f.id: f.labels.get("lines") for f in integrity.findings}
    assert lines["app_clock:pgbouncer"] == "793"  # 792 lines of the example and the odd one
