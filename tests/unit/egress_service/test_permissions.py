"""Every permission comes as a pair: check_user_can_x raises exactly when user_can_x is False."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from cirn.errors import Refused
from cirn.egress.review import permissions as perm
from cirn.egress.review.states import RequestState, Visibility

PEOPLE = [
    perm.Person("alice", projects=frozenset({"alpha"})),
    perm.Person("amy", projects=frozenset({"alpha"})),
    perm.Person("alice", projects=frozenset({"alpha"}), container_project="alpha"),
    perm.Person("rev", reviewer=True),
    perm.Person("rita", reviewer=True, projects=frozenset({"alpha"})),
    perm.Person("bob", projects=frozenset({"beta"})),
]
REQUESTS = [SimpleNamespace(id=1, project="alpha", requester="alice", state=s) for s in RequestState]


def _args(name, person, request):
    if name == "submit":
        return (person, request.project)
    if name == "comment":
        return (person, request, Visibility.reviewers)
    if name == "see_comment":
        return (person, request, SimpleNamespace(visibility=Visibility.reviewers))
    return (person, request)


@pytest.mark.parametrize("name", sorted(perm.PAIRS))
def test_pairs_agree(name):
    check, can = perm.PAIRS[name]
    for person, request in itertools.product(PEOPLE, REQUESTS):
        args = _args(name, person, request)
        try:
            check(*args)
            raised = False
        except Refused as exc:
            raised = True
            assert str(exc)  # every refusal says why
        assert can(*args) is (not raised), (name, person, request.state)


def test_who_may_review():
    req = REQUESTS[0]
    assert [p.name for p in PEOPLE if perm.user_can_review(p, req)] == ["rev"]


def test_only_members_outside_the_enclave_download():
    released = SimpleNamespace(id=1, project="alpha", requester="alice", state=RequestState.released)
    assert [(p.name, p.container_project) for p in PEOPLE if perm.user_can_download(p, released)] == [
        ("alice", None), ("amy", None), ("rita", None)]
