"""Committee decisions: both approvals in either order, conflicts of interest, comments, rounds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cirn.datasets.catalog import Catalog
from cirn.errors import Conflict, Refused
from cirn.hub.applications import workflow
from cirn.hub.applications.states import ApplicationState, Committee, Outcome, Role
from cirn.hub.applications.workflow import Actor
from cirn.models import AuditEvent

from applications_testing import APPLICANT, DIST, POLICY, RES, TODAY, at_state, complete_draft


@pytest.mark.parametrize("first,second", [((DIST, Committee.distribution), (RES, Committee.research)),
                                          ((RES, Committee.research), (DIST, Committee.distribution))],
                         ids=["distribution-first", "research-first"])
def test_both_approvals_are_needed_in_either_order(enclave, first, second):
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.in_review)
        workflow.decide(s, app, first[0], first[1], Outcome.approve, "fine")
        assert app.state is ApplicationState.in_review
        workflow.decide(s, app, second[0], second[1], Outcome.approve, "")
        assert app.state is ApplicationState.approved
        assert app.project_expires == app.irb_expires  # IRB ends before the requested end
        actions = [e.action for e in s.execute(select(AuditEvent).where(AuditEvent.subject == app.subject)
                                                .order_by(AuditEvent.seq)).scalars()]
    assert actions[-3:] == [f"application.{first[1].value}_approved", f"application.{second[1].value}_approved",
                            "application.approved"]


def test_committee_member_cannot_decide_on_an_application_they_are_part_of(enclave):
    bob_on_committee = Actor("bob", frozenset({Role.distribution_committee}))
    applicant_on_committee = Actor("alice", frozenset({Role.research_committee}))
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.in_review)  # bob is a requested member
        with pytest.raises(Refused, match="part of application"):
            workflow.decide(s, app, bob_on_committee, Committee.distribution, Outcome.approve, "")
        with pytest.raises(Refused, match="part of application"):
            workflow.decide(s, app, applicant_on_committee, Committee.research, Outcome.approve, "")
        assert not workflow.can_take(s, app, bob_on_committee, "distribution.approve")
        assert workflow.can_take(s, app, DIST, "distribution.approve")


def test_a_committee_decides_only_for_itself_and_once_per_round(enclave):
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.in_review)
        with pytest.raises(Refused, match="research committee role"):
            workflow.decide(s, app, DIST, Committee.research, Outcome.approve, "")
        workflow.decide(s, app, DIST, Committee.distribution, Outcome.approve, "")
        with pytest.raises(Conflict, match="already decided"):
            workflow.decide(s, app, Actor("dora", frozenset({Role.distribution_committee})), Committee.distribution,
                            Outcome.reject, "changed my mind")


def test_a_person_on_both_committees_decides_for_only_one_in_a_round(enclave):
    both = Actor("dual", frozenset({Role.distribution_committee, Role.research_committee}))
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.in_review)
        workflow.decide(s, app, both, Committee.distribution, Outcome.approve, "")
        assert not workflow.can_take(s, app, both, "research.approve")
        assert not workflow.can_take(s, app, both, "research.reject")
        with pytest.raises(Refused, match="already decided .* for the distribution committee"):
            workflow.decide(s, app, both, Committee.research, Outcome.approve, "")
        assert app.state is ApplicationState.in_review
        workflow.decide(s, app, RES, Committee.research, Outcome.approve, "")
        assert app.state is ApplicationState.approved
        completed = s.execute(select(AuditEvent).where(AuditEvent.action == "application.approved")).scalar_one()
    assert '"approved_by": {"distribution": "dual", "research": "remy"}' in completed.details


def test_asking_for_changes_needs_a_comment_and_resubmission_starts_a_new_round(enclave):
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.in_review)
        workflow.decide(s, app, RES, Committee.research, Outcome.approve, "")
        with pytest.raises(Conflict, match="say in the comment"):
            workflow.decide(s, app, DIST, Committee.distribution, Outcome.request_changes, " ")
        workflow.decide(s, app, DIST, Committee.distribution, Outcome.request_changes, "Drop hpo_terms.")
        assert app.state is ApplicationState.changes_requested
        workflow.update_application(s, app, APPLICANT, purpose="A narrower purpose.")
        workflow.submit(s, app, APPLICANT, POLICY, Catalog(enclave.state), TODAY)
        assert app.review_round == 2 and app.current_decisions() == {}
        # The research committee's earlier approval does not carry over to the changed application.
        workflow.decide(s, app, DIST, Committee.distribution, Outcome.approve, "")
        assert app.state is ApplicationState.in_review


def test_only_the_applicant_edits_and_only_while_editable(enclave):
    with enclave.db.session() as s:
        app = complete_draft(s, enclave)
        with pytest.raises(Refused, match="only the applicant"):
            workflow.update_application(s, app, Actor("bob"), purpose="mine now")
        workflow.submit(s, app, APPLICANT, POLICY, Catalog(enclave.state), TODAY)
        with pytest.raises(Conflict, match="in_review"):
            workflow.update_application(s, app, APPLICANT, purpose="sneaky change under review")


def test_members_and_committees_see_an_application_others_do_not(enclave):
    with enclave.db.session() as s:
        app = complete_draft(s, enclave)
        assert workflow.can_view(s, app, Actor("bob")) and workflow.can_view(s, app, DIST)
        assert not workflow.can_view(s, app, Actor("mallory"))
        with pytest.raises(Refused):
            workflow.check_can_view(s, app, Actor("mallory"))


def test_a_project_name_cannot_be_used_twice(enclave):
    with enclave.db.session() as s:
        at_state(s, enclave, ApplicationState.in_review, slug="taken-name")
        other = complete_draft(s, enclave, slug="taken-name", actor=Actor("carol"), members=())
        missing = workflow.missing_for_submission(s, other, POLICY, Catalog(enclave.state), TODAY)
    assert any("is taken" in m for m in missing)
