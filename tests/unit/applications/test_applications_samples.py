"""The demo's sample application: submitted complete, waiting for both committees, written once."""

from __future__ import annotations

import pytest

from cirn.errors import Conflict
from cirn.hub.applications import workflow
from cirn.hub.applications.documents import looks_like_pdf, stored_path
from cirn.hub.applications.samples import SAMPLE_APPLICATION, sample_application
from cirn.hub.applications.states import Committee, Outcome, decision_action
from cirn.models import AuditEvent

from applications_testing import DIST, POLICY, RES, TODAY

SPEC = {**SAMPLE_APPLICATION, "datasets": [{"dataset": "clin", "version": "1.0", "columns": ["age", "diagnosis"]}]}


def test_sample_application_is_submitted_with_every_document_and_awaits_both_committees(enclave):
    app_id, state, created = sample_application(enclave, "admin:demo", POLICY, TODAY, SPEC)
    assert (state, created) == ("in_review", True)
    with enclave.db.session() as s:
        app = workflow.get_application(s, app_id)
        assert app.applicant == "bob" and app.members == ["carol"] and app.review_round == 1
        assert sorted(d.kind for d in app.documents) == sorted(d.id for d in POLICY.required_documents)
        assert all(looks_like_pdf(stored_path(enclave.state, d.sha256).read_bytes()) for d in app.documents)
        assert app.pledge_name == "Bob Martin" and app.pledge_sha256 == POLICY.pledge.sha256
        # Either committee may take it up; a committee member who is on the application may not.
        approve = decision_action(Committee.distribution, Outcome.approve)
        assert workflow.can_take(s, app, DIST, approve)
        assert workflow.can_take(s, app, RES, decision_action(Committee.research, Outcome.approve))
        assert not workflow.can_take(s, app, workflow.Actor("carol", DIST.roles), approve)
        actions = [e.action for e in s.query(AuditEvent).filter(AuditEvent.subject == app.subject)]
        assert actions[-2:] == ["application.submitted", "application.sample_created"]


def test_sample_application_is_written_once_and_then_left_as_it_is(enclave):
    first, _, _ = sample_application(enclave, "admin:demo", POLICY, TODAY, SPEC)
    with enclave.db.session() as s:
        workflow.decide(s, workflow.get_application(s, first), DIST, Committee.distribution, Outcome.reject,
                        "Not with this dataset.")
    assert sample_application(enclave, "admin:demo", POLICY, TODAY, SPEC) == (first, "rejected", False)
    with enclave.db.session() as s:
        assert len(workflow.list_applications(s)) == 1


def test_a_sample_that_cannot_be_submitted_leaves_nothing_behind(enclave):
    bad = {**SPEC, "datasets": [{"dataset": "clin", "version": "1.0", "columns": ["shoe_size"]}]}
    with pytest.raises(Conflict, match="shoe_size"):
        sample_application(enclave, "admin:demo", POLICY, TODAY, bad)
    with enclave.db.session() as s:
        assert workflow.list_applications(s) == []
