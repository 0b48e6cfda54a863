"""`cirn egress ...`: the egress checks at the command line (contract: ARCHITECTURE.md,
"Contract: `cirn egress scan`"). Exit status 0 pass, 10 review, 20 block; 2 for a usage or
configuration error and 3 for an input that cannot be read, each with one line on stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cirn.errors import CirnError

EXIT_USAGE = 2
EXIT_UNREADABLE = 3
# Written by provisioning into the project folder: the project's pseudonyms, one per line.
PROJECT_IDENTIFIERS = "egress-identifiers.txt"


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class OneLineErrors(click.Command):
    """Usage errors as one line on stderr (the contract), not click's usage block."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            click.echo(f"error: {exc.format_message()} (see `cirn egress scan --help`)", err=True)
            ctx.exit(EXIT_USAGE)


def project_identifiers_file(environ: dict) -> Path | None:
    """Inside a project context (CIRN_PROJECT set), the project's own pseudonyms list."""
    slug = environ.get("CIRN_PROJECT")
    if not slug:
        return None
    from cirn.state import StateFolder
    path = StateFolder.from_env(environ).project_dir(slug) / PROJECT_IDENTIFIERS
    return path if path.is_file() else None


def hold_without_identifier_list(report, project: str) -> None:
    """In a project context whose identifier list is missing, every file gets the `review`
    finding the review service gives it (cirn.egress.review.identifier_list), so a scan
    without the project's pseudonyms never reports `pass`."""
    from cirn.egress.checks import Finding, Verdict
    from cirn.egress.review.identifier_list import missing_list_finding

    f = missing_list_finding(project)
    for fr in report.files:
        if "!/" not in fr.path:
            fr.findings.append(Finding(f["check"], Verdict.REVIEW, f["location"], f["message"]))


def render_text(report) -> str:
    lines = [f"overall: {report.verdict.label.upper()} ({len(report.files)} files)"]
    for fr in report.files:
        lines.append(f"{fr.verdict.label.upper():6} {fr.path} [{fr.kind}]")
        for f in fr.findings:
            lines.append(f"    {f.severity.label:6} {f.check:38} {f.location}: {f.message}")
    return "\n".join(lines)


def register(main: click.Group) -> None:
    """Add the `egress` group and its `scan` command to the main `cirn` CLI."""

    @main.group(name="egress")
    def egress() -> None:
        """Egress checks: what may leave the enclave."""

    @egress.command("scan", cls=OneLineErrors)
    @click.option("--policy", "policy_file", default=None, metavar="FILE",
                  help="Enclave policy YAML (default: $CIRN_POLICY or the shipped policies/enclave.yaml).")
    @click.option("--identifiers", "identifiers_file", default=None, metavar="FILE",
                  help="Identifiers that must never leave, one per line. Default: the project's "
                       "pseudonyms when CIRN_PROJECT names a provisioned project, else none.")
    @click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True,
                  help="json prints exactly one JSON object on stdout.")
    @click.argument("paths", nargs=-1, required=True, metavar="PATH...")
    def scan(policy_file, identifiers_file, fmt, paths) -> None:
        """Check files, folders and archives for re-identification risk before release.

        Exit status: 0 pass, 10 review, 20 block; 2 usage or policy error; 3 unreadable input.
        """
        from cirn.egress.checks import IdentifierSet, ScanInputError, scan_paths
        from cirn.policies import load_policy

        try:
            policy = load_policy(policy_file or os.environ.get("CIRN_POLICY") or None).egress
        except ValueError as exc:
            _fail(str(exc), EXIT_USAGE)
        missing_list_of = None
        if identifiers_file is None:
            identifiers_file = project_identifiers_file(dict(os.environ))
            if identifiers_file is None and os.environ.get("CIRN_PROJECT"):
                missing_list_of = os.environ["CIRN_PROJECT"]  # held below, never passed silently
        try:
            identifiers = IdentifierSet.from_file(identifiers_file) if identifiers_file else IdentifierSet.empty()
        except CirnError as exc:
            _fail(str(exc), EXIT_USAGE)
        try:
            report = _scan_with_progress(scan_paths, paths, policy, identifiers)
        except ScanInputError as exc:
            _fail(str(exc), EXIT_UNREADABLE)
        except CirnError as exc:  # e.g. the policy's NER model is not installed
            _fail(str(exc), EXIT_USAGE)
        if missing_list_of:
            hold_without_identifier_list(report, missing_list_of)
        if fmt == "json":
            click.echo(report.to_json())
        else:
            click.echo(render_text(report))
        sys.exit(report.exit_code)


def _scan_with_progress(scan_paths, paths, policy, identifiers):
    """A spinner with the current file on a terminal; silent when stderr is a pipe or file.
    The files are checked in one worker process (policy egress.sandbox) unless the policy says not to."""
    from contextlib import nullcontext

    from cirn.egress.checks import ScanSandbox

    with ScanSandbox(policy, workers=1) if policy.sandbox.enabled else nullcontext() as sandbox:
        if not sys.stderr.isatty():
            return scan_paths(paths, policy, identifiers, sandbox=sandbox)
        from rich.console import Console
        console = Console(stderr=True)
        with console.status("scanning") as status:
            return scan_paths(paths, policy, identifiers, sandbox=sandbox,
                              on_file=lambda p: status.update(f"scanning {p}"))
