"""Severity from what a line says of itself: level keys, bare level words, and the klog
header every Kubernetes component writes (kubelet, kube-apiserver, controllers)."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pytest

from incident_timeline.timeline import normalize
from incident_timeline.timeline.normalize import detect_severity
from tests.support import DATA, shared

# klog's header as k8s.io/klog/v2 documents it: "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg"
HEADER = re.compile(r"(?:^|\s)([IWEF])\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ \S+:\d+\] ")
LETTER = {"I": "info", "W": "warning", "E": "error", "F": "critical"}


def test_a_real_klog_sample_takes_each_lines_header_letter() -> None:
    lines = (DATA / "klog-openshift-misc.log").read_text().splitlines()
    severity = detect_severity(pd.Series(lines, dtype="string")).tolist()
    headed = [(i, m.group(1)) for i, line in enumerate(lines) if (m := HEADER.search(line))]
    assert len(headed) >= 50 and {letter for _, letter in headed} >= {"I", "E"}
    assert [severity[i] for i, _ in headed] == [LETTER[letter] for _, letter in headed]
    # the kubelet's own errors, behind a journald prefix ("... kubenswrapper[2296]: E1110 ...")
    assert sum(severity[i] == "error" for i, _ in headed) == sum(
        letter == "E" for _, letter in headed
    )


def test_the_header_outranks_a_level_word_in_the_message_and_keys_outrank_both() -> None:
    lines = [
        'E1110 14:17:41.900391    2296 pod_workers.go:1300] "Error syncing pod, skipping"',
        "I0316 13:32:39.044104       1 budget.go:210] ERROR budget at 80 %",
        "W0524 13:15:17.126969      28 cmd.go:331] waiting",
        "F0101 00:00:00.000000       1 main.go:12] cannot start",
        "level=warn msg=x E1110 14:17:41.900391 1 a.go:1] y",
        "E1110 without a header",
        "plain ERROR",
    ]
    assert detect_severity(pd.Series(lines, dtype="string")).tolist() == [
        "error", "info", "warning", "critical", "warning", "info", "error",
    ]  # fmt: skip


# Real samples (read in place) and how each format writes its level, by its own documentation.
FORMATS = [
    # nginx error log: "[error]" (ngx_log.c err_levels)
    ("k8s/nginx-error.log", r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\]", {"error": "error"}),
    # MySQL's error log (5.x and 8): "[System]", "[Warning]", "[Note]", "[ERROR]" after the time
    # (and the thread id), the line's first bracket
    (
        "k8s/mysql-error.log",
        r"^[^\[]*\[(System|Warning|Note|ERROR)\]",
        {"System": "info", "Warning": "warning", "Note": "info", "ERROR": "error"},
    ),
    # bunyan: "level": 20 (debug), 30 (info), ...
    ("k8s/bunyan.log", r'"level":(\d+)', {"20": "debug", "30": "info"}),
    # MongoDB structured log: "s": "I" | "W" | ...
    ("k8s/mongodb-json.log", r'"s":"(\w+)"', {"I": "info", "W": "warning"}),
    # journald JSON: "PRIORITY" : "1" (alert), "6" (info)
    ("k8s/journald-json.log", r'"PRIORITY" : "(\d)"', {"1": "critical", "6": "info"}),
    # Android logcat, threadtime: "03-17 16:13:38.811  1702  2395 D WindowManager: ..."
    (
        "loghub/Android/Android_2k.log",
        r"^\d\d-\d\d [\d:.]+ +\d+ +\d+ ([VDIWEF]) ",
        {"V": "debug", "D": "debug", "I": "info", "W": "warning", "E": "error"},
    ),
    # zap's console encoder (the OpenTelemetry Collector): time, tab, level, tab
    ("k8s/zap-console.log", r"^\S+Z\t(\w+)\t", {"info": "info", "error": "error"}),
]


@pytest.mark.parametrize(
    ("name", "pattern", "meaning"), FORMATS, ids=[f[0].rsplit("/", 1)[-1] for f in FORMATS]
)
def test_real_formats_level_fields(name: str, pattern: str, meaning: dict[str, str]) -> None:
    lines = shared("data", *name.split("/")).read_text().splitlines()
    severity = detect_severity(pd.Series(lines, dtype="string")).tolist()
    levels = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.search(pattern, line))]
    assert {level for _, level in levels} == set(meaning)  # every level the sample has
    assert [severity[i] for i, _ in levels] == [meaning[level] for _, level in levels]


def test_a_klog_header_opening_the_line_is_read_as_the_regex_reads_it() -> None:
    lines = [
        "I0601 12:00:00.000000       1 controller.go:123] Reconciling",
        "E0601 12:00:00.000000 1 a.go:1] ",
        "W0601 12:00:00.00000 1 a.go:1] five fraction digits: no header",
        "F1301 12:00:00.000000 1 a.go:1] month 13 (the header's [01][0-9]): no header, FATAL",
        "Error at start",
        "I",
        'E1110 14:17:41.900391 2296 pod_workers.go:1300] "Error syncing pod"',
    ]
    text = pa.array(lines * 100, pa.large_string())
    expected = normalize._level_codes(text, normalize._LEVEL_BARE)
    assert normalize._bare_codes(text).tolist() == expected.tolist()
