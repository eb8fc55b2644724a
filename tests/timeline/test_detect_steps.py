"""The column search (detect.find) against its definition: each step of the plan, in order,
searched line by line over the lines still without a timestamp (Python's re)."""

from __future__ import annotations

import pyarrow as pa

from incident_timeline.timeline.timestamps import detect
from incident_timeline.timeline.timestamps.families import compiled, group_index, identify_regex

BODIES = (
    'level=info ts=2024-06-01T12:00:00.123Z caller=main.go:216 msg="request served"',
    '{"level":"info","ts":"2024-06-01T12:00:00.124Z","msg":"GET /healthz"}',
    "I0601 12:00:00.000000       1 controller.go:123] Reconciling deployment shop/api",
    "2024-06-01T12:00:00.125Z ERROR [main] order 4711 failed: timeout",
    "    at com.example.shop.CheckoutService.place(CheckoutService.java:42)",
    "Jun  1 12:00:01 node-1 kubelet[42]: probe failed",
    "retry at 12:00:02 of 2024/06/01 21:50:30 (second clock later)",
)


def _reference(lines: list[str], steps: list[detect.Step]) -> dict[int, tuple[str, str]]:
    """{row: (family name, text)} by the plan's steps, one line at a time."""
    out: dict[int, tuple[str, str]] = {}
    for step in steps:
        if not step.families:
            continue
        regex = compiled(identify_regex(step.families, step.anchored))
        for row, line in enumerate(lines):
            if row in out:
                continue
            match = regex.search(line)
            if match is not None and match.lastgroup is not None:
                family = step.families[group_index(match.lastgroup)]
                out[row] = (family.name, match.group(match.lastgroup))
    return out


def _found(column: pa.Array, steps: list[detect.Step]) -> dict[int, tuple[str, str]]:
    """{row: (family name, text)} by detect.find."""
    found, _ = detect.find(column, steps)
    return {
        int(row): (hit.family.name, text)
        for hit in found
        if hit.family is not None
        for row, text in zip(hit.rows, hit.raw.to_pylist(), strict=True)
    }


def test_find_matches_its_steps_line_by_line() -> None:
    lines = [BODIES[(i * 7 + i // 5) % len(BODIES)] for i in range(3 * detect.FEW)]
    column = pa.array(lines, pa.large_string())
    steps = [step for step in detect.plan(column) if step.families]
    assert len(steps) > 1  # JSON keys first, then the sample's families, then all of them
    assert _found(column, steps) == _reference(lines, steps)


# Openings the byte-level readers (timestamps.openings) settle or leave to the regex: zones
# (Z, abbreviations, a run that is none, numeric), fractions of 0-10 digits, klog headers.
OPENINGS = (
    "2024-06-01T12:00:00", "2024-06-01 12:00:00", "I0601 12:00:00", "E1231 23:59:59",
    "W0101 00:00:00", "F0601 12:00:0", "2024-06-01T12:00:0x",
)  # fmt: skip
TAILS = (
    "", ".", ",5", ".123", ".123456789", ".1234567890", "Z", "Z ", "Zé", "Z9", "ZULU", " Z",
    " UTC", "UTC", " UTCX", "UT", " PST msg", "PSTX", "+05:00", " -0800", "+05", " +5", " ERROR",
    " INFO x", " WEST", "é", "\t", " 1 a.go:1] msg", ' "ts":"2024-06-01T12:00:01Z"', "_x",
)  # fmt: skip


# JSON time keys (the JSON keys' step reads '"ts":"' and its like where no key comes first).
JSON = [
    '{"level":"info","ts":"2024-06-01T12:00:00.123Z","msg":"x"}',
    '{"time":"soon","ts":"2024-06-01T12:00:00Z"}',
    '{"time":"2024-06-01 12:00:00 UTC","ts":"2024-06-01T12:00:00Z"}',
    '{"t":1717243200,"ts":"2024-06-01T12:00:00+02:00"}',
    '{"epochSecond": 1717243200, "nanoOfSecond": 5, "ts":"2024-06-01T12:00:00Z"}',
    '{"@timestamp":"2024-06-01T12:00:00.5","timestamp":"2024-06-01T12:00:01Z"}',
    '{"timestamp":"2024-06-01T12:00:00.1234567890Z"}',
    '{"ts":"2024-06-01T12:00:00ZULU"}',
    '{"ts": "2024-06-01T12:00:00Z"}',
    '{"ts":"2024-06-01T12:00:0"}',
    '{"msg":"\\"ts\\":\\"2024-06-01T12:00:00Z"}',
    'x"time"ts":"2024-06-01T12:00:00Z"',
    '{"ts":"2024-06-01T12:00:00 PST"}',
] * 12
# A stamp inside the line, after no digit or quote (and after some).
INNER = [
    "level=info ts=2024-06-01T12:00:00.123Z caller=main.go:216",
    "level=info ts=2024-06-01T12:00:00+01:00",
    "at I0601 12:00:00 then 2024-06-01T12:00:00Z",
    "at I2024-06-01T12:00:00Z",
    "at E2024 12:00:00 2024-06-01T12:00:00Z",
    'msg="x" ts=2024-06-01T12:00:00Z',
    'msg "ts":"2024-06-01T12:00:00Z"',
    "ts=2024-06-01T12:00:0 and 2024-06-01 12:00:01 UTC",
    "élan ts=2024-06-01 12:00:00 PST",
    "a long lead of letters, more than thirty-two bytes: 2024-06-01T12:00:00Z",
] * 12


def test_openings_read_as_the_regex_matches() -> None:
    lines = (
        [
            OPENINGS[i % len(OPENINGS)] + TAILS[(i // len(OPENINGS)) % len(TAILS)] + TAILS[i % 5]
            for i in range(len(OPENINGS) * len(TAILS) * 5)
        ]
        + list(BODIES)
        + JSON
        + INNER
    )
    column = pa.array(lines, pa.large_string())
    families = detect.plan(column)[-2].families  # every family: bgl rules out iso's reader
    named = {f.name: f for f in families}
    for names, anchored in (
        (("iso", "klog"), False),
        (("iso", "klog"), True),
        (("json_iso", "iso", "klog"), False),
        (("json_epoch", "iso"), False),
        (("json_instant", "json_epoch", "json_iso"), False),
        (("bgl", "iso", "klog"), False),
    ):
        steps = [detect.Step(tuple(named[n] for n in names), anchored), detect.Step(families)]
        assert _found(column, steps) == _reference(lines, steps), names
