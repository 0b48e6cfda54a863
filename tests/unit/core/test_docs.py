"""Documentation is tested against the code: every `cirn` command is named in README.md."""

from pathlib import Path

import click

from cirn.cli import main

README = Path(__file__).resolve().parents[3] / "README.md"


def command_paths(group: click.Group, prefix: str = "cirn") -> list[str]:
    paths = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            paths.extend(command_paths(cmd, path))
        else:
            paths.append(path)
    return paths


def test_every_command_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    missing = [p for p in command_paths(main) if p not in text
               and not _documented_as_alternative(p, text)]
    assert not missing, "undocumented commands (add them to README.md): " + ", ".join(missing)


def _documented_as_alternative(path: str, text: str) -> bool:
    """`cirn project suspend|resume|close` or `cirn audit verify | export` document several at once."""
    parent, _, name = path.rpartition(" ")
    for line in text.splitlines():
        if parent + " " not in line:
            continue
        rest = line.split(parent + " ", 1)[1].split("#")[0]
        for piece in rest.split(" | "):
            words = piece.split()
            if words and name in words[0].split("|"):
                return True
    return False
