"""A project without an identifier list has its files held for review, not scanned silently
without identifiers (issue 22)."""

from __future__ import annotations

from cirn.egress.review.checking import PROJECT_IDENTIFIERS
from cirn.egress.review.desk import ReleaseDesk

from .conftest import submit


def test_files_of_a_project_without_an_identifier_list_are_held_for_two_reviewers(enclave, desk, people, ws):
    (enclave.state.project_dir("alpha") / PROJECT_IDENTIFIERS).unlink()
    rid = submit(desk, people, ws, {"notes.txt": "mean age 52\n"})
    req = desk.get(people["rev1"], rid)
    f = req.files[0]
    assert f.verdict == "review" and req.verdict == "review"
    [finding] = f.findings
    assert finding["check"] == "identifier.list-missing" and finding["severity"] == "review"
    assert PROJECT_IDENTIFIERS in finding["message"] and "provisioning" in finding["message"]
    assert desk.required_approvals(req) == 2


def test_a_block_finding_stays_block_and_keeps_its_own_findings(enclave, desk, people, ws):
    (enclave.state.project_dir("alpha") / PROJECT_IDENTIFIERS).unlink()
    rid = submit(desk, people, ws, {"block.csv": "n\n3\n"})
    f = desk.get(people["rev1"], rid).files[0]
    assert f.verdict == "block"
    assert [x["check"] for x in f.findings] == ["small-count.threshold", "identifier.list-missing"]


def test_an_empty_list_is_a_list_and_files_are_not_held(enclave, desk, people, ws):
    (enclave.state.project_dir("alpha") / PROJECT_IDENTIFIERS).write_text("")
    rid = submit(desk, people, ws, {"notes.txt": "mean age 52\n"})
    assert desk.get(people["rev1"], rid).files[0].verdict == "pass"


def test_the_real_checks_hold_a_file_of_a_project_without_a_list(enclave, people, ws):
    """With the real engine: a clean text file, which passes with a list, is held without one."""
    (enclave.state.project_dir("alpha") / PROJECT_IDENTIFIERS).unlink()
    desk = ReleaseDesk(enclave)
    (ws / "t.txt").write_text("mean age 52\n")
    rid = desk.submit(people["alice"], "alpha", [{"path": "t.txt"}], "a summary")
    desk.run_checks(rid)
    f = desk.get(people["rev1"], rid).files[0]
    assert f.verdict == "review" and any(x["check"] == "identifier.list-missing" for x in f.findings)
