"""Hub-side commands of the `cirn` tool (images, up, demo) are registered from here."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    pass
