from __future__ import annotations

from pathlib import Path

import pytest

from incident_timeline.collector import registry
from incident_timeline.collector.config import load_config
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.files.collector import FileCollector
from tests.support import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def load(path: Path):  # type: ignore[no-untyped-def]
    return load_config(path)


def test_example_config_loads_and_documents_every_key() -> None:
    config = load(ROOT / "config.example.toml")
    assert config.incident.title == "Checkout API 5xx after v2.3.4 deploy"
    files = config.sources["file"]
    assert isinstance(files, FileCollector)
    assert len(files.files) == 10
    text = (ROOT / "config.example.toml").read_text()
    import dataclasses

    from incident_timeline.collector.chat.collector import ChatSettings
    from incident_timeline.collector.config import IncidentSettings
    from incident_timeline.collector.files.collector import FileSource
    from incident_timeline.collector.pagerduty.settings import PagerDutySettings

    for cls in (IncidentSettings, FileSource, PagerDutySettings, ChatSettings):
        for field in dataclasses.fields(cls):
            assert f"{field.name} " in text or f"#   {field.name}" in text, field.name


def test_misspelt_key_is_named_with_file_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, '[incident]\ntitel = "x"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: unknown key incident.titel (did you mean 'title'?)")


def test_unknown_key_in_file_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[[file]]\npath = "a.log"\nformt = "log"\n')
    with pytest.raises(
        ConfigError, match=r"unknown key file\[0\]\.formt \(did you mean 'format'\?\)"
    ):
        load(path)


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "[[file]]\npath = 3\n")
    with pytest.raises(ConfigError, match=r"file\[0\]\.path must be a string, not int 3"):
        load(path)


def test_missing_required(tmp_path: Path) -> None:
    path = write(tmp_path, '[[file]]\nformat = "log"\n')
    with pytest.raises(ConfigError, match=r"missing required key file\[0\]\.path"):
        load(path)


def test_unknown_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[incidnet]\ntitle = "x"\n')
    with pytest.raises(
        ConfigError, match=r"unknown table \[incidnet\] \(did you mean 'incident'\?\)"
    ):
        load(path)


def test_file_must_be_array_of_tables(tmp_path: Path) -> None:
    path = write(tmp_path, '[file]\npath = "a.log"\n')
    with pytest.raises(ConfigError, match=r"write \[\[file\]\], not \[file\]"):
        load(path)


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[incident]\ntoken = "s3cr3t"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert "token_env" in str(err.value) and "s3cr3t" not in str(err.value)


def test_secrets_in_headers_or_urls_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[incident]\n[incident.headers]\nAuthorization = "Bearer abc"\n')
    with pytest.raises(ConfigError, match=r"incident\.headers\.Authorization holds a secret"):
        load(path)
    path = write(tmp_path, '[[file]]\npath = "https://bob:hunter2@example.com/x"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert "file[0].path has a password in its URL" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_bad_values(tmp_path: Path) -> None:
    cases = {
        '[incident]\ntimezone = "Mars/Olympus"\n': "incident.timezone: unknown time zone",
        '[[file]]\npath = "a"\nformat = "csv"\n': "file[0].format 'csv' is not one of",
        '[[file]]\npath = "a"\nthreshold = "over 5"\n': "file[0].threshold: 'over 5' is not",
        '[incident]\nmax_window = "a week"\n': "incident.max_window: 'a week' is not a duration",
        "[incident\n": "not valid TOML",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError) as err:
            load(write(tmp_path, text))
        assert message in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "nope.toml")


def test_builtin_collectors_load_through_entry_points() -> None:
    assert "file" in registry.available()
    assert registry.load("file") is FileCollector
    with pytest.raises(ConfigError, match="no collector named 'splunk'"):
        registry.load("splunk")


# Issue 8 items 4, 10 and 11: values that cannot work are config errors naming the key.
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[prometheus]\nurl = "http://p:9090"\ntimeout = -1\n',
            "prometheus.timeout must be a positive number, not -1",
        ),
        (
            '[prometheus]\nurl = "http://p:9090"\nretries = -5\n',
            "prometheus.retries must be 0 or more, not -5",
        ),
        (
            '[alertmanager]\nurl = "http://a:9093"\nbudget = 0\n',
            "alertmanager.budget must be a positive number, not 0",
        ),
        (
            '[prometheus]\nurl = "http://p:9090"\nca_file = "ca.pem"\n',
            "prometheus.ca_file: no such file ",
        ),
        (
            '[prometheus]\nurl = "http://p:9090/api/v1"\n',
            "prometheus.url 'http://p:9090/api/v1' ends in /api/v1: use the base URL, e.g. 'http://p:9090'",
        ),
        (
            '[incident]\nmax_window = "99999999d"\n[[file]]\npath = "a"\n',
            "incident.max_window: '99999999d' is longer than 3660 days",
        ),
        (
            '[prometheus]\nurl = "http://p:9090"\nstep = "99999999d"\n',
            "prometheus.step: '99999999d' is longer than 3660 days",
        ),
        (
            '[incident]\nsource_budget = "soon"\n[[file]]\npath = "a"\n',
            "incident.source_budget: 'soon' is not a duration",
        ),
    ],
)
def test_limits_that_cannot_work(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert message in str(err.value)


def test_a_config_without_sources_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, '[incident]\ntitle = "x"\n'))
    assert "no sources configured; add a table per source, e.g. [prometheus] or [[file]]" in str(
        err.value
    )


def test_one_list_of_secret_words_for_keys_and_headers() -> None:
    from incident_timeline.collector.secrets import is_secret_header, is_secret_key

    assert [is_secret_key(k) for k in ("token", "password", "routing_key", "url")] == [
        True,
        True,
        True,
        False,
    ]
    assert [is_secret_header(h) for h in ("Authorization", "X-Api-Key", "Private-Token")] == [
        True,
        True,
        True,
    ]
    assert not is_secret_header("X-Scope-OrgID")


def test_example_live_tables_load_when_uncommented(tmp_path: Path) -> None:
    import re

    text = (ROOT / "config.example.toml").read_text()
    for table in ("pagerduty", "chat"):
        block = text.split(f"# [{table}]", 1)[1].split("\n\n", 1)[0]
        keys = [line[2:] for line in block.splitlines() if re.match(r"^# [a-z_]+ = ", line)]
        config = load(write(tmp_path, "\n".join([f"[{table}]", *keys])))
        assert list(config.sources) == [table]
