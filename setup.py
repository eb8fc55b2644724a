"""Ship the bundled example incident inside the wheel, so `incident demo` works from any
install (pip, pipx), not only from a clone. Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# The demo's config and the exports it names, laid out as in the source tree so the bundle's
# refs (raw/file/examples/checkout-incident/...) are the same from a wheel as from a clone.
EXAMPLE = ("config.example.toml", "examples/checkout-incident")


class BuildPyWithExample(build_py):
    """build_py that also copies the example incident to incident_timeline/demo/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the example from the source tree
        target = Path(self.build_lib, "incident_timeline", "demo")
        for name in EXAMPLE:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithExample})
