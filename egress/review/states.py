"""Request states, the transitions between them, who may make each, and the audit event it writes.

The contract (ARCHITECTURE.md, "Contract: release request states") is this table; the service
never changes a request's state except through `apply_transition`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cirn.errors import Conflict


class RequestState(str, enum.Enum):
    submitted = "submitted"
    checked = "checked"
    in_review = "in_review"
    approved = "approved"
    changes_requested = "changes_requested"
    rejected = "rejected"
    released = "released"
    withdrawn = "withdrawn"
    revoked = "revoked"


class Party(str, enum.Enum):
    """Who may make a transition: the person who asked, an eligible reviewer, or the service itself."""

    requester = "requester"
    reviewer = "reviewer"
    system = "system"


class FileDecision(str, enum.Enum):
    approve = "approve"
    request_changes = "request_changes"
    reject = "reject"


class Visibility(str, enum.Enum):
    reviewers = "reviewers"   # private to reviewers
    requester = "requester"   # the requester and the project's members see it too


@dataclass(frozen=True)
class Step:
    target: RequestState
    who: Party
    event: str


S = RequestState
# (from state, action) -> Step. Anything not listed is refused with InvalidTransition.
TRANSITIONS: dict[tuple[RequestState, str], Step] = {
    (S.submitted, "check"): Step(S.checked, Party.system, "egress.request.checked"),
    (S.checked, "start_review"): Step(S.in_review, Party.reviewer, "egress.request.review_started"),
    (S.in_review, "approve"): Step(S.approved, Party.reviewer, "egress.request.approved"),
    (S.in_review, "request_changes"): Step(S.changes_requested, Party.reviewer, "egress.request.changes_requested"),
    (S.checked, "reject"): Step(S.rejected, Party.reviewer, "egress.request.rejected"),
    (S.in_review, "reject"): Step(S.rejected, Party.reviewer, "egress.request.rejected"),
    (S.changes_requested, "resubmit"): Step(S.submitted, Party.requester, "egress.request.resubmitted"),
    (S.approved, "release"): Step(S.released, Party.system, "egress.request.released"),
    (S.submitted, "withdraw"): Step(S.withdrawn, Party.requester, "egress.request.withdrawn"),
    (S.checked, "withdraw"): Step(S.withdrawn, Party.requester, "egress.request.withdrawn"),
    (S.in_review, "withdraw"): Step(S.withdrawn, Party.requester, "egress.request.withdrawn"),
    (S.changes_requested, "withdraw"): Step(S.withdrawn, Party.requester, "egress.request.withdrawn"),
    (S.approved, "revoke"): Step(S.revoked, Party.reviewer, "egress.request.revoked"),
    (S.released, "revoke"): Step(S.revoked, Party.reviewer, "egress.request.revoked"),
}

# Actions that do not change the state but are audited all the same.
EVENTS: dict[str, str] = {
    "submit": "egress.request.submitted",
    "snapshot": "egress.file.snapshotted",
    "scan": "egress.file.scanned",
    "decide": "egress.file.decided",
    "submit_review": "egress.review.submitted",
    "comment": "egress.comment.added",
    "download": "egress.package.downloaded",
}

FINAL = frozenset({S.rejected, S.withdrawn, S.revoked})
# States a reviewer's queue shows (submitted: the checks are still running).
QUEUE = (S.submitted, S.checked, S.in_review)


class InvalidTransition(Conflict):
    """The action is not possible from the request's current state."""


def actions_from(state: RequestState) -> list[str]:
    return sorted(a for (s, a) in TRANSITIONS if s == state)


def check_transition(state: RequestState, action: str, who: Party) -> Step:
    """The step for `action` from `state`, or InvalidTransition naming what is possible."""
    step = TRANSITIONS.get((state, action))
    if step is None:
        possible = actions_from(state)
        raise InvalidTransition(
            f"cannot {action.replace('_', ' ')} a request that is {state.value.replace('_', ' ')}"
            + (f" (possible: {', '.join(possible)})" if possible else " (it is final)"))
    if step.who is not who:
        raise InvalidTransition(f"only the {step.who.value} can {action.replace('_', ' ')} a request")
    return step


def mermaid() -> str:
    """The state diagram, generated from the table (docs show this, so they cannot drift)."""
    lines = ["stateDiagram-v2", "    [*] --> submitted"]
    for (source, action), step in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {step.target.value}: {action} ({step.who.value})")
    return "\n".join(lines)
