"""Turning an approved application into a project: members, grants and end date exactly as approved.

A new application creates its project; an approved amendment changes the existing one (adds
members, grants datasets or variables, moves the end date). The project store and the
application's state change in one transaction; the extracts are built after it commits, by
cirn.datasets.extracts.provision_project, which reads the grants just written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cirn import audit, projects
from cirn.enclave import Enclave

from .models import Application
from .states import ApplicationKind, Role
from .workflow import Actor, apply_transition, check_can_take, get_application, project_expiry


@dataclass(frozen=True)
class ProvisionResult:
    slug: str
    created: bool
    members_added: list[str]
    datasets: list[str]


def _apply_to_project_store(session: Session, app: Application, actor: Actor) -> ProvisionResult:
    expires = project_expiry(app.requested_end, app.irb_expires)
    who = actor.name
    if app.kind is ApplicationKind.new:
        projects.create_project(session, who, app.project_slug, app.title, expires)
        created = True
        have: set[str] = set()
    else:
        project = projects.get_project(session, app.project_slug)
        created = False
        have = {m.username for m in project.members}
        if project.expires != expires:
            before = project.expires
            project.expires = expires
            session.flush()
            audit.record(session, who, "project.expiry_changed", app.project_slug, before=before.isoformat(),
                         after=expires.isoformat(), application=app.id)
    added = []
    for username in app.everyone:
        if username not in have:
            projects.add_member(session, who, app.project_slug, username)
            added.append(username)
    for row in app.datasets:
        projects.grant(session, who, app.project_slug, row["dataset"], row["version"], row.get("columns"))
    return ProvisionResult(app.project_slug, created, added, [f"{r['dataset']}@{r['version']}" for r in app.datasets])


def prepare_workspace(enclave: Enclave, slug: str) -> None:
    """The project's shared folder, owned by the container user (uid 1000) when we may chown."""
    enclave.state.create_workspace(slug)


def provision(enclave: Enclave, app_id: int, actor: Actor, progress=None) -> ProvisionResult:
    """One action: the project store changes and the application becomes provisioned together,
    then the project's extracts are built."""
    from cirn.datasets.extracts import provision_project

    action = "auto_provision" if actor.has(Role.system) and not actor.has(Role.enclave_admin) else "provision"
    with enclave.db.session() as session:
        app = get_application(session, app_id)
        check_can_take(session, app, actor, action)
        result = _apply_to_project_store(session, app, actor)
        apply_transition(session, app, actor, action, created=result.created, members_added=result.members_added,
                         datasets=result.datasets, expires=project_expiry(app.requested_end, app.irb_expires))
    prepare_workspace(enclave, result.slug)
    provision_project(enclave, result.slug, actor.name, progress=progress)
    return result
