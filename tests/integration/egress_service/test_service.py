"""The egress service behind a real hub: the whole review through the API and the pages, and each
refusal the issue lists (unauthenticated, other project, own-project reviewer, XSRF, traversal,
oversize, malformed notebook) with a clear status and nothing written."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
import requests


pytestmark = [pytest.mark.hub]


def submit(world, client, files: dict[str, str], reason="aggregate counts, all over 10"):
    for name, text in files.items():
        world.write(name, text)
    r = client.api("POST", "requests", json={"project": world.alpha, "reason": reason,
                                             "files": [{"path": n} for n in files]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def decide_all(world, client, rid, decision="approve", **extra):
    req = client.api("GET", f"requests/{rid}").json()
    for f in req["files"]:
        body = {"decision": decision, **extra}
        if f["verdict"] == "block" and decision == "approve":
            body["override_reason"] = "checked by hand: counts are of sites"
        r = client.api("POST", f"requests/{rid}/files/{f['id']}/decision", json=body)
        assert r.status_code == 200, r.text
    return client.api("POST", f"requests/{rid}/review", json={})


def test_unauthenticated_calls_are_refused(world):
    base = f"{world.hub.url}/services/egress/"
    r = requests.get(base + "api/requests", timeout=10)
    assert r.status_code == 401 and "log in" in r.json()["error"]
    r = requests.post(base + "api/requests", json={"project": world.alpha, "files": [{"path": "a"}]}, timeout=10)
    assert r.status_code == 401
    r = requests.get(base + "queue", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]
    r = requests.get(base + "api/requests", headers={"Authorization": "token not-a-token"}, timeout=10)
    assert r.status_code == 401


def test_full_review_through_the_api_with_two_reviewers(world):
    alice, rev1, rev2 = world.client("alice"), world.client("rev1"), world.client("rev2")
    assert rev1.api("GET", "me").json()["reviewer"] is True
    assert alice.api("GET", "me").json()["reviewer"] is False
    rid = submit(world, alice, {"out/ages.csv": "group,count\nA,3\nB,25\n", "out/notes.txt": "mean age 52\n"})
    req = world.wait_state(alice, rid)
    assert req["state"] == "checked"
    # the requester sees the findings before any reviewer
    verdicts = {f["path"]: f["verdict"] for f in req["files"]}
    assert verdicts["out/ages.csv"] == "block"
    assert any(x["check"].startswith("small-count") for f in req["files"] for x in f["findings"])
    assert rid in [r["id"] for r in rev1.api("GET", "queue").json()["requests"]]
    assert decide_all(world, rev1, rid).json()["state"] == "in_review"  # two-person rule
    assert decide_all(world, rev2, rid).json()["state"] == "released"
    r = alice.http.get(f"{alice.base}requests/{rid}/package", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Package-SHA256"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        top = z.namelist()[0].split("/")[0]
        sums = z.read(f"{top}/SHA256SUMS").decode().splitlines()
        for line in sums:
            digest, member = line.split("  ")
            assert hashlib.sha256(z.read(f"{top}/{member}")).hexdigest() == digest
    # other project, reviewers and container tokens cannot download
    assert world.client("bob").http.get(f"{alice.base}api/requests/{rid}/package", timeout=30).status_code == 403
    assert rev1.http.get(f"{alice.base}api/requests/{rid}/package", timeout=30).status_code == 403
    # revoke: downloads stop, audited
    r = rev1.api("POST", f"requests/{rid}/revoke", json={"reason": "consent withdrawn"})
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert alice.http.get(f"{alice.base}api/requests/{rid}/package", timeout=30).status_code == 403
    from cirn import audit
    with world.enclave.db.session() as s:
        assert audit.verify(s) is None
        csv = audit.export_csv(s)
    for action in ("egress.request.submitted", "egress.file.scanned", "egress.file.decided",
                   "egress.request.released", "egress.package.downloaded", "egress.request.revoked"):
        assert action in csv


def test_other_projects_and_own_project_reviewers_are_refused(world):
    alice, bob, rita = world.client("alice"), world.client("bob"), world.client("rita")
    rid = submit(world, alice, {"o.txt": "fine\n"})
    world.wait_state(alice, rid)
    r = bob.api("GET", f"requests/{rid}")
    assert r.status_code == 403 and "only its members" in r.json()["error"]
    assert rid not in [x["id"] for x in bob.api("GET", "requests").json()["requests"]]
    r = bob.api("POST", "requests", json={"project": world.alpha, "reason": "x", "files": [{"path": "o.txt"}]})
    assert r.status_code == 403
    # rita reviews, but is a member of beta: she cannot review beta's request
    world.write("b.txt", "beta result\n", world.beta)
    r = bob.api("POST", "requests", json={"project": world.beta, "reason": "x", "files": [{"path": "b.txt"}]})
    assert r.status_code == 201
    bid = r.json()["id"]
    world.wait_state(bob, bid)
    fid = bob.api("GET", f"requests/{bid}").json()["files"][0]["id"]
    r = rita.api("POST", f"requests/{bid}/files/{fid}/decision", json={"decision": "approve"})
    assert r.status_code == 403 and "member of project" in r.json()["error"]
    assert bid not in [x["id"] for x in rita.api("GET", "queue").json()["requests"]]
    # a researcher is no reviewer
    r = alice.api("POST", f"requests/{bid}/files/{fid}/decision", json={"decision": "approve"})
    assert r.status_code == 403


def test_forged_or_replayed_forms_are_refused_and_write_nothing(world):
    alice = world.client("alice")
    world.write("x.txt", "x\n")
    before = world.count_requests()
    form = {"project": world.alpha, "path": "x.txt", "reason": "why"}
    r = alice.post_form("new", form, xsrf=False)
    assert r.status_code == 403 and "XSRF" in r.text
    r = alice.post_form("new", {**form, "_xsrf": "2|forged|token|1"}, xsrf=False)
    assert r.status_code == 403
    # a token from another person's session does not work either (replayed)
    r = alice.post_form("new", {**form, "_xsrf": world.client("amy").form_xsrf("")}, xsrf=False)
    assert r.status_code == 403
    r = alice.http.post(alice.base + "api/requests", json={"project": world.alpha, "files": [{"path": "x.txt"}],
                                                           "reason": "x"}, timeout=30)
    assert r.status_code in (401, 403)
    assert world.count_requests() == before
    # the real form works
    r = alice.post_form("new", form)
    assert r.status_code == 200 and "/requests/" in r.url


@pytest.mark.parametrize("path,status,words", [
    ("../../../etc/passwd", 400, "leaves the project folder"),
    ("/etc/passwd", 400, "absolute"),
    ("link-out.txt", 403, "outside the project workspace"),
    ("big.bin", 413, "size cap"),
    ("broken.ipynb", 400, "not a valid notebook"),
    ("missing.txt", 400, "does not exist"),
])
def test_bad_files_are_refused_with_a_clear_message_and_nothing_written(world, path, status, words):
    ws = world.workspace()
    if not (ws / "link-out.txt").is_symlink():
        (ws / "link-out.txt").symlink_to(world.enclave.state.secrets)
        with open(ws / "big.bin", "wb") as fh:
            fh.truncate(world.enclave.policy.egress.max_file_bytes + 1)
        (ws / "broken.ipynb").write_text('{"cells": [{"cell_type": "code", "source": ')
        (ws / "ok.txt").write_text("ok\n")
    alice = world.client("alice")
    before, blobs = world.count_requests(), world.store_files()
    r = alice.api("POST", "requests", json={"project": world.alpha, "reason": "why",
                                            "files": [{"path": "ok.txt"}, {"path": path}]})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert world.count_requests() == before and world.store_files() == blobs
    assert not list(world.enclave.state.egress_store.glob("tmp/*"))


def test_oversized_bodies_and_malformed_json_are_refused(world):
    alice = world.client("alice")
    r = alice.api("POST", "requests", data=b"{" + b" " * (300 * 1024) + b"}",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = alice.api("POST", "requests", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = alice.api("POST", "requests", json=["a list"])
    assert r.status_code == 400
