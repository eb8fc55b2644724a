"""Issue 8 item 2: secret values are masked by value, in every form they travel in."""

from __future__ import annotations

import base64

import pyarrow as pa

from incident_timeline.collector.secrets import MASK, Masker, secret_forms


def test_forms_include_bearer_value_and_basic_base64() -> None:
    forms = secret_forms("tok/en+1", "bob", "hunter22")
    assert forms == [
        "tok/en+1",
        "tok%2Fen%2B1",
        "hunter22",
        "hunter22",
        base64.b64encode(b"bob:hunter22").decode(),
    ]


def test_masking_text_and_bytes() -> None:
    masker = Masker(secret_forms("s3cret-token", "bob", "hunter22"))
    assert masker.text("401: bad Bearer s3cret-token") == f"401: bad Bearer {MASK}"
    basic = base64.b64encode(b"bob:hunter22")
    data, count = masker.data(b'{"auth": "Basic ' + basic + b'", "pw": "hunter22"}')
    assert data == f'{{"auth": "Basic {MASK}", "pw": "{MASK}"}}'.encode()
    assert count == 2


def test_a_secret_split_across_blocks_is_still_masked() -> None:
    masker = Masker(["s3cret-token"])
    counter = [0]
    blocks = [b"head s3cr", b"et-tok", b"en tail s3cret-", b"token!"]
    assert b"".join(masker.stream(blocks, counter)) == f"head {MASK} tail {MASK}!".encode()
    assert counter == [2]


def test_short_values_are_not_masked() -> None:
    assert Masker(["ab", ""]).text("a cab") == "a cab"


def test_the_writer_masks_events_warnings_errors_and_raw_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    import pandas as pd

    from incident_timeline.collector.bundle import Bundle, read_manifest
    from incident_timeline.timeline import schema
    from incident_timeline.timeline.window import Window

    window = Window(datetime(2026, 2, 17, 14, tzinfo=UTC), datetime(2026, 2, 17, 15, tzinfo=UTC))
    bundle = Bundle(tmp_path / "b", window, {}, title=None, collected_at=window.until)
    writer = bundle.open_source("x")
    writer.add_secrets(["tok-123456"])
    writer.write_raw("a.json", b'{"error": "bad token tok-123456"}')
    writer.warn("server said tok-123456", partial=True)
    events = schema.make_events(
        time=pd.Series([pd.Timestamp("2026-02-17T14:01Z")]),
        source="x",
        stream="s",
        kind="log",
        severity="info",
        summary="Bearer tok-123456",
        message="plain",
        labels=[schema.labels_json({"auth": "tok-123456"})],
        time_raw="",
        time_quality="exact",
        ref="raw/x/a.json#/error",
    )
    writer.add_events(events)
    count = writer.finish()
    bundle.close_source(writer, "partial", "echo: tok-123456", {"events": count})
    stored = pd.read_parquet(tmp_path / "b/events/x.parquet")
    assert stored["summary"].tolist() == [f"Bearer {MASK}"]
    assert MASK in stored["labels"].item() and "tok-123456" not in stored["labels"].item()
    manifest = read_manifest(tmp_path / "b")
    assert manifest["sources"]["x"]["error"] == f"echo: {MASK}"
    assert manifest["sources"]["x"]["warnings"][0]["message"] == f"server said {MASK}"
    assert manifest["files"]["raw/x/a.json"]["masked"] == (
        "1 occurrence(s) of a configured secret masked"
    )
    for file in (tmp_path / "b").rglob("*"):
        assert not file.is_file() or b"tok-123456" not in file.read_bytes(), file


def test_a_column_is_masked_row_by_row_whatever_its_chunks() -> None:
    # Chunks of both string types, sliced (an offset into shared buffers), with nulls; the
    # secret also appears only across a row boundary, which must mask nothing.
    secret = "s3cr3t-token-value"
    rows = ["a s3cr3t-token-", "value b", None, f"x {secret} y", "plain", f"{secret}"]
    whole = pa.array(rows, pa.large_string())
    column = pa.chunked_array(
        [whole.slice(0, 3), whole.slice(3).cast(pa.string()).cast(pa.large_string())]
    )
    masked = Masker([secret]).column(column).to_pylist()
    assert masked == ["a s3cr3t-token-", "value b", None, f"x {MASK} y", "plain", MASK]
    across = pa.chunked_array([pa.array(["a s3cr3t-token-", "value b"], pa.string())])
    assert Masker([secret]).column(across) is across
    sliced = pa.chunked_array([whole.slice(4, 1)])  # the buffers hold the secret elsewhere
    assert Masker([secret]).column(sliced) is sliced
