"""The transition table is complete and consistent with the contract."""

from cirn.egress.review.states import (EVENTS, FINAL, TRANSITIONS, InvalidTransition, Party, RequestState,
                                       check_transition, mermaid)

import pytest

CONTRACT = {
    ("submitted", "checked"), ("checked", "in_review"), ("in_review", "approved"),
    ("in_review", "changes_requested"), ("in_review", "rejected"), ("approved", "released"),
}


def test_every_transition_says_who_and_which_audit_event():
    for (source, action), step in TRANSITIONS.items():
        assert isinstance(step.who, Party), (source, action)
        assert step.event.startswith("egress.request."), (source, action)
        assert step.target is not source


def test_the_contract_path_is_in_the_table():
    edges = {(s.value, step.target.value) for (s, _), step in TRANSITIONS.items()}
    assert CONTRACT <= edges


def test_every_state_is_reachable_and_final_states_have_no_way_out():
    targets = {step.target for step in TRANSITIONS.values()} | {RequestState.submitted}
    assert targets == set(RequestState)
    for state in FINAL:
        assert not [a for (s, a) in TRANSITIONS if s is state]


def test_withdraw_is_the_requesters_before_a_decision_and_revoke_the_reviewers_after_approval():
    withdraw_from = {s for (s, a) in TRANSITIONS if a == "withdraw"}
    assert RequestState.approved not in withdraw_from and RequestState.released not in withdraw_from
    assert all(TRANSITIONS[(s, "withdraw")].who is Party.requester for s in withdraw_from)
    assert {s for (s, a) in TRANSITIONS if a == "revoke"} == {RequestState.approved, RequestState.released}
    assert all(step.who is Party.reviewer for (s, a), step in TRANSITIONS.items() if a == "revoke")


def test_refusals_name_the_state_and_the_possible_actions():
    with pytest.raises(InvalidTransition, match="released.*revoke"):
        check_transition(RequestState.released, "approve", Party.reviewer)
    with pytest.raises(InvalidTransition, match="final"):
        check_transition(RequestState.withdrawn, "resubmit", Party.requester)
    with pytest.raises(InvalidTransition, match="only the requester"):
        check_transition(RequestState.submitted, "withdraw", Party.reviewer)


def test_other_audited_actions_have_events_and_the_diagram_is_generated():
    assert {"submit", "decide", "comment", "download", "scan"} <= set(EVENTS)
    diagram = mermaid()
    assert diagram.count("-->") == len(TRANSITIONS) + 1


def test_the_documented_state_diagram_is_the_generated_one():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[3] / "egress" / "service" / "README.md"
    assert mermaid() in readme.read_text()
