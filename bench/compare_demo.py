"""Compare the files two builds of ``incident demo`` wrote, byte for byte.

    (cd before && OLD/incident demo -o demo) && (cd after && NEW/incident demo -o demo)
    python bench/compare_demo.py before after

Run both from directories of their own with the same ``-o`` name, so the paths the draft
names agree. What differs between two runs of one build is masked first: collected_at
(in the manifest, the draft and the HTML page), today's timestamps and the seconds each
source took; ``report-state.json`` holds the sha256 of the draft, so it is not compared.
Exit status 1 if any file differs or exists on one side only.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

TEXT = (".json", ".md", ".html", ".csv", ".svg", ".txt", ".jsonl")


def normalized(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix not in TEXT:
        return data
    today = time.strftime("%Y-%m-%d", time.gmtime()).encode()
    data = re.sub(rb'"collected_at": "[^"]*"', b'"collected_at": "X"', data)
    data = re.sub(today + rb"[ T]\d\d:\d\d:\d\d(\.\d+)?Z?", b"<today>", data)
    data = re.sub(rb'"seconds": [0-9.]+', b'"seconds": X', data)
    return re.sub(rb"\(\d+\.\d s\)", b"(X s)", data)


def main() -> None:
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    left = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    right = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    bad = 0
    for rel in sorted(left | right):
        if rel not in left or rel not in right:
            print(f"only in {a if rel in left else b}: {rel}")
            bad += 1
        elif rel.name != "report-state.json" and normalized(a / rel) != normalized(b / rel):
            print(f"differs: {rel}")
            bad += 1
    print(f"{len(left | right)} files, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
