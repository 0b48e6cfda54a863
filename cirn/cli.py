"""The `cirn` command line: one verb per task; user errors become one readable line at this boundary."""

from __future__ import annotations

import datetime as dt
import getpass
import sys

import click
from rich.console import Console
from rich.table import Table

from . import audit, projects
from .enclave import Enclave
from .errors import CirnError
from .state import InvalidName

console = Console()


def actor() -> str:
    """Who is acting at the command line: the admin's login name, recorded in the audit log."""
    try:
        return f"admin:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "admin:unknown"


class CirnGroup(click.Group):
    """Turns the errors a user can cause into `error: ...` and exit status 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (CirnError, InvalidName, ValueError) as exc:
            if isinstance(exc, click.ClickException):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


def parse_date(_ctx, _param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


@click.group(cls=CirnGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """CIRN enclave administration. State lives in $CIRN_HOME (default ./.cirn)."""
    ctx.obj = Enclave.from_env()


@main.command()
@click.pass_obj
def init(enclave: Enclave) -> None:
    """Create the state folder and the database (safe to run again)."""
    enclave.init()
    with enclave.db.session() as s:
        audit.record(s, actor(), "enclave.initialised", str(enclave.state.root))
    click.echo(f"state folder ready at {enclave.state.root}")


@main.group(cls=CirnGroup)
def project() -> None:
    """Projects, their members and their dataset grants."""


@project.command("create")
@click.argument("slug")
@click.option("--title", required=True, help="Human-readable project title.")
@click.option("--expires", required=True, callback=parse_date, help="Last day of access, YYYY-MM-DD.")
@click.option("--profile", "resource_profile", default=None, help="Resource profile from the policy.")
@click.pass_obj
def project_create(enclave: Enclave, slug, title, expires, resource_profile) -> None:
    """Create an active project SLUG."""
    if resource_profile and resource_profile not in enclave.policy.resources.profiles:
        raise click.BadParameter(f"unknown resource profile {resource_profile!r}; the policy has "
                                 f"{', '.join(sorted(enclave.policy.resources.profiles))}")
    with enclave.db.session() as s:
        projects.create_project(s, actor(), slug, title, expires, resource_profile)
    enclave.state.create_workspace(slug)
    enclave.state.project_data(slug).mkdir(parents=True, exist_ok=True)
    click.echo(f"project {slug} created, expires {expires.isoformat()}")


@project.command("add-member")
@click.argument("slug")
@click.argument("user")
@click.pass_obj
def project_add_member(enclave: Enclave, slug, user) -> None:
    """Add USER to project SLUG."""
    with enclave.db.session() as s:
        projects.add_member(s, actor(), slug, user)
    click.echo(f"{user} added to {slug}")


@project.command("remove-member")
@click.argument("slug")
@click.argument("user")
@click.pass_obj
def project_remove_member(enclave: Enclave, slug, user) -> None:
    """Remove USER from project SLUG (their running server is stopped by the reconciler)."""
    with enclave.db.session() as s:
        projects.remove_member(s, actor(), slug, user)
    click.echo(f"{user} removed from {slug}")


@project.command("grant")
@click.argument("slug")
@click.argument("dataset")
@click.option("--columns", default=None, help="Comma-separated variables to grant (default: all).")
@click.pass_obj
def project_grant(enclave: Enclave, slug, dataset, columns) -> None:
    """Grant DATASET[@VERSION] to project SLUG (latest version if none is named)."""
    from .catalog_bridge import resolve_dataset
    dataset_id, version = projects.parse_dataset_ref(dataset)
    version = resolve_dataset(enclave, dataset_id, version)
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    with enclave.db.session() as s:
        projects.grant(s, actor(), slug, dataset_id, version, cols)
    click.echo(f"{dataset_id}@{version} granted to {slug}; run `cirn project provision {slug}` to build its extract")


@project.command("revoke")
@click.argument("slug")
@click.argument("dataset")
@click.pass_obj
def project_revoke(enclave: Enclave, slug, dataset) -> None:
    """Revoke DATASET from project SLUG and remove its extract."""
    import shutil
    dataset_id, _ = projects.parse_dataset_ref(dataset)
    with enclave.db.session() as s:
        projects.revoke(s, actor(), slug, dataset_id)
    extract = enclave.state.project_data(slug) / dataset_id
    if extract.exists():
        _make_writable(extract)
        shutil.rmtree(extract)
    click.echo(f"{dataset_id} revoked from {slug}")


def _make_writable(path) -> None:
    import os
    for root, dirs, _files in os.walk(path):
        os.chmod(root, 0o755)
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)


for _action in ("suspend", "resume", "close"):
    def _make(action: str):
        @click.argument("slug")
        @click.pass_obj
        def _cmd(enclave: Enclave, slug) -> None:
            with enclave.db.session() as s:
                p = projects.change_status(s, actor(), slug, action)
            click.echo(f"project {slug} is now {p.status.value}")
        _cmd.__doc__ = f"{action.capitalize()} project SLUG."
        return project.command(action)(_cmd)
    _make(_action)


@project.command("list")
@click.pass_obj
def project_list(enclave: Enclave) -> None:
    """List projects with their status, expiry, members and grants."""
    table = Table("slug", "title", "status", "expires", "members", "grants")
    with enclave.db.session() as s:
        for p in projects.list_projects(s):
            table.add_row(p.slug, p.title, p.status.value, p.expires.isoformat(),
                          ", ".join(m.username for m in p.members),
                          ", ".join(f"{g.dataset_id}@{g.version}" for g in p.grants))
    console.print(table)


@project.command("show")
@click.argument("slug")
@click.pass_obj
def project_show(enclave: Enclave, slug) -> None:
    """Show one project."""
    with enclave.db.session() as s:
        p = projects.get_project(s, slug)
        click.echo(f"slug:     {p.slug}\ntitle:    {p.title}\nstatus:   {p.status.value}\n"
                   f"expires:  {p.expires.isoformat()}\nprofile:  {p.resource_profile or enclave.policy.resources.default_profile}")
        click.echo("members:  " + (", ".join(m.username for m in p.members) or "(none)"))
        for g in p.grants:
            click.echo(f"grant:    {g.dataset_id}@{g.version}" + (f" columns={g.columns}" if g.columns else ""))


@main.group(cls=CirnGroup, name="audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.pass_obj
def audit_verify(enclave: Enclave) -> None:
    """Check that no audit event was edited or removed."""
    with enclave.db.session() as s:
        problem = audit.verify(s)
        count = s.query(audit.AuditEvent).count()
    if problem:
        click.echo(f"audit log broken: {problem}", err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {count} events")


@audit_group.command("export")
@click.option("--since", callback=parse_date, default=None, help="First day to include, YYYY-MM-DD.")
@click.pass_obj
def audit_export(enclave: Enclave, since) -> None:
    """Print the audit log as CSV."""
    start = dt.datetime.combine(since, dt.time()) if since else None
    with enclave.db.session() as s:
        click.echo(audit.export_csv(s, start), nl=False)


def _register_optional_groups() -> None:
    """Parts that live in their own folders add their command groups here."""
    from cirn.hub.cli import register as register_hub
    register_hub(main)
    from cirn.datasets.cli import register as register_datasets
    register_datasets(main)
    from cirn.egress.cli import register as register_egress
    register_egress(main)
    from cirn.egress.service.cli import register as register_review
    register_review(main)
    from cirn.hub.meter.cli import register as register_alerts
    register_alerts(main)


_register_optional_groups()
