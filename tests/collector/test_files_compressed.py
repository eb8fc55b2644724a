"""Issue 8, item 6: gzip and zstd exports are read by their magic bytes, whole or streamed a
piece at a time, every member or frame of them; a stream cut short keeps the lines before the
cut and says so; raw/ holds the compressed bytes exactly as they were."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.files import pieces
from incident_timeline.collector.files.collector import FileCollector, FileSource
from tests.integration.servers import binary
from tests.support import events_of, run_collector

SINCE = datetime(2026, 2, 17, 14, tzinfo=UTC)
UNTIL = datetime(2026, 2, 17, 15, tzinfo=UTC)
LINES = 3000


def _log(first: int, count: int) -> bytes:
    return "".join(
        f"2026-02-17T14:{i // 60 % 60:02d}:{i % 60:02d}Z request {i} done\n"
        for i in range(first, first + count)
    ).encode()


def zstd(data: bytes, tmp_path: Path, name: str) -> Path:
    """``data`` compressed by the reference zstd CLI (not by the module the reader uses)."""
    plain = tmp_path / name.removesuffix(".zst")
    plain.write_bytes(data)
    subprocess.run([binary("zstd"), "-q", "-f", "-19", str(plain)], check=True)
    plain.unlink()
    return tmp_path / name


@pytest.fixture(params=[1 << 24, 4096], ids=["whole", "streamed"])
def piece(request: pytest.FixtureRequest) -> Iterator[int]:
    saved = pieces.PIECE
    pieces.PIECE = request.param
    yield request.param
    pieces.PIECE = saved


def collect(tmp_path: Path, names: list[str]) -> tuple[Path, object]:
    sources = [FileSource(path=n) for n in names]
    return run_collector(
        tmp_path / "out", "file", FileCollector(sources, tmp_path), SINCE, UNTIL, UNTIL
    )


def test_zstd_and_gzip_exports_of_several_frames_are_read(tmp_path: Path, piece: int) -> None:
    # Two frames / members one after the other, as `cat a.zst b.zst` or pzstd writes them.
    one = zstd(_log(0, LINES // 2), tmp_path, "one.log.zst").read_bytes()
    two = zstd(_log(LINES // 2, LINES // 2), tmp_path, "two.log.zst").read_bytes()
    (tmp_path / "app.log.zst").write_bytes(one + two)
    (tmp_path / "app.log.gz").write_bytes(
        gzip.compress(_log(0, LINES // 2)) + gzip.compress(_log(LINES // 2, LINES // 2))
    )
    out, outcome = collect(tmp_path, ["app.log.zst", "app.log.gz"])
    assert outcome.status == "ok", outcome.error  # type: ignore[attr-defined]
    events = events_of(out)
    for name in ("app.log.zst", "app.log.gz"):
        mine = events.loc[events["stream"] == name]
        assert mine["summary"].tolist() == [f"request {i} done" for i in range(LINES)]
        assert (mine["time_quality"] == "exact").all()
        stored = (out / "raw/file" / name).read_bytes()
        assert stored == (tmp_path / name).read_bytes()  # compressed, as received
        files = read_manifest(out)["files"]
        assert files[f"raw/file/{name}"]["sha256"] == hashlib.sha256(stored).hexdigest()


def compress(tool: str, data: bytes) -> bytes:
    """``data`` compressed by a reference CLI (``bzip2``, ``xz``): a file's bytes."""
    return subprocess.run([binary(tool), "-c"], input=data, capture_output=True, check=True).stdout


def test_bzip2_and_xz_exports_of_several_streams_are_read(tmp_path: Path, piece: int) -> None:
    # Archived logs and logrotate's compresscmd: two streams one after the other (pbzip2, cat).
    for tool, name in (("bzip2", "app.log.bz2"), ("xz", "app.log.xz")):
        first = compress(tool, _log(0, LINES // 2))
        second = compress(tool, _log(LINES // 2, LINES // 2))
        (tmp_path / name).write_bytes(first + second)
    (tmp_path / "cut.log.xz").write_bytes(first + second[: len(second) // 2])
    out, outcome = collect(tmp_path, ["app.log.bz2", "app.log.xz", "cut.log.xz"])
    events = events_of(out)
    for name in ("app.log.bz2", "app.log.xz"):
        mine = events.loc[events["stream"] == name]
        assert mine["summary"].tolist() == [f"request {i} done" for i in range(LINES)]
        assert (out / "raw/file" / name).read_bytes() == (tmp_path / name).read_bytes()
    cut = events.loc[events["stream"] == "cut.log.xz"]
    assert LINES // 2 <= len(cut) < LINES  # the first stream whole, no more than was there
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    [warning] = read_manifest(out)["sources"]["file"]["warnings"]
    assert warning["message"] == (
        f"cut.log.xz: xz-compressed stream breaks off after {len(cut):,} lines (EOFError: "
        "Compressed file ended before the end-of-stream marker was reached); kept in raw/, "
        "the lines before it read"
    )


def test_magic_bytes_name_the_compression_not_a_look_alike_text() -> None:
    from incident_timeline.collector.files.compressed import codec

    assert codec(b"BZh91AY&SY\x00") == "bzip2"
    assert codec(b"BZh9\x17\x72\x45\x38\x50\x90") == "bzip2"  # an empty stream
    assert codec(b"\xfd7zXZ\x00\x00\x04") == "xz"
    assert codec(b"BZh9 is no bzip2") is None  # a log line may open with those letters
    assert codec(b"BZh01AY&SY") is None


def test_a_cut_zstd_stream_keeps_the_lines_before_the_cut(tmp_path: Path, piece: int) -> None:
    first = zstd(_log(0, LINES // 2), tmp_path, "one.log.zst").read_bytes()
    second = zstd(_log(LINES // 2, LINES // 2), tmp_path, "two.log.zst").read_bytes()
    whole = first + second[: len(second) // 2]  # the second frame cut in its middle
    (tmp_path / "cut.log.zst").write_bytes(whole)
    out, outcome = collect(tmp_path, ["cut.log.zst"])
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    warnings = read_manifest(out)["sources"]["file"]["warnings"]
    assert [w["kind"] for w in warnings] == ["bad_file"]
    assert (out / "raw/file/cut.log.zst").read_bytes() == whole
    read = len(events_of(out))
    assert LINES // 2 <= read < LINES  # the whole first frame, and no more than was there
    assert warnings[0]["message"] == (
        f"cut.log.zst: zstd-compressed stream breaks off after {read:,} lines (EOFError: zstd "
        "stream ended before the end of its frame); kept in raw/, the lines before it read"
    )


def test_damaged_deflate_data_keeps_the_lines_before_it(tmp_path: Path, piece: int) -> None:
    # A second gzip member whose deflate data opens with a reserved block type (RFC 1951 3.2.3:
    # BTYPE 11 is an error): zlib raises its own error, not an OSError.
    member = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 32
    whole = gzip.compress(_log(0, LINES // 2)) + member
    (tmp_path / "bad.log.gz").write_bytes(whole)
    out, outcome = collect(tmp_path, ["bad.log.gz"])
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert events_of(out)["summary"].tolist() == [f"request {i} done" for i in range(LINES // 2)]
    assert (out / "raw/file/bad.log.gz").read_bytes() == whole
    [warning] = read_manifest(out)["sources"]["file"]["warnings"]
    assert warning["kind"] == "bad_file"
    assert warning["message"] == (
        f"bad.log.gz: gzip-compressed stream breaks off after {LINES // 2:,} lines (error: "
        "Error -3 while decompressing data: invalid block type); kept in raw/, the lines "
        "before it read"
    )


def test_a_corrupt_gzip_file_is_named_and_kept() -> None:
    from incident_timeline.collector.files.compressed import decoded

    data = gzip.compress(_log(0, 10))
    assert decoded(data) == (_log(0, 10), None)
    content, problem = decoded(data[:-6])
    assert content == data[:-6]
    assert problem == (
        "gzip-compressed but cannot be uncompressed: "
        "Compressed file ended before the end-of-stream marker was reached"
    )
    damaged = data[:10] + b"\xff" * 8
    assert decoded(damaged) == (
        damaged,
        "gzip-compressed but cannot be uncompressed: "
        "Error -3 while decompressing data: invalid block type",
    )
    assert decoded(b"\x28\xb5\x2f\xfd" + b"junk") == (
        b"\x28\xb5\x2f\xfd" + b"junk",
        "zstd-compressed but cannot be uncompressed: zstd stream ended before the end of its frame",
    )
