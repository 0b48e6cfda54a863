"""The request's own text is checked like a file, with the real checks engine (issue 22): its
reason, paths, justifications and the comments the requester sees leave in manifest.json, so
identifiers and personal data in them hold the request; comments freeze at approval."""

from __future__ import annotations

import pytest

from cirn.errors import Conflict
from cirn.egress.review.desk import InvalidSubmission, ReleaseDesk
from cirn.egress.review.states import RequestState

PSEUDONYM = "P-AAAAAAAAAAAAAAAA"  # on alpha's identifier list (conftest)


@pytest.fixture
def real_desk(enclave):
    return ReleaseDesk(enclave)


def submit(desk, people, ws, files: dict[str, str], reason: str, justifications: dict | None = None) -> int:
    for name, text in files.items():
        (ws / name).write_text(text)
    rid = desk.submit(people["alice"], "alpha",
                      [{"path": n, "justification": (justifications or {}).get(n, "")} for n in files], reason)
    desk.run_checks(rid)
    return rid


def approve(desk, person, rid):
    for f in desk.get(person, rid).files:
        desk.decide(person, rid, f.id, "approve")
    return desk.submit_review(person, rid)


def test_an_identifier_in_the_reason_blocks_the_request_until_the_requester_rewrites_it(real_desk, people, ws):
    d = real_desk
    rid = submit(d, people, ws, {"notes.txt": "mean age 52\n"}, f"numbers asked for by {PSEUDONYM}'s clinician")
    req = d.get(people["rev1"], rid)
    assert req.files[0].verdict == "pass" and req.verdict == "block"
    [f] = req.text_findings
    assert f["check"] == "identifier.exact" and f["severity"] == "block"
    assert f["location"].startswith("the request's reason, line 1, col ") and PSEUDONYM not in f["message"]
    assert d.required_approvals(req) == 2
    fid = req.files[0].id
    d.decide(people["rev1"], rid, fid, "approve")
    with pytest.raises(Conflict, match="its own text.*identifier.exact in the request's reason"):
        d.submit_review(people["rev1"], rid)
    d.decide(people["rev1"], rid, fid, "request_changes", comment="take the ID out of the reason")
    assert d.submit_review(people["rev1"], rid) is RequestState.changes_requested
    # the file's justification was the old reason (it is copied when a file has none)
    assert PSEUDONYM in req.files[0].justification
    d.resubmit(people["alice"], rid, reason="numbers for the paper")  # the copied justification follows
    d.run_checks(rid)
    req = d.get(people["rev1"], rid)
    assert req.text_findings == [] and req.verdict == "pass" and d.required_approvals(req) == 1
    assert req.files[0].justification == "numbers for the paper"
    assert approve(d, people["rev2"], rid) is RequestState.released


def test_findings_in_paths_and_justifications_name_their_field(real_desk, people, ws):
    rid = submit(real_desk, people, ws, {f"{PSEUDONYM}.txt": "mean age 52\n", "b.txt": "n = 40\n"},
                 "summary statistics", {"b.txt": "mail rita.kim@example.org for the method"})
    req = real_desk.get(people["rev1"], rid)
    where = {f["field"]: f["check"] for f in req.text_findings}
    assert where["file 1's path"] == "identifier.exact"
    assert where["file 2's justification"].startswith("pii.")


def test_a_comment_for_the_requester_is_scanned_and_one_with_an_identifier_refused(real_desk, people, ws):
    d = real_desk
    rid = submit(d, people, ws, {"notes.txt": "mean age 52\n"}, "summary statistics")
    fid = d.get(people["rev1"], rid).files[0].id
    with pytest.raises(InvalidSubmission, match="released with the package.*identifier.exact"):
        d.comment(people["rev1"], rid, f"row of {PSEUDONYM} looks odd")
    with pytest.raises(InvalidSubmission, match="released with the package"):
        d.decide(people["rev1"], rid, fid, "request_changes", comment=f"drop {PSEUDONYM}")
    d.comment(people["rev1"], rid, f"row of {PSEUDONYM} looks odd", visibility="reviewers")  # never leaves
    assert d.get(people["rev1"], rid).text_findings == []
    # a review-level finding (an e-mail address) holds the request: now two reviewers must approve
    d.comment(people["alice"], rid, "questions to amy.lee@example.org please")
    req = d.get(people["rev1"], rid)
    assert [f["field"] for f in req.text_findings] == ["a comment by alice (round 1)"]
    assert req.verdict == "review" and d.required_approvals(req) == 2
    assert approve(d, people["rev1"], rid) is RequestState.in_review
    assert approve(d, people["rev2"], rid) is RequestState.released


def test_comments_the_requester_sees_freeze_at_approval(real_desk, people, ws):
    d = real_desk
    rid = submit(d, people, ws, {"notes.txt": "mean age 52\n"}, "summary statistics")
    assert approve(d, people["rev1"], rid) is RequestState.released
    for who in ("rev1", "alice"):
        with pytest.raises(Conflict, match="froze at approval"):
            d.comment(people[who], rid, "one more thing")
    d.comment(people["rev1"], rid, "released after a call with the PI", visibility="reviewers")
    d.revoke(people["rev1"], rid, "consent withdrawn")
    with pytest.raises(Conflict, match="froze at approval"):
        d.comment(people["rev2"], rid, "revoked, sorry")
    bodies = [c.body for c in d.get(people["rev1"], rid).comments]
    assert bodies == ["released after a call with the PI"]
