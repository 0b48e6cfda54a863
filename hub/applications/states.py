"""The application state machine as data: states, who owns each, and every transition.

`TRANSITIONS` maps (state, action) to the state it leads to, the role that may take it and the
audit event it writes; `workflow.apply_transition` is the only code that changes a state. The
two committees decide independently and in either order: each approval leaves the application
in review until the other committee's approval completes it (the `complete` step, taken by the
system, never by a person).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ApplicationState(str, enum.Enum):
    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"
    provisioned = "provisioned"
    rejected = "rejected"
    withdrawn = "withdrawn"


class ApplicationKind(str, enum.Enum):
    new = "new"              # asks for a new project
    amendment = "amendment"  # asks to change a provisioned project: members, datasets, end date


class Committee(str, enum.Enum):
    distribution = "distribution"  # may the data be given to this applicant (biobank rules)
    research = "research"          # purpose, infrastructure, amount of data, ethics


class Outcome(str, enum.Enum):
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"


class Role(str, enum.Enum):
    applicant = "applicant"                          # the application's own applicant
    distribution_committee = "distribution_committee"
    research_committee = "research_committee"
    enclave_admin = "enclave_admin"
    system = "system"                                # steps the software takes by rule


COMMITTEE_ROLE = {Committee.distribution: Role.distribution_committee,
                  Committee.research: Role.research_committee}

FINAL = frozenset({ApplicationState.provisioned, ApplicationState.rejected, ApplicationState.withdrawn})

# Who must act next in each state (what a dashboard shows as "waiting for"); final states are
# kept by the enclave admins, who answer for the record.
STATE_OWNER: dict[ApplicationState, tuple[Role, ...]] = {
    ApplicationState.draft: (Role.applicant,),
    ApplicationState.in_review: (Role.distribution_committee, Role.research_committee),
    ApplicationState.changes_requested: (Role.applicant,),
    ApplicationState.approved: (Role.enclave_admin,),
    ApplicationState.provisioned: (Role.enclave_admin,),
    ApplicationState.rejected: (Role.enclave_admin,),
    ApplicationState.withdrawn: (Role.enclave_admin,),
}


@dataclass(frozen=True)
class Transition:
    to: ApplicationState
    who: Role
    event: str


def decision_action(committee: Committee, outcome: Outcome) -> str:
    return f"{committee.value}.{outcome.value}"


S = ApplicationState
TRANSITIONS: dict[tuple[ApplicationState, str], Transition] = {
    (S.draft, "submit"): Transition(S.in_review, Role.applicant, "application.submitted"),
    (S.changes_requested, "submit"): Transition(S.in_review, Role.applicant, "application.resubmitted"),
    (S.draft, "withdraw"): Transition(S.withdrawn, Role.applicant, "application.withdrawn"),
    (S.in_review, "withdraw"): Transition(S.withdrawn, Role.applicant, "application.withdrawn"),
    (S.changes_requested, "withdraw"): Transition(S.withdrawn, Role.applicant, "application.withdrawn"),
    # Each committee's decision; an approval stays in review until both have approved.
    **{(S.in_review, decision_action(c, o)): Transition(
        {Outcome.approve: S.in_review, Outcome.request_changes: S.changes_requested,
         Outcome.reject: S.rejected}[o],
        COMMITTEE_ROLE[c],
        {Outcome.approve: f"application.{c.value}_approved",
         Outcome.request_changes: f"application.{c.value}_changes_requested",
         Outcome.reject: f"application.{c.value}_rejected"}[o])
       for c in Committee for o in Outcome},
    (S.in_review, "complete"): Transition(S.approved, Role.system, "application.approved"),
    (S.approved, "provision"): Transition(S.provisioned, Role.enclave_admin, "application.provisioned"),
    (S.approved, "auto_provision"): Transition(S.provisioned, Role.system, "application.provisioned"),
}
del S


def actions_from(state: ApplicationState) -> list[str]:
    return sorted(a for (s, a) in TRANSITIONS if s == state)


def mermaid() -> str:
    """The state diagram, generated from TRANSITIONS (for docs/applications.md)."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for (frm, action), t in TRANSITIONS.items():
        lines.append(f"    {frm.value} --> {t.to.value}: {action} ({t.who.value})")
    for s in sorted(FINAL, key=lambda s: s.value):
        lines.append(f"    {s.value} --> [*]")
    return "\n".join(lines)
