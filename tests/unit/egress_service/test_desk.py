"""The release desk's rules, with a real database and content store: two-person rule, block override,
snapshot rule, who may review, resubmission, release package, revocation, audit."""

from __future__ import annotations

import hashlib
import zipfile

import pytest
from sqlalchemy import func, select

from cirn import audit
from cirn.errors import Conflict, Refused
from cirn.models import AuditEvent
from cirn.egress.review.desk import InvalidSubmission
from cirn.egress.review.package import verify_package
from cirn.egress.review.states import RequestState

from .conftest import submit


def events(desk, subject):
    with desk.enclave.db.session() as s:
        return [e.action for e in s.execute(select(AuditEvent).where(AuditEvent.subject == subject)
                                            .order_by(AuditEvent.seq)).scalars()]


def approve_all(desk, person, rid, override=""):
    req = desk.get(person, rid)
    for f in req.files:
        desk.decide(person, rid, f.id, "approve", override_reason=override if f.verdict == "block" else "")
    return desk.submit_review(person, rid)


def test_a_clean_request_needs_one_approval_and_is_released_with_verifiable_checksums(desk, people, ws):
    rid = submit(desk, people, ws, {"a.txt": "mean age 52\n", "out/b.txt": "ok\n"})
    assert desk.get(people["alice"], rid).state is RequestState.checked
    assert approve_all(desk, people["rev1"], rid) is RequestState.released
    path, release = desk.package_for_download(people["amy"], rid)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == release.sha256
    assert verify_package(path) == []
    with zipfile.ZipFile(path) as z:
        assert sorted(n.split("/", 1)[1] for n in z.namelist()) == ["SHA256SUMS", "files/a.txt", "files/out/b.txt",
                                                                     "manifest.json"]
    assert events(desk, f"egress-request/{rid}") == [
        "egress.request.submitted", "egress.file.scanned", "egress.file.scanned",
        "egress.file.scanned",  # the request's own text (manifest_scan)
        "egress.request.checked",
        "egress.request.review_started", "egress.file.decided", "egress.file.decided", "egress.review.submitted",
        "egress.request.approved", "egress.request.released", "egress.package.downloaded"]
    with desk.enclave.db.session() as s:
        assert audit.verify(s) is None


def test_a_review_finding_needs_two_independent_reviewers(desk, people, ws):
    rid = submit(desk, people, ws, {"review.csv": "n\n3\n"})
    assert approve_all(desk, people["rev1"], rid) is RequestState.in_review
    with pytest.raises(Conflict, match="already submitted"):
        approve_all(desk, people["rev1"], rid)
    assert approve_all(desk, people["rev2"], rid) is RequestState.released


def test_approving_a_block_finding_needs_an_override_reason(desk, people, ws):
    rid = submit(desk, people, ws, {"block.csv": "n\n3\n"})
    fid = desk.get(people["rev1"], rid).files[0].id
    with pytest.raises(InvalidSubmission, match="override reason"):
        desk.decide(people["rev1"], rid, fid, "approve")
    desk.decide(people["rev1"], rid, fid, "approve", override_reason="3 is a count of sites, not people")
    desk.submit_review(people["rev1"], rid)
    assert approve_all(desk, people["rev2"], rid, override="agreed: sites") is RequestState.released


@pytest.mark.parametrize("who", ["alice", "amy", "bob"])
def test_the_requester_members_and_non_reviewers_cannot_review(desk, people, ws, who):
    rid = submit(desk, people, ws, {"a.txt": "x\n"})
    fid = desk.get(people["alice"], rid).files[0].id
    person = people[who]
    if who != "bob":
        person = desk.person(who, reviewer=True)  # even holding the reviewer scope
    with pytest.raises(Refused):
        desk.decide(person, rid, fid, "approve")
    assert desk.get(people["alice"], rid).state is RequestState.checked


def test_a_reviewer_who_is_a_member_of_the_project_cannot_review_it(desk, people, enclave):
    ws = enclave.state.project_workspace("beta")
    (ws / "t.txt").write_text("x\n")
    rid = desk.submit(people["bob"], "beta", [{"path": "t.txt"}], "why")
    desk.run_checks(rid)
    with pytest.raises(Refused, match="member of project 'beta'"):
        desk.decide(people["rita"], rid, desk.get(people["bob"], rid).files[0].id, "approve")
    assert all(r.project != "beta" for r in desk.queue(people["rita"]))


def test_other_projects_cannot_see_submit_or_download(desk, people, ws):
    rid = submit(desk, people, ws, {"a.txt": "x\n"})
    with pytest.raises(Refused):
        desk.get(people["bob"], rid)
    with pytest.raises(Refused):
        desk.submit(people["bob"], "alpha", [{"path": "a.txt"}], "mine now")
    approve_all(desk, people["rev1"], rid)
    with pytest.raises(Refused):
        desk.package_for_download(people["bob"], rid)
    with pytest.raises(Refused, match="outside the enclave"):
        desk.package_for_download(desk.person("alice", container_project="alpha"), rid)
    with pytest.raises(Refused, match="only members"):
        desk.package_for_download(people["rev1"], rid)


def test_the_snapshot_is_what_is_released_whatever_happens_in_the_workspace(desk, people, ws):
    rid = submit(desk, people, ws, {"a.txt": "original\n"})
    (ws / "a.txt").write_text("changed after submission\n")
    approve_all(desk, people["rev1"], rid)
    path, _ = desk.package_for_download(people["alice"], rid)
    with zipfile.ZipFile(path) as z:
        member = next(n for n in z.namelist() if n.endswith("files/a.txt"))
        assert z.read(member) == b"original\n"


def test_changes_requested_then_resubmitted_with_a_new_snapshot(desk, people, ws):
    rid = submit(desk, people, ws, {"a.txt": "fine\n", "b.txt": "phone 010-1234-5678\n"})
    req = desk.get(people["rev1"], rid)
    a, b = req.files
    desk.decide(people["rev1"], rid, a.id, "approve")
    desk.decide(people["rev1"], rid, b.id, "reject", comment="remove the phone number")
    assert desk.submit_review(people["rev1"], rid) is RequestState.changes_requested
    seen = desk.get(people["alice"], rid)
    assert [c.body for c in seen.comments] == ["remove the phone number"]
    (ws / "b.txt").write_text("no phone\n")
    desk.resubmit(people["alice"], rid, files=[{"path": "b.txt"}])
    req = desk.get(people["alice"], rid)
    assert req.state is RequestState.submitted and req.round == 2
    desk.run_checks(rid)
    assert approve_all(desk, people["rev1"], rid) is RequestState.released
    path, _ = desk.package_for_download(people["alice"], rid)
    with zipfile.ZipFile(path) as z:
        assert z.read(next(n for n in z.namelist() if n.endswith("files/b.txt"))) == b"no phone\n"


def test_only_the_requester_withdraws_and_only_before_a_decision(desk, people, ws):
    rid = submit(desk, people, ws, {"a.txt": "x\n"})
    with pytest.raises(Refused):
        desk.withdraw(people["amy"], rid)
    desk.withdraw(people["alice"], rid)
    assert desk.get(people["alice"], rid).state is RequestState.withdrawn
    rid2 = submit(desk, people, ws, {"c.txt": "y\n"})
    approve_all(desk, people["rev1"], rid2)
    with pytest.raises(Conflict):
        desk.withdraw(people["alice"], rid2)


def test_revoking_a_release_stops_downloads_and_decisions_cannot_change_after_release(desk, people, ws):
    rid = submit(desk, people, ws, {"a.txt": "x\n"})
    approve_all(desk, people["rev1"], rid)
    fid = desk.get(people["rev1"], rid).files[0].id
    with pytest.raises(Conflict, match="cannot be changed"):
        desk.decide(people["rev2"], rid, fid, "reject", comment="too late")
    with pytest.raises(InvalidSubmission):
        desk.revoke(people["rev2"], rid, "")
    desk.revoke(people["rev2"], rid, "a participant withdrew consent")
    with pytest.raises(Refused):
        desk.package_for_download(people["alice"], rid)
    assert "egress.request.revoked" in events(desk, f"egress-request/{rid}")


def test_duplicate_content_is_stored_once(desk, people, ws):
    for i in range(3):
        submit(desk, people, ws, {f"copy{i}.txt": "same bytes\n"})
    blobs = [p for p in desk.store.root.glob("??/*")]
    assert len(blobs) == 1


def test_the_reviewer_queue_is_oldest_first_and_refused_to_non_reviewers(desk, people, ws):
    first = submit(desk, people, ws, {"a.txt": "x\n"})
    second = submit(desk, people, ws, {"b.txt": "y\n"})
    assert [r.id for r in desk.queue(people["rev1"])] == [first, second]
    with pytest.raises(Refused):
        desk.queue(people["alice"])


def test_a_request_needs_a_reason_for_each_file(desk, people, ws):
    (ws / "a.txt").write_text("x")
    with pytest.raises(InvalidSubmission, match="safe to release"):
        desk.submit(people["alice"], "alpha", [{"path": "a.txt"}], "")
    with desk.enclave.db.session() as s:
        assert s.execute(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.action == "egress.request.submitted")).scalar() == 0
