"""`cirn review ...`: the egress review from the command line, for enclave admins and the DPO.

Registered by the main CLI with `cirn.egress.service.cli.register(main)`; reading only, plus
running checks that the service has not run (for example while it is down).
"""

from __future__ import annotations

import json

import click


def register(main: click.Group) -> None:
    @main.group(name="review")
    def review() -> None:
        """Release requests of the egress review (read-only views; decisions are made in the service)."""

    @review.command("list")
    @click.option("--state", default=None, help="Only requests in this state (e.g. in_review).")
    @click.option("--project", default=None, help="Only requests of this project.")
    def list_(state, project) -> None:
        """Requests, newest first: id, project, requester, state, checks verdict, files."""
        from sqlalchemy import select

        from cirn.enclave import Enclave
        from cirn.egress.review.models import ReleaseRequest
        from cirn.egress.review.states import RequestState

        enclave = Enclave.from_env()
        with enclave.db.session() as s:
            q = select(ReleaseRequest).order_by(ReleaseRequest.id.desc())
            if state:
                q = q.where(ReleaseRequest.state == RequestState(state))
            if project:
                q = q.where(ReleaseRequest.project == project)
            for r in s.execute(q).scalars():
                click.echo(f"{r.id:>6}  {r.project:20} {r.requester:16} {r.state.value:18} {r.verdict or '…':7} "
                           f"{len(r.files)} file(s)")

    @review.command("show")
    @click.argument("request_id", type=int)
    def show(request_id) -> None:
        """One request as JSON: files, findings, decisions, comments, release."""
        from cirn.enclave import Enclave
        from cirn.egress.review.desk import ReleaseDesk
        from cirn.egress.review.permissions import Person
        from cirn.egress.service.views import request_dict

        desk = ReleaseDesk(Enclave.from_env())
        with desk.enclave.db.session() as s:
            req = desk._load(s, request_id)
            admin = Person("cirn-admin", reviewer=True)
            click.echo(json.dumps(request_dict(req, admin), indent=1, ensure_ascii=False, default=str))

    @review.command("states")
    def states() -> None:
        """The request state diagram (Mermaid), generated from the transition table."""
        from cirn.egress.review.states import mermaid

        click.echo(mermaid())

    @review.command("run-checks")
    def run_checks() -> None:
        """Run the checks of every request still `submitted` (the service does this on its own)."""
        from cirn.enclave import Enclave
        from cirn.egress.review.desk import ReleaseDesk

        desk = ReleaseDesk(Enclave.from_env())
        for rid in desk.pending_checks():
            desk.run_checks(rid)
            click.echo(f"checked request {rid}")
