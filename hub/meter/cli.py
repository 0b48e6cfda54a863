"""`cirn alerts`: the volume meter's alerts and today's usage, for enclave admins at the command line."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from cirn.enclave import Enclave

from . import accounting


def register(main: click.Group) -> None:
    from cirn.cli import CirnGroup, actor, parse_date

    @main.group(cls=CirnGroup)
    def alerts() -> None:
        """Volume alerts: users whose servers sent more to the browser than the policy's daily levels."""

    @alerts.command("list")
    @click.option("--open", "open_only", is_flag=True, help="Only alerts not yet resolved.")
    @click.option("--day", callback=parse_date, default=None, help="Only alerts of this UTC day, YYYY-MM-DD.")
    @click.pass_obj
    def alerts_list(enclave: Enclave, open_only: bool, day) -> None:
        """List alerts, newest first, with the suspended memberships they caused."""
        table = Table("#", "at (UTC)", "level", "user", "project", "that day", "resolved", "message")
        with enclave.db.session() as s:
            rows = accounting.list_alerts(s, open_only, day)
            for a in rows:
                table.add_row(str(a.id), a.at.isoformat(timespec="seconds"), a.level, a.username, a.project,
                              accounting.mib(a.bytes), f"{a.resolved_by} {a.resolved_at:%Y-%m-%d %H:%M}"
                              if a.resolved_at else "", a.message)
        if rows:
            Console(width=200).print(table)
        else:
            click.echo("no alerts")

    @alerts.command("reinstate")
    @click.argument("slug")
    @click.argument("user")
    @click.pass_obj
    def alerts_reinstate(enclave: Enclave, slug: str, user: str) -> None:
        """Lift the suspension of USER in project SLUG (the alerts that caused it are resolved)."""
        with enclave.db.session() as s:
            accounting.reinstate(s, actor(), slug, user)
        click.echo(f"{user} reinstated in {slug}")
