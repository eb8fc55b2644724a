"""The wheel is a complete product: built with `python -m build`, installed into a fresh venv and
run from another directory, it has the demo and nothing generic at the top of site-packages."""

from __future__ import annotations

import site
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.support import ROOT


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "incident_timeline." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("collector", "timeline", "report")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_sdist_carries_the_example_and_the_config(dist: Path) -> None:
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"config.example.toml", "setup.py", "examples/checkout-incident/truth.json"} <= names


def test_wheel_installs_alone_and_runs_the_demo_anywhere(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("*.whl")
    venv = tmp_path / "venv"
    # The fresh venv sees the already-installed dependencies, not this source tree.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Run from a venv, the dependencies are in that venv's site-packages, which a venv made
    # from it does not see: add them by path (no .pth inside runs, so not the editable install).
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent = [p for p in site.getsitepackages() if not p.startswith(sys.base_prefix)]
    (Path(purelib) / "parent-deps.pth").write_text("".join(p + "\n" for p in parent))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=elsewhere, capture_output=True, text=True, check=False)

    assert "No module named 'collector'" in run(str(python), "-c", "import collector").stderr
    assert run(str(python), "-c", "import incident_timeline.collector.registry").returncode == 0
    done = run(str(venv / "bin" / "incident"), "demo", "-o", "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = (elsewhere / "demo" / "timeline.md").read_text()
    assert "| 2026-02-17 14:16:47 | pagerduty | page_ack | Alice Chen |" in timeline
