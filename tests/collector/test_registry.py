"""Built-ins are registered the way a third party registers: through entry points, loaded only
when asked for, so one broken plugin costs only the configs that name it."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from incident_timeline.collector import registry
from incident_timeline.collector.config import load_config
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.formats import Format
from tests.support import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]


@pytest.mark.parametrize("name", sorted(PYPROJECT[registry.GROUP]))
def test_every_builtin_collector_loads(name: str) -> None:
    cls = registry.load(name)
    assert cls.name == name
    assert callable(cls.from_config)


def test_every_builtin_format_is_registered_once() -> None:
    formats = registry.formats()
    declared = [
        fmt.name
        for value in PYPROJECT[registry.FORMAT_GROUP].values()
        for fmt in registry._target(value)  # type: ignore[attr-defined]
    ]
    assert sorted(declared) == sorted(formats) and len(set(declared)) == len(declared)
    assert all(isinstance(f, Format) for f in formats.values())
    assert {"log", "kubectl-logs", "cri", "prometheus-query-range"} <= formats.keys()


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution on sys.path whose collector entry point names a module that fails."""
    info = tmp_path / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{registry.GROUP}]\nsplunk = broken_plugin_module:Collector\n"
    )
    (tmp_path / "broken_plugin_module.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_broken_plugin_fails_only_the_config_that_names_it(
    broken_plugin: Path, tmp_path: Path
) -> None:
    assert "splunk" in registry.available()
    plain = tmp_path / "plain.toml"
    plain.write_text('[[file]]\npath = "a.log"\n')
    assert load_config(plain).sources.keys() == {"file"}
    named = tmp_path / "named.toml"
    named.write_text("[splunk]\n")
    with pytest.raises(ConfigError, match=r"collector 'splunk' .* cannot be loaded: boom"):
        load_config(named)
    sys.modules.pop("broken_plugin_module", None)
