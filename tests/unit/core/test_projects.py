import datetime as dt

import pytest

from cirn import projects
from cirn.errors import Conflict, NotFound
from cirn.models import AuditEvent, ProjectStatus
from cirn.state import InvalidName

TODAY = dt.date(2026, 6, 1)


def make(enclave, slug="demo-one", members=("alice",), expires=dt.date(2026, 12, 31)):
    with enclave.db.session() as s:
        projects.create_project(s, "admin:t", slug, "Demo", expires)
        for m in members:
            projects.add_member(s, "admin:t", slug, m)
    return slug


def test_active_member_may_spawn(enclave):
    make(enclave)
    with enclave.db.session() as s:
        assert projects.spawn_decision(s, "alice", "demo-one", TODAY).allowed


@pytest.mark.parametrize("who,setup,reason", [
    ("mallory", None, "not a member"),
    ("alice", "suspend", "suspended"),
    ("alice", "close", "closed"),
    ("alice", "expire", "expired on 2026-05-31"),
])
def test_spawn_refusals_say_why(enclave, who, setup, reason):
    make(enclave, expires=dt.date(2026, 5, 31) if setup == "expire" else dt.date(2026, 12, 31))
    if setup in ("suspend", "close"):
        with enclave.db.session() as s:
            projects.change_status(s, "admin:t", "demo-one", setup)
    with enclave.db.session() as s:
        d = projects.spawn_decision(s, who, "demo-one", TODAY)
    assert not d.allowed and reason in d.reason


def test_expiry_day_itself_is_still_usable(enclave):
    make(enclave, expires=TODAY)
    with enclave.db.session() as s:
        assert projects.spawn_decision(s, "alice", "demo-one", TODAY).allowed
        assert not projects.spawn_decision(s, "alice", "demo-one", TODAY + dt.timedelta(days=1)).allowed


def test_status_transitions_follow_the_table(enclave):
    make(enclave)
    with enclave.db.session() as s:
        assert projects.change_status(s, "a", "demo-one", "suspend").status is ProjectStatus.suspended
        assert projects.change_status(s, "a", "demo-one", "resume").status is ProjectStatus.active
        assert projects.change_status(s, "a", "demo-one", "close").status is ProjectStatus.closed
        with pytest.raises(Conflict, match="closed and final"):
            projects.change_status(s, "a", "demo-one", "resume")


def test_every_transition_writes_its_audit_event(enclave):
    for (_from, action), (_to, event) in projects.TRANSITIONS.items():
        assert event.startswith("project.")
    make(enclave)
    with enclave.db.session() as s:
        projects.change_status(s, "a", "demo-one", "suspend")
        actions = [e.action for e in s.query(AuditEvent).order_by(AuditEvent.seq)]
    assert actions == ["project.created", "project.member_added", "project.suspended"]


def test_duplicates_and_unknowns_are_refused_with_names(enclave):
    make(enclave)
    with enclave.db.session() as s:
        with pytest.raises(Conflict, match="already exists"):
            projects.create_project(s, "a", "demo-one", "x", TODAY)
    with enclave.db.session() as s:
        with pytest.raises(Conflict, match="'alice' is already a member"):
            projects.add_member(s, "a", "demo-one", "alice")
    with enclave.db.session() as s:
        with pytest.raises(NotFound, match="'nope' does not exist"):
            projects.get_project(s, "nope")
        with pytest.raises(NotFound, match="no grant of dataset 'cohort'"):
            projects.revoke(s, "a", "demo-one", "cohort")


@pytest.mark.parametrize("slug", ["A", "ab", "-abc", "abc-", "a b c", "../etc", "x" * 41, "proj_1"])
def test_bad_slugs_are_refused(enclave, slug):
    with enclave.db.session() as s:
        with pytest.raises(InvalidName, match="is not valid"):
            projects.create_project(s, "a", slug, "x", TODAY)


def test_grant_replaces_version_and_records_columns(enclave):
    make(enclave)
    with enclave.db.session() as s:
        projects.grant(s, "a", "demo-one", "cohort", "1.0")
        projects.grant(s, "a", "demo-one", "cohort", "1.1", ["age", "sex"])
        p = projects.get_project(s, "demo-one")
        assert [(g.dataset_id, g.version, g.columns) for g in p.grants] == [("cohort", "1.1", '["age", "sex"]')]


def test_failed_change_writes_nothing(enclave):
    make(enclave)
    with enclave.db.session() as s:
        before = s.query(AuditEvent).count()
    with pytest.raises(Conflict):
        with enclave.db.session() as s:
            projects.add_member(s, "a", "demo-one", "bob")
            projects.add_member(s, "a", "demo-one", "bob")
    with enclave.db.session() as s:
        assert s.query(AuditEvent).count() == before
        assert [m.username for m in projects.get_project(s, "demo-one").members] == ["alice"]
