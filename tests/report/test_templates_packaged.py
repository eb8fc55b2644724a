"""The postmortem templates ship in the wheel: package data covers every template file, and
the README's template example renders against a real story."""

from __future__ import annotations

import fnmatch
import re
import tomllib

from incident_timeline.report.postmortem import TEMPLATES, environment
from tests.report.test_postmortem import MANIFEST, timeline
from tests.support import ROOT


def test_package_data_covers_every_template() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["incident_timeline.report"]
    files = sorted(p.relative_to(TEMPLATES.parent).as_posix() for p in TEMPLATES.iterdir())
    assert files == ["templates/postmortem.md.j2"]
    assert all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files)
    assert "jinja2>=3.1" in config["project"]["dependencies"]


def test_the_readme_template_example_renders() -> None:
    from incident_timeline.report.story import build_story

    readme = (ROOT / "README.md").read_text()
    [example] = re.findall(r"```jinja\n(.*?)```", readme, re.DOTALL)
    text = environment().from_string(example).render(story=build_story(MANIFEST, timeline()))
    assert text.startswith("# Checkout API 5xx after v2.3.4 deploy (2026-02-17)\n")
    assert "Impact: 17 min from 2026-02-17 14:08:00 UTC." in text
    assert "| 14:01:00 | Deploy v2.3.4 by ci-bot: 14:01:00 | ci-bot |" in text
