"""What people do to an application: write it, upload documents, sign the pledge, submit, decide.

Permissions come in pairs (`check_can_x` raises Refused, `can_x` returns a bool). A state
changes only through `apply_transition`, which checks the TRANSITIONS table and writes the
transition's audit event in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cirn import audit
from cirn.errors import Conflict, NotFound, Refused
from cirn.models import Member, Project, utcnow
from cirn.policies.application_rules import IRB, ApplicationPolicy
from cirn.state import InvalidName, check_slug

from .documents import StoredFile
from .models import Application, ApplicationDocument, CommitteeDecision
from .states import (COMMITTEE_ROLE, TRANSITIONS, ApplicationKind, ApplicationState, Committee, Outcome, Role,
                     actions_from, decision_action)

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
EDITABLE = (ApplicationState.draft, ApplicationState.changes_requested)
OPEN = (ApplicationState.draft, ApplicationState.in_review, ApplicationState.changes_requested,
        ApplicationState.approved)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a hub user name and the roles their hub scopes give them."""

    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    def has(self, role: Role) -> bool:
        return role in self.roles


SYSTEM = Actor("system:applications", frozenset({Role.system}))


# ------------------------------------------------------------------------------------------
# The expiry rule


def project_expiry(approved_end: dt.date, irb_expires: dt.date | None) -> dt.date:
    """Access ends at the earlier of the approved end date and the IRB approval's expiry."""
    return min(approved_end, irb_expires) if irb_expires else approved_end


# ------------------------------------------------------------------------------------------
# Reading


def get_application(session: Session, app_id: int) -> Application:
    app = session.execute(select(Application).where(Application.id == app_id).options(
        selectinload(Application.documents), selectinload(Application.decisions))).scalar_one_or_none()
    if app is None:
        raise NotFound(f"application {app_id} does not exist")
    return app


def list_applications(session: Session) -> list[Application]:
    return list(session.execute(select(Application).order_by(Application.id.desc()).options(
        selectinload(Application.documents), selectinload(Application.decisions))).scalars())


def current_members(session: Session, slug: str) -> list[str]:
    return list(session.execute(select(Member.username).join(Project).where(Project.slug == slug)).scalars())


# ------------------------------------------------------------------------------------------
# Permissions


def is_party(session: Session, app: Application, actor: Actor) -> bool:
    """The actor is the applicant, a requested member, or (for an amendment) a project member."""
    if actor.name in app.everyone:
        return True
    return app.kind is ApplicationKind.amendment and actor.name in current_members(session, app.project_slug)


def can_view(session: Session, app: Application, actor: Actor) -> bool:
    return (is_party(session, app, actor) or actor.has(Role.enclave_admin)
            or actor.has(Role.distribution_committee) or actor.has(Role.research_committee))


def check_can_view(session: Session, app: Application, actor: Actor) -> None:
    if not can_view(session, app, actor):
        raise Refused(f"you are not part of application {app.id} and not on a committee that reviews it")


def check_can_edit(app: Application, actor: Actor) -> None:
    if actor.name != app.applicant:
        raise Refused(f"only the applicant ({app.applicant}) may change application {app.id}")
    if app.state not in EDITABLE:
        raise Conflict(f"application {app.id} is {app.state.value}; it can be changed only as a draft "
                       "or when a committee asked for changes")


def can_edit(app: Application, actor: Actor) -> bool:
    try:
        check_can_edit(app, actor)
        return True
    except (Refused, Conflict):
        return False


def check_can_take(session: Session, app: Application, actor: Actor, action: str) -> None:
    """Raise Conflict (not possible in this state) or Refused (not this actor); else return."""
    step = TRANSITIONS.get((app.state, action))
    if step is None:
        possible = actions_from(app.state)
        raise Conflict(f"cannot {action.replace('_', ' ')} application {app.id}: it is {app.state.value}"
                       + (f" (possible: {', '.join(possible)})" if possible else " and final"))
    who = step.who
    if who is Role.applicant:
        if actor.name != app.applicant:
            raise Refused(f"only the applicant ({app.applicant}) may {action} application {app.id}")
    elif not actor.has(who):
        raise Refused(f"{actor.name} may not {action.replace('_', ' ')} application {app.id}: "
                      f"it needs the {who.value.replace('_', ' ')} role")
    if who in COMMITTEE_ROLE.values():
        if is_party(session, app, actor):
            raise Refused(f"{actor.name} is part of application {app.id} and cannot decide on it; "
                          "another committee member must")
        committee = next(c for c, r in COMMITTEE_ROLE.items() if r is who)
        current = app.current_decisions()
        if committee in current:
            raise Conflict(f"the {committee.value} committee has already decided on application {app.id} "
                           "in this review round")
        # Separation of duties: the two reviews are two people's, even for someone on both committees.
        other = next((d for c, d in current.items() if c is not committee and d.actor == actor.name), None)
        if other is not None:
            raise Refused(f"{actor.name} already decided on application {app.id} for the "
                          f"{other.committee.value} committee in this review round; another member of the "
                          f"{committee.value} committee must decide for it")


def can_take(session: Session, app: Application, actor: Actor, action: str) -> bool:
    try:
        check_can_take(session, app, actor, action)
        return True
    except (Refused, Conflict):
        return False


def apply_transition(session: Session, app: Application, actor: Actor, action: str, **details) -> Application:
    check_can_take(session, app, actor, action)
    step = TRANSITIONS[(app.state, action)]
    before = app.state
    app.state = step.to
    session.flush()
    audit.record(session, actor.name, step.event, app.subject, project=app.project_slug,
                 **{"from": before.value, "to": step.to.value}, **details)
    return app


# ------------------------------------------------------------------------------------------
# Writing an application


def _parse_members(members: list[str]) -> list[str]:
    out = []
    for m in members:
        m = m.strip()
        if not m:
            continue
        if not USERNAME_RE.match(m):
            raise Conflict(f"member {m!r} is not a valid user name; use the name members log in with")
        out.append(m)
    return out


def create_application(session: Session, actor: Actor, project_slug: str, title: str = "",
                       kind: ApplicationKind = ApplicationKind.new) -> Application:
    try:
        check_slug(project_slug)
    except InvalidName as exc:
        raise Conflict(str(exc)) from None
    if kind is ApplicationKind.new and session.execute(select(Project.id).where(Project.slug == project_slug)).first():
        raise Conflict(f"a project named {project_slug!r} already exists; choose another project name "
                       "or apply for an amendment of that project")
    app = Application(kind=kind, state=ApplicationState.draft, applicant=actor.name, project_slug=project_slug,
                      title=title.strip())
    session.add(app)
    session.flush()
    audit.record(session, actor.name, "application.created", app.subject, project=project_slug, kind=kind.value)
    return app


def update_application(session: Session, app: Application, actor: Actor, **fields) -> Application:
    """Change the applicant's fields (title, purpose, research_plan, infrastructure, data_use_plan,
    requested_start, requested_end, members, datasets)."""
    check_can_edit(app, actor)
    text_fields = ("title", "purpose", "research_plan", "infrastructure", "data_use_plan")
    changed = []
    for name in text_fields:
        if name in fields and fields[name] is not None:
            value = str(fields[name]).strip()
            if getattr(app, name) != value:
                setattr(app, name, value)
                changed.append(name)
    for name in ("requested_start", "requested_end"):
        if name in fields and getattr(app, name) != fields[name]:
            setattr(app, name, fields[name])
            changed.append(name)
    if "members" in fields and fields["members"] is not None:
        members = _parse_members(fields["members"])
        if sorted(set(members) - {app.applicant}) != app.members:
            app.members = members
            changed.append("members")
    if "datasets" in fields and fields["datasets"] is not None:
        before = app.datasets_json
        app.datasets = fields["datasets"]
        if app.datasets_json != before:
            changed.append("datasets")
    if changed:
        session.flush()
        audit.record(session, actor.name, "application.updated", app.subject, fields=changed,
                     datasets=app.datasets if "datasets" in changed else None,
                     members=app.members if "members" in changed else None)
    return app


def add_document(session: Session, app: Application, actor: Actor, kind: str, filename: str,
                 stored: StoredFile, irb_number: str | None = None, irb_expires: dt.date | None = None) -> ApplicationDocument:
    """Attach a stored upload; an IRB notice also sets the approval number and expiry. A new
    upload of a kind replaces the previous one (which stays in the history)."""
    check_can_edit(app, actor)
    if kind == IRB:
        if not (irb_number or "").strip():
            raise Conflict("enter the IRB approval number printed on the notice")
        if irb_expires is None:
            raise Conflict("enter the IRB approval's expiry date")
        app.irb_number, app.irb_expires = irb_number.strip(), irb_expires
    for old in [d for d in app.documents if d.kind == kind]:
        app.documents.remove(old)
    doc = ApplicationDocument(kind=kind, filename=filename, sha256=stored.sha256, size=stored.size,
                              uploaded_by=actor.name)
    app.documents.append(doc)
    session.flush()
    audit.record(session, actor.name, "application.document_added", app.subject, kind=kind, filename=filename,
                 sha256=stored.sha256, size=stored.size,
                 **({"irb_number": app.irb_number, "irb_expires": app.irb_expires} if kind == IRB else {}))
    return doc


def sign_pledge(session: Session, app: Application, actor: Actor, policy: ApplicationPolicy, typed_name: str,
                shown_sha256: str) -> Application:
    """Record the signature: the typed name, the time, and the hash of the text that was shown."""
    check_can_edit(app, actor)
    if not typed_name.strip():
        raise Conflict("type your full name to sign the security pledge")
    if shown_sha256 != policy.pledge.sha256:
        raise Conflict("the security pledge changed while you were reading it; read the current text and sign again")
    app.pledge_name, app.pledge_signed_at, app.pledge_sha256 = typed_name.strip(), utcnow(), policy.pledge.sha256
    session.flush()
    audit.record(session, actor.name, "application.pledge_signed", app.subject, name=app.pledge_name,
                 pledge_sha256=app.pledge_sha256)
    return app


# ------------------------------------------------------------------------------------------
# Checks before submission


def dataset_problems(catalog, requested: list[dict]) -> list[str]:
    """Each requested dataset version must be published, and each variable in its dictionary."""
    from cirn.errors import NotFound as _NotFound

    problems = []
    for row in requested:
        try:
            dv = catalog.resolve(row["dataset"], row["version"])
        except (_NotFound, InvalidName) as exc:
            problems.append(str(exc))
            continue
        names = {c["name"] for c in dv.manifest.get("dictionary") or []}
        unknown = sorted(set(row.get("columns") or []) - names) if names else []
        if unknown:
            problems.append(f"{dv.ref} has no variable(s) {', '.join(unknown)}")
    return problems


def missing_for_submission(session: Session, app: Application, policy: ApplicationPolicy, catalog,
                           today: dt.date) -> list[str]:
    """Everything that stops `app` from being submitted, in words for the applicant; [] when ready."""
    missing = []
    for name, label in (("title", "a title"), ("purpose", "the purpose"), ("research_plan", "the research plan"),
                        ("infrastructure", "the infrastructure"), ("data_use_plan", "the data-use plan")):
        if not getattr(app, name).strip():
            missing.append(f"Fill in {label}.")
    if not app.datasets:
        missing.append("Choose at least one dataset and the variables you need.")
    missing += [f"Datasets: {p}." for p in dataset_problems(catalog, app.datasets)]
    if app.requested_start is None or app.requested_end is None:
        missing.append("Enter the requested period (start and end dates).")
    else:
        if app.requested_end < app.requested_start:
            missing.append("The requested period ends before it starts.")
        if app.requested_end < today:
            missing.append("The requested period has already ended.")
        if (app.requested_end - app.requested_start).days > policy.max_period_days:
            missing.append(f"The requested period is longer than {policy.max_period_days} days.")
    have = {d.kind for d in app.documents}
    for doc in policy.required_documents:
        if doc.id not in have:
            missing.append(f"Upload the {doc.title}.")
    if IRB in have:
        if not app.irb_number:
            missing.append("Enter the IRB approval number.")
        if app.irb_expires is None:
            missing.append("Enter the IRB approval's expiry date.")
        elif app.irb_expires < today:
            missing.append(f"The IRB approval expired on {app.irb_expires.isoformat()}; upload the current notice.")
    if app.pledge_sha256 is None:
        missing.append(f"Read and sign the {policy.pledge.title.lower()}.")
    elif app.pledge_sha256 != policy.pledge.sha256:
        missing.append(f"The {policy.pledge.title.lower()} has changed since you signed it; sign the current text.")
    if app.kind is ApplicationKind.new:
        taken = session.execute(select(Project.id).where(Project.slug == app.project_slug)).first()
        other = session.execute(select(Application.id).where(
            Application.project_slug == app.project_slug, Application.id != app.id,
            Application.kind == ApplicationKind.new, Application.state.in_(OPEN))).first()
        if taken or other:
            missing.append(f"The project name {app.project_slug!r} is taken; start a new application with another name.")
    return missing


def submit(session: Session, app: Application, actor: Actor, policy: ApplicationPolicy, catalog,
           today: dt.date) -> Application:
    check_can_take(session, app, actor, "submit")
    missing = missing_for_submission(session, app, policy, catalog, today)
    if missing:
        raise Conflict("application is not complete: " + " ".join(missing))
    # A (re)submitted application is reviewed afresh: approvals of an earlier version do not carry over.
    app.review_round += 1
    return apply_transition(session, app, actor, "submit", round=app.review_round,
                            documents={d.kind: d.sha256 for d in app.documents}, datasets=app.datasets,
                            members=app.everyone, pledge_sha256=app.pledge_sha256)


def withdraw(session: Session, app: Application, actor: Actor) -> Application:
    return apply_transition(session, app, actor, "withdraw")


def decide(session: Session, app: Application, actor: Actor, committee: Committee, outcome: Outcome,
           comment: str) -> Application:
    """One committee's decision, with its comment to the applicant. When this approval is the
    second, the application becomes approved (a system step, audited on its own)."""
    action = decision_action(committee, outcome)
    check_can_take(session, app, actor, action)
    if outcome is not Outcome.approve and not comment.strip():
        raise Conflict("say in the comment what must change, or why the application is rejected")
    apply_transition(session, app, actor, action, committee=committee.value, comment=comment.strip(),
                     round=app.review_round)
    app.decisions.append(CommitteeDecision(committee=committee, outcome=outcome, comment=comment.strip(),
                                           actor=actor.name, round=app.review_round))
    session.flush()
    current = app.current_decisions()
    approvers = {current[c].actor for c in Committee if c in current and current[c].outcome is Outcome.approve}
    if all(c in current and current[c].outcome is Outcome.approve for c in Committee) \
            and len(approvers) == len(Committee):
        app.project_expires = project_expiry(app.requested_end, app.irb_expires)
        apply_transition(session, app, SYSTEM, "complete", project_expires=app.project_expires,
                         approved_by={c.value: current[c].actor for c in Committee})
    return app


def start_amendment(session: Session, actor: Actor, slug: str) -> Application:
    """A draft amendment of project `slug`, prefilled with what the project has now (members,
    grants, end date) and the text and documents of its latest provisioned application. The
    project changes only when the amendment is approved and provisioned."""
    from cirn.projects import get_project

    project = get_project(session, slug)
    if actor.name not in {m.username for m in project.members}:
        raise Refused(f"only members of project {slug!r} may apply to amend it")
    latest = session.execute(select(Application).where(
        Application.project_slug == slug, Application.state == ApplicationState.provisioned)
        .order_by(Application.id.desc()).options(selectinload(Application.documents))).scalars().first()
    app = create_application(session, actor, slug, project.title, kind=ApplicationKind.amendment)
    app.members = [m.username for m in project.members]
    app.datasets = [{"dataset": g.dataset_id, "version": g.version,
                     "columns": json.loads(g.columns) if g.columns else None} for g in project.grants]
    app.requested_start, app.requested_end = dt.date.today(), project.expires
    if latest is not None:
        for name in ("purpose", "research_plan", "infrastructure", "data_use_plan"):
            setattr(app, name, getattr(latest, name))
        app.irb_number, app.irb_expires = latest.irb_number, latest.irb_expires
        for d in latest.documents:
            app.documents.append(ApplicationDocument(kind=d.kind, filename=d.filename, sha256=d.sha256,
                                                     size=d.size, uploaded_by=d.uploaded_by))
    session.flush()
    audit.record(session, actor.name, "application.amendment_started", app.subject, project=slug,
                 based_on=latest.id if latest else None)
    return app
