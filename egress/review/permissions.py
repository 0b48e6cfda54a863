"""Who may do what with a release request: `check_user_can_x()` raises Refused, `user_can_x()` says yes or no.

The rules live here and only here: the requester and members of the request's project never
review it; only members of the project see its requests and download its package, and only
from outside the enclave (a project container's token may submit, never download; nor may any
call that came from a project network, cirn.egress.service.origin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from cirn.errors import Refused

from .states import RequestState, Visibility


@dataclass(frozen=True)
class Person:
    """Someone acting on the service, as the hub and the project store describe them.

    `projects`: projects they are a member of (from the project store, not the hub).
    `reviewer`: holds the `custom:egress:review` scope.
    `container_project`: set when the call comes with a project server's own token; such a call
    speaks for that project only.
    `inside`: the call came from inside the enclave (a project network or the service's direct
    listener), told from the connection, not from the token or the headers.
    """

    name: str
    reviewer: bool = False
    projects: frozenset[str] = field(default_factory=frozenset)
    container_project: str | None = None
    inside: bool = False

    def member_of(self, project: str) -> bool:
        return project in self.projects


def check_user_can_submit(person: Person, project: str) -> None:
    if not person.member_of(project):
        raise Refused(f"{person.name} is not a member of project {project!r}; only its members can ask "
                      "for its files to be released")
    if person.container_project is not None and person.container_project != project:
        raise Refused(f"this server's token belongs to project {person.container_project!r}, "
                      f"not {project!r}")


def check_user_can_view(person: Person, request) -> None:
    if person.container_project is not None and person.container_project != request.project:
        raise Refused(f"this server's token belongs to project {person.container_project!r}")
    if person.member_of(request.project):
        return
    if person.reviewer and person.container_project is None:
        return
    raise Refused(f"request {request.id} belongs to project {request.project!r}; only its members "
                  "and egress reviewers can see it")


def check_user_can_review(person: Person, request) -> None:
    if not person.reviewer or person.container_project is not None:
        raise Refused(f"{person.name} is not an egress reviewer (the custom:egress:review scope is needed)")
    if person.name == request.requester:
        raise Refused(f"{person.name} asked for request {request.id}; nobody reviews their own request")
    if person.member_of(request.project):
        raise Refused(f"{person.name} is a member of project {request.project!r}; members never review "
                      "their own project's requests")


def check_user_can_withdraw(person: Person, request) -> None:
    check_user_can_view(person, request)
    if person.name != request.requester:
        raise Refused(f"only {request.requester}, who asked for request {request.id}, can withdraw it")


def check_user_can_resubmit(person: Person, request) -> None:
    check_user_can_view(person, request)
    if person.name != request.requester:
        raise Refused(f"only {request.requester}, who asked for request {request.id}, can resubmit it")
    check_user_can_submit(person, request.project)


def check_user_can_download(person: Person, request) -> None:
    if person.container_project is not None or person.inside:
        raise Refused("released packages are downloaded from outside the enclave, not from a project server "
                      "or network: open the egress service from the hub's address in your browser")
    if not person.member_of(request.project):
        raise Refused(f"only members of project {request.project!r} can download its released packages")
    if request.state is not RequestState.released:
        raise Refused(f"request {request.id} is {request.state.value.replace('_', ' ')}; "
                      "only a released request has a package to download")


def check_user_can_revoke(person: Person, request) -> None:
    check_user_can_review(person, request)


def check_user_can_comment(person: Person, request, visibility: Visibility) -> None:
    if visibility is Visibility.reviewers:
        check_user_can_review(person, request)
    elif not person.member_of(request.project):
        check_user_can_review(person, request)
    else:
        check_user_can_view(person, request)


def check_user_can_see_comment(person: Person, request, comment) -> None:
    check_user_can_view(person, request)
    if comment.visibility is Visibility.reviewers:
        check_user_can_review(person, request)


def _as_bool(check: Callable[..., None]) -> Callable[..., bool]:
    def user_can(*args) -> bool:
        try:
            check(*args)
        except Refused:
            return False
        return True

    user_can.__name__ = check.__name__.replace("check_user_can_", "user_can_")
    user_can.__doc__ = f"True when `{check.__name__}` would not refuse."
    return user_can


user_can_submit = _as_bool(check_user_can_submit)
user_can_view = _as_bool(check_user_can_view)
user_can_review = _as_bool(check_user_can_review)
user_can_withdraw = _as_bool(check_user_can_withdraw)
user_can_resubmit = _as_bool(check_user_can_resubmit)
user_can_download = _as_bool(check_user_can_download)
user_can_revoke = _as_bool(check_user_can_revoke)
user_can_comment = _as_bool(check_user_can_comment)
user_can_see_comment = _as_bool(check_user_can_see_comment)

PAIRS = {name: (globals()[f"check_user_can_{name}"], globals()[f"user_can_{name}"])
         for name in ("submit", "view", "review", "withdraw", "resubmit", "download", "revoke", "comment",
                      "see_comment")}
