"""A file the reviewer's page cannot show (or shows only in part) is held: two approvals, and
approving it needs a written override reason, enforced by the desk, not only the page (issue 22)."""

from __future__ import annotations

import pytest

from cirn.egress.review.desk import InvalidSubmission
from cirn.egress.review.previews import NO_PREVIEW, TRUNCATED, MAX_ROWS
from cirn.egress.review.states import RequestState

from .test_previews import zip_of


def submit_bytes(desk, people, ws, files: dict[str, bytes]) -> int:
    for name, data in files.items():
        (ws / name).write_bytes(data)
    rid = desk.submit(people["alice"], "alpha", [{"path": n} for n in files], "results")
    desk.run_checks(rid)
    return rid


@pytest.mark.parametrize("name,data,check", [
    ("model.bin", b"\x00\x01\x02 weights", NO_PREVIEW),
    ("bundle.zip", None, NO_PREVIEW),  # a zip holding a binary member
    ("rows.csv", ("g,n\n" + "a,12\n" * (MAX_ROWS + 5)).encode(), TRUNCATED),
])
def test_an_unseen_file_needs_two_approvals_and_an_override_each(desk, people, ws, name, data, check):
    data = data if data is not None else zip_of({"ok.txt": b"fine\n", "w.bin": b"\x00\x00\x01"})
    rid = submit_bytes(desk, people, ws, {name: data})
    req = desk.get(people["rev1"], rid)
    f = req.files[0]
    # the stub checks passed it; the desk holds it all the same
    assert f.verdict == "review" and [x["check"] for x in f.findings] == [check]
    assert desk.required_approvals(req) == 2
    for rev in ("rev1", "rev2"):
        with pytest.raises(InvalidSubmission, match="cannot show in full.*override reason"):
            desk.decide(people[rev], rid, f.id, "approve")
        desk.decide(people[rev], rid, f.id, "approve", override_reason="opened it offline: model weights, no rows")
    assert desk.submit_review(people["rev1"], rid) is RequestState.in_review
    assert desk.submit_review(people["rev2"], rid) is RequestState.released
    decisions = [r.override_reason for r in desk.get(people["rev1"], rid).reviews]
    assert decisions == ["opened it offline: model weights, no rows"] * 2


def test_a_file_that_is_all_shown_needs_no_override(desk, people, ws):
    rid = submit_bytes(desk, people, ws, {"t.csv": b"g,n\na,12\n", "z.zip": zip_of({"a.txt": b"hello\n"})})
    req = desk.get(people["rev1"], rid)
    assert {f.verdict for f in req.files} == {"pass"} and desk.required_approvals(req) == 1
    for f in req.files:
        desk.decide(people["rev1"], rid, f.id, "approve")
    assert desk.submit_review(people["rev1"], rid) is RequestState.released


def test_rejecting_an_unseen_file_needs_no_override(desk, people, ws):
    rid = submit_bytes(desk, people, ws, {"m.bin": b"\x00\x01"})
    f = desk.get(people["rev1"], rid).files[0]
    desk.decide(people["rev1"], rid, f.id, "request_changes", comment="export it as CSV")
    assert desk.submit_review(people["rev1"], rid) is RequestState.changes_requested
