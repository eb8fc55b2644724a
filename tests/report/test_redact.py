"""Redaction: every kind of secret is masked in every shared output, consistently, and the
identifiers a timeline needs (UUIDs, git shas, trace ids) are kept."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.report.redact import Redactor, pattern_rules, screen
from tests.report.planted import KEEP, SECRETS, build
from tests.support import cli


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("planted"))


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def lost(text: str) -> list[str]:
    return [name for name, value in KEEP.items() if value not in text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123def456", "Authorization: Bearer «secret-1»"),
        (
            '"Authorization": "Token token=y_NbAkKc66ryYTWUXYEu"',
            '"Authorization": "Token token=«secret-1»"',
        ),
        ("password=hunter2 user=bob", "password=«secret-1» user=bob"),
        ('{"db_password": "a \\"b\\" c"}', '{"db_password": "«secret-1»"}'),
        ("secret='x y z' next", "secret='«secret-1»' next"),
        ("GET /x?api_key=k123&page=2", "GET /x?api_key=«secret-1»&page=2"),
        ("redis://:p@ss&w0rd!@cache:6379", "redis://:p@ss&w0rd!@cache:6379"),  # no user: kept
        ("redis://default:pa&ss!@cache:6379", "redis://default:«secret-1»@cache:6379"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key «secret-1» used"),
        ("xoxp-1234-5678-abcdef tail", "«secret-1» tail"),
        ("password=null token=true", "password=null token=true"),
        ("max_tokens=100 token_count=5", "max_tokens=100 token_count=5"),
        (  # already masked by the collector
            "token=<secret masked by incident-timeline> ok",
            "token=<secret masked by incident-timeline> ok",
        ),
    ],
)
def test_each_rule_masks_just_the_secret(text: str, expected: str) -> None:
    assert Redactor.default().text(text) == expected


def test_the_same_secret_gets_the_same_placeholder_everywhere() -> None:
    r = Redactor.default()
    first = r.text("login password=hunter2-prod token=t0k3n-abc")
    second = r.text("retry with token=t0k3n-abc then hunter2-prod again")
    assert first == "login password=«secret-1» token=«secret-2»"
    # The bare repeat is masked too: the secret was already known.
    assert second == "retry with token=«secret-2» then «secret-1» again"
    assert r.text(second) == second  # placeholders are never masked again


def test_a_private_key_block_keeps_its_line_count() -> None:
    block = (
        "a\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
        "-----END OPENSSH PRIVATE KEY-----\nz"
    )
    assert Redactor.default().text(block) == "a\n«secret-1»\n\n\nz"


def test_lookalikes_are_not_masked() -> None:
    text = " ".join(f"{k}={v}" for k, v in KEEP.items())
    text += (
        f" traceparent: 00-{KEEP['trace-id']}-{KEEP['span-id']}-01 pod=checkout-api-5c9d7f6b8-hmlh4"
    )
    assert Redactor.default().text(text) == text


def test_config_patterns_mask_their_group_and_bad_ones_are_named() -> None:
    r = Redactor([*pattern_rules([r"card=(\d{4})\d+"])])
    assert r.text("card=1234567") == "card=«secret-1»567"
    with pytest.raises(ValueError, match=r"redact.patterns\[0\]: '\(' is not a valid regex"):
        pattern_rules(["("])


def test_only_rows_passing_the_screen_are_touched() -> None:
    values = pd.Series(["plain line", "token=abc12345", None, "nothing here"], dtype="string")
    assert screen(values, Redactor.default().hint()).tolist() == [False, True, False, False]
    out = Redactor.default().series(values)
    assert out.tolist()[1] == "token=«secret-1»" and out.isna().tolist()[2]


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [
        ("table", "txt"),
        ("md", "md"),
        ("csv", "csv"),
        ("jsonl", "jsonl"),
        ("parquet", "parquet"),
        ("html", "html"),
        ("timesketch", "csv"),
        ("timesketch", "jsonl"),
    ],
)
def test_no_secret_survives_in_any_timeline_format(
    planted: Path, fmt: str, suffix: str, tmp_path: Path
) -> None:
    out = tmp_path / f"timeline.{suffix}"
    cli(["timeline", str(planted), "--format", fmt, "-o", str(out)])
    text = pd.read_parquet(out).to_csv() if fmt == "parquet" else out.read_text()
    if fmt == "html":  # the data block escapes < > &: read it as the browser will
        text = json.loads(text.split('id="timeline-data">', 1)[1].split("</script>", 1)[0])
        text = json.dumps(text, ensure_ascii=False)
    assert leaked(text) == []
    assert "«secret-1»" in text
    if fmt != "table":  # the terminal table cuts long summaries
        assert lost(text) == []


def test_no_redact_keeps_everything(planted: Path) -> None:
    out = cli(["timeline", str(planted), "--format", "csv", "--no-redact"]).output
    assert leaked(out) == list(SECRETS)
    assert "«secret-" not in out


def test_the_numbering_does_not_depend_on_filters(planted: Path) -> None:
    whole = cli(["timeline", str(planted), "--format", "jsonl"]).output
    notes = cli(["timeline", str(planted), "--format", "jsonl", "--source", "pagerduty"]).output
    [note] = [json.loads(line) for line in notes.splitlines()]
    assert note["summary"] in whole
    assert note["summary"].endswith("Authorization: Bearer «secret-4»")


def test_no_secret_survives_in_the_report(planted: Path, tmp_path: Path) -> None:
    cli(["report", str(planted), "-o", str(tmp_path / "pm.md"), "--html", str(tmp_path / "r.html")])
    text = (tmp_path / "pm.md").read_text()
    assert leaked(text) == []
    assert "«secret-" in text
    page = (tmp_path / "r.html").read_text()
    data = page.split('id="timeline-data">', 1)[1].split("</script>", 1)[0]
    assert leaked(page) == [] and leaked(json.dumps(json.loads(data), ensure_ascii=False)) == []
    for svg in (planted / "figures").glob("*.svg"):  # figure labels (the PNGs: same text)
        assert leaked(svg.read_text()) == [], svg.name


def test_the_scrubbed_bundle_has_no_secret_and_fresh_checksums(
    planted: Path, tmp_path: Path
) -> None:
    share = tmp_path / "share"
    result = cli(["bundle", "scrub", str(planted), "-o", str(share)])
    assert result.output == f"Scrubbed copy: {share} (20 distinct secrets masked)\n"
    manifest = json.loads((share / "manifest.json").read_text())
    for rel, info in manifest["files"].items():
        data = (share / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], rel
        assert len(data) == info["bytes"], rel
        text = (
            pd.read_parquet(share / rel).to_csv()
            if rel.endswith(".parquet")
            else (gzip.decompress(data) if rel.endswith(".gz") else data).decode()
        )
        assert leaked(text) == [], rel
    assert leaked((share / "manifest.json").read_text()) == []
    scrubbed = manifest["scrubbed"]
    assert scrubbed["secrets"] == 20 and "private-key-block" in scrubbed["rules"]
    assert scrubbed["rules"][-1] == "pattern-1" and scrubbed["masked"]["pattern-1"] == 1
    logs = (share / "raw/file/exports/logs.txt").read_text().splitlines()
    original = (planted / "raw/file/exports/logs.txt").read_text().splitlines()
    assert len(logs) == len(original)  # every #L<line> ref still points at its line
    assert lost("\n".join(logs)) == []
    # The copy is a bundle: its timeline is the original's, already masked.
    again = cli(["timeline", str(share), "--format", "csv"]).output
    assert again == cli(["timeline", str(planted), "--format", "csv"]).output
    assert (planted / "raw/file/exports/logs.txt").read_text().count(SECRETS["bearer"]) == 1


def test_scrub_refuses_to_overwrite(planted: Path) -> None:
    result = cli(["bundle", "scrub", str(planted), "-o", str(planted)], exit_code=1)
    assert result.output == (
        f"Error: {planted}: scrub writes a copy; choose another output directory\n"
    )


def test_the_redact_table_is_checked(tmp_path: Path) -> None:
    from incident_timeline.collector.config import load_config
    from incident_timeline.collector.errors import ConfigError

    path = tmp_path / "c.toml"
    source = '[[file]]\npath = "x.log"\n'
    path.write_text(source + "[redact]\npatterns = ['token-(?P<secret>[a-z]+)']\n")
    assert load_config(path).redact.patterns == ["token-(?P<secret>[a-z]+)"]
    path.write_text(source + "[redact]\npatterns = ['(']\n")
    with pytest.raises(ConfigError, match=r"c.toml: redact.patterns\[0\]: '\(' is not a regex"):
        load_config(path)
    path.write_text(source + "[redact]\npattern = []\n")
    with pytest.raises(ConfigError, match=r"unknown key redact.pattern \(did you mean"):
        load_config(path)


def test_a_long_text_masks_known_secrets_on_every_line() -> None:
    r = Redactor.default()
    assert r.text("password=hunter2-prod") == "password=«secret-1»"
    lines = [f"line {i} ok" for i in range(20_000)]
    lines[7] = "bare hunter2-prod here"
    lines[-1] = "and password=s3cond-one"
    out = r.text("\n".join(lines)).split("\n")
    assert len(out) == 20_000
    assert (out[7], out[-1], out[8]) == (
        "bare «secret-1» here",
        "and password=«secret-2»",
        "line 8 ok",
    )
