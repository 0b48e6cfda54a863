"""The state machine is data: every state has an owner, every transition a role and an audit event,
and applying a transition writes exactly that event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cirn.datasets.catalog import Catalog
from cirn.errors import Conflict, Refused
from cirn.hub.applications import provisioning, workflow
from cirn.hub.applications.states import (FINAL, STATE_OWNER, TRANSITIONS, ApplicationState, Committee, Outcome,
                                          Role, actions_from, mermaid)
from cirn.models import AuditEvent

from applications_testing import ADMIN, APPLICANT, DIST, POLICY, RES, TODAY, at_state


def test_every_state_has_an_owner():
    assert set(STATE_OWNER) == set(ApplicationState)
    assert all(STATE_OWNER[s] and all(isinstance(r, Role) for r in STATE_OWNER[s]) for s in ApplicationState)


def test_every_transition_has_a_role_and_an_audit_event():
    for (state, action), t in TRANSITIONS.items():
        assert isinstance(t.who, Role), (state, action)
        assert t.event.startswith("application.") and len(t.event) > len("application."), (state, action)


def test_final_states_have_no_way_out_and_others_do():
    for s in ApplicationState:
        assert bool(actions_from(s)) is (s not in FINAL), s


def test_every_state_is_reachable_from_draft():
    seen, todo = {ApplicationState.draft}, [ApplicationState.draft]
    while todo:
        s = todo.pop()
        for (frm, _), t in TRANSITIONS.items():
            if frm == s and t.to not in seen:
                seen.add(t.to)
                todo.append(t.to)
    assert seen == set(ApplicationState)


def test_diagram_is_generated_from_the_table():
    text = mermaid()
    assert text.count("-->") == len(TRANSITIONS) + 1 + len(FINAL)


ACTOR_FOR = {Role.applicant: APPLICANT, Role.distribution_committee: DIST, Role.research_committee: RES,
             Role.enclave_admin: ADMIN, Role.system: workflow.SYSTEM}


@pytest.mark.parametrize("key", sorted(TRANSITIONS, key=lambda k: (k[0].value, k[1])),
                         ids=lambda k: f"{k[0].value}-{k[1]}")
def test_applying_each_transition_writes_its_event(enclave, key):
    state, action = key
    step = TRANSITIONS[key]
    with enclave.db.session() as s:
        app = at_state(s, enclave, state)
        if action == "complete":
            # Complete is taken by the software when the second approval arrives.
            workflow.decide(s, app, DIST, *_approve("distribution"))
            workflow.decide(s, app, RES, *_approve("research"))
        elif action in ("provision", "auto_provision"):
            app_id = app.id
        elif "." in action:
            committee, outcome = action.split(".")
            workflow.decide(s, app, ACTOR_FOR[step.who], Committee(committee), Outcome(outcome), "a reason")
        elif action == "submit":
            workflow.submit(s, app, APPLICANT, POLICY, Catalog(enclave.state), TODAY)
        else:
            workflow.apply_transition(s, app, ACTOR_FOR[step.who], action)
    if action in ("provision", "auto_provision"):
        provisioning.provision(enclave, app_id, ACTOR_FOR[step.who])
    with enclave.db.session() as s:
        events = [e.action for e in s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()]
        app = workflow.get_application(s, app.id)
    assert step.event in events
    assert app.state is step.to


def _approve(committee):
    return Committee(committee), Outcome.approve, ""


def test_a_transition_not_in_the_table_is_refused_with_the_possible_ones(enclave):
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.draft)
        with pytest.raises(Conflict, match="possible: submit, withdraw"):
            workflow.apply_transition(s, app, ADMIN, "provision")


def test_the_wrong_person_is_refused(enclave):
    with enclave.db.session() as s:
        app = at_state(s, enclave, ApplicationState.approved)
        with pytest.raises(Refused, match="enclave admin"):
            workflow.check_can_take(s, app, APPLICANT, "provision")
        app2 = at_state(s, enclave, ApplicationState.draft, slug="study-two")
        with pytest.raises(Refused, match="only the applicant"):
            workflow.check_can_take(s, app2, DIST, "submit")
