"""The expiry rule, provisioning exactly what was approved, and amendments that change a project
only once approved."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from cirn import projects
from cirn.datasets.catalog import Catalog
from cirn.errors import Refused
from cirn.hub.applications import provisioning, workflow
from cirn.hub.applications.states import ApplicationState, Committee, Outcome
from cirn.hub.applications.workflow import Actor, project_expiry

from applications_testing import ADMIN, APPLICANT, DIST, POLICY, RES, TODAY, at_state


def test_expiry_is_the_earlier_of_approved_end_and_irb_expiry():
    end, irb = dt.date(2027, 6, 30), dt.date(2027, 3, 31)
    assert project_expiry(end, irb) == irb
    assert project_expiry(irb, end) == irb
    assert project_expiry(end, end) == end
    assert project_expiry(end, None) == end


def test_provisioning_creates_the_project_exactly_as_approved(enclave):
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.approved)
        app_id, irb = app.id, app.irb_expires
    with pytest.raises(Refused):
        provisioning.provision(enclave, app_id, APPLICANT)
    result = provisioning.provision(enclave, app_id, ADMIN)
    assert result.created and result.members_added == ["alice", "bob"]
    with enclave.db.session() as s:
        p = projects.get_project(s, "study-one")
        assert p.expires == irb
        assert [m.username for m in p.members] == ["alice", "bob"]
        assert [(g.dataset_id, g.version, json.loads(g.columns)) for g in p.grants] == \
            [("clin", "1.0", ["age", "diagnosis", "participant_id"])]
        assert workflow.get_application(s, app_id).state is ApplicationState.provisioned
    table = pq.read_table(enclave.state.project_data("study-one") / "clin" / "table.parquet")
    assert sorted(table.column_names) == ["age", "diagnosis", "participant_id"]
    assert enclave.state.project_workspace("study-one").is_dir()


def test_an_amendment_changes_the_project_only_once_approved(enclave):
    with enclave.db.session() as s:
        app_id = at_state(s, enclave, ApplicationState.approved).id
    provisioning.provision(enclave, app_id, ADMIN)
    bob = Actor("bob")
    with enclave.db.session() as s:
        amend = workflow.start_amendment(s, bob, "study-one")
        assert sorted(amend.everyone) == ["alice", "bob"] and amend.applicant == "bob"
        workflow.update_application(
            s, amend, bob, members=["alice", "bob", "carol"], requested_end=TODAY + dt.timedelta(days=100),
            datasets=[{"dataset": "clin", "version": "1.0", "columns": ["participant_id", "age", "diagnosis", "sex"]}])
        workflow.sign_pledge(s, amend, bob, POLICY, "Bob", POLICY.pledge.sha256)
        workflow.submit(s, amend, bob, POLICY, Catalog(enclave.state), TODAY)
        amend_id = amend.id
    with enclave.db.session() as s:
        p = projects.get_project(s, "study-one")
        assert "carol" not in [m.username for m in p.members]  # not yet approved
        amend = workflow.get_application(s, amend_id)
        workflow.decide(s, amend, RES, Committee.research, Outcome.approve, "")
        workflow.decide(s, amend, DIST, Committee.distribution, Outcome.approve, "")
    result = provisioning.provision(enclave, amend_id, ADMIN)
    assert not result.created and result.members_added == ["carol"]
    with enclave.db.session() as s:
        p = projects.get_project(s, "study-one")
        assert [m.username for m in p.members] == ["alice", "bob", "carol"]
        assert json.loads(p.grants[0].columns) == ["age", "diagnosis", "participant_id", "sex"]
        assert p.expires == TODAY + dt.timedelta(days=100)


def test_only_project_members_may_amend_it(enclave):
    with enclave.db.session() as s:
        app_id = at_state(s, enclave, ApplicationState.approved).id
    provisioning.provision(enclave, app_id, ADMIN)
    with enclave.db.session() as s, pytest.raises(Refused, match="only members"):
        workflow.start_amendment(s, Actor("mallory"), "study-one")
