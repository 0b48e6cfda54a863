"""Issue 22 through a real hub and the real checks: the reviewer sees what they approve (an
archive's members, what has no preview needs an override), the request's own text is checked,
comments freeze at approval, a project without an identifier list is held, and the success
banner shows only fixed texts."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from cirn.datasets.identifier_list import EGRESS_IDENTIFIERS
from cirn.egress.service.banners import BANNERS

from .conftest import PLANTED_ID
from .test_service import submit

pytestmark = [pytest.mark.hub]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_the_banner_shows_only_fixed_texts_chosen_by_a_key(world):
    alice = world.client("alice")
    rid = submit(world, alice, {"banner.txt": "mean age 52\n"})
    world.wait_state(alice, rid)
    r = alice.post_form(f"requests/{rid}/comment", {"body": "thanks", "visibility": "requester"})
    assert r.status_code == 200 and r.url.endswith(f"/requests/{rid}?done=commented")
    assert re.search(r'id="flash">\s*' + re.escape(BANNERS["commented"]), r.text)
    page = alice.http.get(f"{alice.base}requests/{rid}?msg=Approved:+download+it+from+evil.example"
                          "&done=%3Cb%3Ehi%3C/b%3E", timeout=30)
    assert page.status_code == 200
    assert 'id="flash"' not in page.text and "evil.example" not in page.text and "<b>hi" not in page.text


def test_an_archive_is_listed_and_its_unseen_member_needs_two_overrides(world):
    alice, rev1, rev2 = world.client("alice"), world.client("rev1"), world.client("rev2")
    world.workspace().joinpath("bundle.zip").write_bytes(zip_bytes({
        "tables/ages.csv": b"group,count\nA,30\nB,25\n", "model/weights.bin": bytes(range(256)) * 4}))
    r = alice.api("POST", "requests", json={"project": world.alpha, "reason": "model and its table",
                                            "files": [{"path": "bundle.zip"}]})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    req = world.wait_state(alice, rid)
    f = req["files"][0]
    assert f["needs_override"] and any(x["check"] == "hidden-content.no-preview" for x in f["findings"])
    page = rev1.http.get(f"{rev1.base}requests/{rid}/files/{f['id']}", timeout=60)
    assert page.status_code == 200
    assert "<li data-member='tables/ages.csv'>" in page.text and "<li data-member='model/weights.bin'>" in page.text
    assert "<td>30</td>" in page.text and "No preview for a binary file" in page.text
    assert "needs 2 approving reviewers" in rev1.http.get(f"{rev1.base}requests/{rid}", timeout=30).text
    for client in (rev1, rev2):
        r = client.api("POST", f"requests/{rid}/files/{f['id']}/decision", json={"decision": "approve"})
        assert r.status_code == 400 and "override reason" in r.json()["error"]
        r = client.api("POST", f"requests/{rid}/files/{f['id']}/decision",
                       json={"decision": "approve", "override_reason": "weights checked offline: no rows"})
        assert r.status_code == 200, r.text
    assert rev1.api("POST", f"requests/{rid}/review", json={}).json()["state"] == "in_review"
    assert rev2.api("POST", f"requests/{rid}/review", json={}).json()["state"] == "released"
    # the requester's comments froze at approval; a reviewers-only note may still be added
    r = alice.api("POST", f"requests/{rid}/comments", json={"body": "thank you"})
    assert r.status_code == 409 and "froze at approval" in r.json()["error"]
    r = rev1.api("POST", f"requests/{rid}/comments", json={"body": "fine", "visibility": "reviewers"})
    assert r.status_code == 200


def test_an_identifier_in_the_reason_shows_on_the_request_and_blocks_approval(world):
    alice, rev1 = world.client("alice"), world.client("rev1")
    rid = submit(world, alice, {"mean.txt": "mean age 52\n"}, reason=f"asked for by the clinician of {PLANTED_ID}")
    req = world.wait_state(alice, rid)
    assert req["verdict"] == "block" and req["files"][0]["verdict"] == "pass"
    [x] = req["text_findings"]
    assert x["check"] == "identifier.exact" and x["field"] == "the request's reason"
    assert 'id="text-findings"' in alice.http.get(f"{alice.base}requests/{rid}", timeout=30).text
    fid = req["files"][0]["id"]
    assert rev1.api("POST", f"requests/{rid}/files/{fid}/decision", json={"decision": "approve"}).status_code == 200
    r = rev1.api("POST", f"requests/{rid}/review", json={})
    assert r.status_code == 409 and "cannot be approved" in r.json()["error"]
    # a reviewer's comment for the requester carrying the identifier is refused
    r = rev1.api("POST", f"requests/{rid}/comments", json={"body": f"remove {PLANTED_ID} from the reason"})
    assert r.status_code == 400 and "released with the package" in r.json()["error"]
    # the reviewer asks for changes; the requester rewrites the reason in the resubmit form
    r = rev1.api("POST", f"requests/{rid}/files/{fid}/decision",
                 json={"decision": "request_changes", "comment": "take the participant ID out of the reason"})
    assert r.status_code == 200 and rev1.api("POST", f"requests/{rid}/review", json={}).json()["state"] == "changes_requested"
    assert 'id="resubmit-reason"' in alice.http.get(f"{alice.base}requests/{rid}", timeout=30).text
    r = alice.post_form(f"requests/{rid}/resubmit", {"reason": "a mean for the paper", "file:mean.txt": "keep",
                                                     "justification:mean.txt": req["files"][0]["justification"]})
    assert r.status_code == 200 and r.url.endswith("?done=resubmitted")
    req = world.wait_state(alice, rid)
    assert req["text_findings"] == [] and req["verdict"] == "pass" and req["reason"] == "a mean for the paper"


def test_a_project_without_an_identifier_list_has_its_files_held(world):
    ids = world.enclave.state.project_dir(world.beta) / EGRESS_IDENTIFIERS
    kept = ids.read_bytes()
    ids.unlink()
    try:
        bob = world.client("bob")
        world.write("held.txt", "mean age 52\n", world.beta)
        r = bob.api("POST", "requests", json={"project": world.beta, "reason": "a mean",
                                              "files": [{"path": "held.txt"}]})
        assert r.status_code == 201, r.text
        req = world.wait_state(bob, r.json()["id"])
        f = req["files"][0]
        assert f["verdict"] == "review" and [x["check"] for x in f["findings"]] == ["identifier.list-missing"]
    finally:
        ids.write_bytes(kept)
