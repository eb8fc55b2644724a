"""Issue 8 items 10 and 11 at the command line: one-line errors and no confident wrong
answers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from incident_timeline.report.cli import cli

LOG = "2026-02-17T14:05:00Z app started\n2026-02-17T14:06:00Z pool exhausted\n"


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def setup(tmp_path: Path) -> Path:
    (tmp_path / "app.log").write_text(LOG)
    config = tmp_path / "config.toml"
    config.write_text('[[file]]\npath = "app.log"\n')
    return config


def test_empty_config_is_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[incident]\ntitle = "x"\n')
    result = invoke("collect", "-c", str(config), "--last", "1h", "-o", str(tmp_path / "b"))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "no sources configured" in result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_bad_times_are_one_line_errors(tmp_path: Path) -> None:
    config = setup(tmp_path)
    for since, words in [
        ("2026-02-30 14:00 Europe/Paris", "day is out of range for month"),
        ("2026-03-29 02:30 Europe/Paris", "does not exist in Europe/Paris"),
    ]:
        result = invoke("collect", "-c", str(config), "--since", since, "-o", str(tmp_path / "b"))
        assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
        assert words in result.output  # type: ignore[attr-defined]
    result = invoke("collect", "-c", str(config), "--last", "99999999d", "-o", str(tmp_path / "b"))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.output.strip() == (  # type: ignore[attr-defined]
        "Error: --last: '99999999d' is longer than 3660 days"
    )


def test_naive_since_that_misses_every_event_says_so(tmp_path: Path) -> None:
    # The user meant 09:00 New York (14:00 UTC) but forgot --tz: nothing is in the window.
    config = setup(tmp_path)
    args = ["collect", "-c", str(config), "--since", "2026-02-17 09:00", "--until"]
    result = invoke(*args, "2026-02-17 10:00", "-o", str(tmp_path / "b"))
    assert result.exit_code == 3  # type: ignore[attr-defined]
    assert (
        "app.log: all 2 events fall outside the window; they run 2026-02-17T14:05:00Z .. "
        "2026-02-17T14:06:00Z; the window's naive times were read as UTC (if that zone is "
        "wrong, pass --tz or write a zone)"
    ) in result.output  # type: ignore[attr-defined]


def test_timeline_source_that_matches_nothing_lists_the_sources(tmp_path: Path) -> None:
    # RFC 3339 at the start of each line reads as `kubectl logs --timestamps`: source kubernetes.
    config = setup(tmp_path)
    bundle = tmp_path / "b"
    args = ["--since", "2026-02-17T14:00Z", "--until", "2026-02-17T15:00Z", "-o", str(bundle)]
    assert invoke("collect", "-c", str(config), *args).exit_code == 0  # type: ignore[attr-defined]
    result = invoke("timeline", str(bundle), "--source", "pagerdty")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.output.strip() == (  # type: ignore[attr-defined]
        f"Error: no source 'pagerdty' in {bundle}; sources present: kubernetes"
    )
