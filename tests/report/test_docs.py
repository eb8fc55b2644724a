"""Docs that can drift are generated or tested: every command has help, and the README's
command reference is the commands' own --help."""

from __future__ import annotations

import os

import click
from click.testing import CliRunner

from incident_timeline.report.cli import cli
from tests.support import ROOT

START = (
    "<!-- generated from --help by tests/test_docs.py; "
    "UPDATE_README=1 python -m pytest tests/test_docs.py -->"
)
END = "<!-- end of command reference -->"


def reference() -> str:
    runner = CliRunner()
    parts = []
    names: list[str | None] = [None]
    for name in sorted(cli.commands):
        group = cli.commands[name]
        names.append(name)
        if isinstance(group, click.Group):
            names += [f"{name} {sub}" for sub in sorted(group.commands)]
    for name in names:
        args = [*name.split(), "--help"] if name else ["--help"]
        result = runner.invoke(cli, args, prog_name="incident", terminal_width=100)
        assert result.exit_code == 0, result.output
        parts.append(f"### `incident{' ' + name if name else ''}`\n\n```\n{result.output}```\n")
    return "\n".join(parts)


def test_every_command_has_help_with_examples() -> None:
    commands = dict(cli.commands)
    for name, group in cli.commands.items():
        if isinstance(group, click.Group):
            commands |= {f"{name} {sub}": c for sub, c in group.commands.items()}
    for name, command in commands.items():
        assert isinstance(command, click.Command)
        assert command.help and len(command.help) > 40, name
        if name != "demo":
            assert "Example" in command.help, name


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert block == [
        "pip install -e . && incident demo",
        "pip install -e '.[test]' && python -m pytest",
    ]
    assert block[1] in (ROOT / ".ci/run").read_text()


def test_readme_command_reference_is_current() -> None:
    text = (ROOT / "README.md").read_text()
    head, rest = text.split(START + "\n", 1)
    _, tail = rest.split(END, 1)
    wanted = f"{head}{START}\n{reference()}{END}{tail}"
    if os.environ.get("UPDATE_README"):
        (ROOT / "README.md").write_text(wanted)
        return
    assert text == wanted, (
        "README command reference is stale: UPDATE_README=1 python -m pytest tests/test_docs.py"
    )
