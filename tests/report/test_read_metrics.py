"""`read_metrics` gives ``series`` and ``labels`` as categoricals that behave as the strings did:
same values, and sorts and group-bys in string order, whatever order the series were written in
(each row group of a metrics file has its own dictionary)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.report.trust import read_metrics

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def test_series_come_as_categoricals_in_string_order(tmp_path: Path) -> None:
    (tmp_path / "metrics").mkdir()
    groups = [['up{pod="zeta"}', 'up{pod="alpha"}'], ['up{pod="mid"}', 'up{pod="zeta"}']]
    with pq.ParquetWriter(tmp_path / "metrics/m.parquet", _schema()) as writer:
        for g, series in enumerate(groups):
            writer.write_table(
                pa.table(
                    {
                        "time": pa.array(
                            [T0 + pd.Timedelta(seconds=g)] * 2, pa.timestamp("ns", "UTC")
                        ),
                        "series": series,
                        "labels": [s.replace("up", "{}") for s in series],
                        "value": [1.0, 0.0],
                    },
                    schema=_schema(),
                )
            )
    [(name, frame)] = read_metrics(tmp_path, {"files": {"metrics/m.parquet": "x"}}).items()
    assert name == "m"
    assert frame["series"].tolist() == [s for g in groups for s in g]
    assert list(frame["series"].cat.categories) == sorted({s for g in groups for s in g})
    assert list(frame["labels"].cat.categories) == sorted(set(frame["labels"].astype(str)))
    strings = frame.astype({"series": "string"})
    assert frame.sort_values(["series", "time"], kind="stable").index.tolist() == (
        strings.sort_values(["series", "time"], kind="stable").index.tolist()
    )
    assert frame.groupby("series")["value"].max().index.tolist() == sorted(set(strings["series"]))


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("time", pa.timestamp("ns", "UTC")),
            ("series", pa.string()),
            ("labels", pa.string()),
            ("value", pa.float64()),
        ]
    )
