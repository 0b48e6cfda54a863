"""The project store: creating projects, members and grants, status changes, and who may spawn.

Every change writes an audit event in the same transaction. Status changes follow the
TRANSITIONS table; `check_can_spawn` is the one place that decides whether a user may start a
project's server, and the hub and the reconciler both ask it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from . import audit
from .errors import Conflict, NotFound, Refused
from .models import Grant, Member, MemberStatus, Project, ProjectStatus
from .state import check_dataset_id, check_slug

# (from status, action) -> (to status, audit action). Anything not listed is refused.
TRANSITIONS: dict[tuple[ProjectStatus, str], tuple[ProjectStatus, str]] = {
    (ProjectStatus.active, "suspend"): (ProjectStatus.suspended, "project.suspended"),
    (ProjectStatus.suspended, "resume"): (ProjectStatus.active, "project.resumed"),
    (ProjectStatus.active, "close"): (ProjectStatus.closed, "project.closed"),
    (ProjectStatus.suspended, "close"): (ProjectStatus.closed, "project.closed"),
}


# A member's own access to one project, apart from the project's status: (from, action) -> (to, audit action).
MEMBER_TRANSITIONS: dict[tuple[MemberStatus, str], tuple[MemberStatus, str]] = {
    (MemberStatus.active, "suspend"): (MemberStatus.suspended, "project.member_suspended"),
    (MemberStatus.suspended, "reinstate"): (MemberStatus.active, "project.member_reinstated"),
}


def get_project(session: Session, slug: str) -> Project:
    project = session.execute(
        select(Project).where(Project.slug == slug).options(selectinload(Project.members), selectinload(Project.grants))
    ).scalar_one_or_none()
    if project is None:
        raise NotFound(f"project {slug!r} does not exist (see `cirn project list`)")
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.execute(
        select(Project).order_by(Project.slug).options(selectinload(Project.members), selectinload(Project.grants))
    ).scalars())


def projects_of(session: Session, username: str) -> list[Project]:
    """Projects the user is a member of, whatever their status (the UI says which are usable)."""
    return list(session.execute(
        select(Project).join(Member).where(Member.username == username).order_by(Project.slug)
        .options(selectinload(Project.grants))
    ).scalars())


def create_project(session: Session, actor: str, slug: str, title: str, expires: dt.date,
                   resource_profile: str | None = None) -> Project:
    check_slug(slug)
    if not title.strip():
        raise Conflict("a project needs a title: pass --title")
    if session.execute(select(Project.id).where(Project.slug == slug)).first():
        raise Conflict(f"project {slug!r} already exists; choose another slug")
    project = Project(slug=slug, title=title.strip(), expires=expires, status=ProjectStatus.active,
                      resource_profile=resource_profile)
    session.add(project)
    session.flush()
    audit.record(session, actor, "project.created", slug, title=project.title, expires=expires.isoformat(),
                 resource_profile=resource_profile)
    return project


def add_member(session: Session, actor: str, slug: str, username: str) -> Member:
    project = get_project(session, slug)
    username = username.strip()
    if not username:
        raise Conflict("a member needs a user name")
    if any(m.username == username for m in project.members):
        raise Conflict(f"{username!r} is already a member of {slug!r}")
    member = Member(project=project, username=username)
    session.add(member)
    session.flush()
    audit.record(session, actor, "project.member_added", slug, username=username)
    return member


def remove_member(session: Session, actor: str, slug: str, username: str) -> None:
    project = get_project(session, slug)
    member = next((m for m in project.members if m.username == username), None)
    if member is None:
        raise NotFound(f"{username!r} is not a member of {slug!r}")
    project.members.remove(member)
    session.flush()
    audit.record(session, actor, "project.member_removed", slug, username=username)


def parse_dataset_ref(ref: str) -> tuple[str, str | None]:
    """'cohort@1.0' -> ('cohort', '1.0'); 'cohort' -> ('cohort', None)."""
    dataset_id, _, version = ref.partition("@")
    check_dataset_id(dataset_id)
    return dataset_id, (version or None)


def grant(session: Session, actor: str, slug: str, dataset_id: str, version: str,
          columns: list[str] | None = None) -> Grant:
    """Grant a dataset version (optionally only some columns); re-granting replaces the version."""
    project = get_project(session, slug)
    check_dataset_id(dataset_id)
    existing = next((g for g in project.grants if g.dataset_id == dataset_id), None)
    cols = json.dumps(sorted(columns)) if columns else None
    if existing is not None:
        existing.version, existing.columns = version, cols
        row = existing
    else:
        row = Grant(project=project, dataset_id=dataset_id, version=version, columns=cols)
        session.add(row)
    session.flush()
    audit.record(session, actor, "project.granted", slug, dataset=dataset_id, version=version, columns=columns)
    return row


def revoke(session: Session, actor: str, slug: str, dataset_id: str) -> None:
    project = get_project(session, slug)
    existing = next((g for g in project.grants if g.dataset_id == dataset_id), None)
    if existing is None:
        raise NotFound(f"project {slug!r} has no grant of dataset {dataset_id!r}")
    project.grants.remove(existing)
    session.flush()
    audit.record(session, actor, "project.revoked", slug, dataset=dataset_id)


def change_status(session: Session, actor: str, slug: str, action: str, **details) -> Project:
    """Apply `action` (suspend, resume, close) by the TRANSITIONS table; `details` go into its audit event."""
    project = get_project(session, slug)
    step = TRANSITIONS.get((project.status, action))
    if step is None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == project.status)
        raise Conflict(f"cannot {action} project {slug!r}: it is {project.status.value}"
                       + (f" (possible: {', '.join(allowed)})" if allowed else " and final"))
    to_status, event = step
    project.status = to_status
    session.flush()
    audit.record(session, actor, event, slug, **details)
    return project


def change_member_status(session: Session, actor: str, slug: str, username: str, action: str,
                         reason: str = "") -> Member:
    """Suspend or reinstate one member's access to one project; the reconciler stops a suspended
    member's server within a pass, and the spawner refuses to start it."""
    project = get_project(session, slug)
    member = next((m for m in project.members if m.username == username), None)
    if member is None:
        raise NotFound(f"{username!r} is not a member of {slug!r}")
    step = MEMBER_TRANSITIONS.get((member.status, action))
    if step is None:
        allowed = sorted(a for (s, a) in MEMBER_TRANSITIONS if s == member.status)
        raise Conflict(f"cannot {action} {username!r} in project {slug!r}: the membership is {member.status.value}"
                       + (f" (possible: {', '.join(allowed)})" if allowed else ""))
    member.status, event = step
    member.status_reason = (reason or None) if member.status is MemberStatus.suspended else None
    session.flush()
    audit.record(session, actor, event, slug, username=username, reason=reason)
    return member


@dataclass(frozen=True)
class SpawnDecision:
    """Why a user may or may not run a project's server; `reason` is shown to the user."""

    allowed: bool
    reason: str
    project: Project | None = None


def spawn_decision(session: Session, username: str, slug: str, today: dt.date) -> SpawnDecision:
    """Decide from the project store alone; the server name is a claim until this says yes."""
    project = session.execute(
        select(Project).where(Project.slug == slug).options(selectinload(Project.members), selectinload(Project.grants))
    ).scalar_one_or_none()
    if project is None:
        return SpawnDecision(False, f"there is no project named {slug!r}")
    member = next((m for m in project.members if m.username == username), None)
    if member is None:
        return SpawnDecision(False, f"you are not a member of project {slug!r}; ask an enclave admin to add you")
    if member.status is MemberStatus.suspended:
        return SpawnDecision(False, f"your access to project {slug!r} is suspended"
                                    + (f" ({member.status_reason})" if member.status_reason else "")
                                    + "; an enclave admin must reinstate it")
    if project.status is ProjectStatus.suspended:
        return SpawnDecision(False, f"project {slug!r} is suspended; contact an enclave admin")
    if project.status is ProjectStatus.closed:
        return SpawnDecision(False, f"project {slug!r} is closed")
    if project.is_expired(today):
        return SpawnDecision(False, f"project {slug!r} expired on {project.expires.isoformat()}; "
                                    "an approved extension is needed")
    return SpawnDecision(True, "active member of an active project", project)


def check_can_spawn(session: Session, username: str, slug: str, today: dt.date) -> Project:
    decision = spawn_decision(session, username, slug, today)
    if not decision.allowed:
        raise Refused(decision.reason)
    return decision.project
