"""Factories for application tests: an enclave with a published dataset, actors, and an
application brought to any state the way people would bring it there."""

from __future__ import annotations

import datetime as dt

from cirn.datasets.catalog import Catalog
from cirn.hub.applications import workflow
from cirn.hub.applications.documents import store_bytes
from cirn.hub.applications.samples import CLINICAL_CSV, minimal_pdf
from cirn.hub.applications.states import ApplicationState, Committee, Outcome, Role
from cirn.hub.applications.workflow import Actor
from cirn.policies.application_rules import load_application_policy

TODAY = dt.date(2026, 11, 29)
APPLICANT = Actor("alice", frozenset())
DIST = Actor("dana", frozenset({Role.distribution_committee}))
RES = Actor("remy", frozenset({Role.research_committee}))
ADMIN = Actor("admin", frozenset({Role.enclave_admin}))
POLICY = load_application_policy()


def publish_clinical(enclave, tmp_path, dataset_id="clin", version="1.0"):
    from cirn.datasets.clinical import ingest_clinical

    src = tmp_path / f"{dataset_id}.csv"
    src.write_text(CLINICAL_CSV)
    return ingest_clinical(enclave.state, src, dataset_id, version, source_project="test")


def complete_draft(session, enclave, slug="study-one", actor=APPLICANT, members=("bob",), irb_expires=None,
                   end=None):
    """A draft with every field, document and the pledge: ready to submit."""
    app = workflow.create_application(session, actor, slug, "Variant burden by diagnosis")
    workflow.update_application(
        session, app, actor, purpose="Compare variant burden across diagnoses.", research_plan="Burden tests.",
        infrastructure="Enclave notebooks only.", data_use_plan="Aggregates leave through egress review.",
        requested_start=TODAY, requested_end=end or TODAY + dt.timedelta(days=365), members=list(members),
        datasets=[{"dataset": "clin", "version": "1.0", "columns": ["participant_id", "age", "diagnosis"]}])
    for doc in POLICY.required_documents:
        stored = store_bytes(enclave.state, minimal_pdf(doc.title))
        workflow.add_document(session, app, actor, doc.id, f"{doc.id}.pdf", stored,
                              irb_number="IRB-2026-001" if doc.id == "irb" else None,
                              irb_expires=(irb_expires or TODAY + dt.timedelta(days=200)) if doc.id == "irb" else None)
    workflow.sign_pledge(session, app, actor, POLICY, "Alice Researcher", POLICY.pledge.sha256)
    return app


def at_state(session, enclave, state: ApplicationState, slug="study-one"):
    app = complete_draft(session, enclave, slug)
    if state is ApplicationState.draft:
        return app
    catalog = Catalog(enclave.state)
    workflow.submit(session, app, APPLICANT, POLICY, catalog, TODAY)
    if state is ApplicationState.in_review:
        return app
    if state is ApplicationState.changes_requested:
        return workflow.decide(session, app, DIST, Committee.distribution, Outcome.request_changes, "Narrow it.")
    if state is ApplicationState.rejected:
        return workflow.decide(session, app, RES, Committee.research, Outcome.reject, "No ethics case.")
    if state is ApplicationState.withdrawn:
        return workflow.withdraw(session, app, APPLICANT)
    workflow.decide(session, app, DIST, Committee.distribution, Outcome.approve, "")
    workflow.decide(session, app, RES, Committee.research, Outcome.approve, "")
    assert app.state is ApplicationState.approved
    return app
