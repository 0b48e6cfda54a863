"""`cirn-egress submit` inside a real project container, with the server's own token, over the
project network's gateway: it submits, sees the findings, and can act for its own project only."""

from __future__ import annotations

import json

import pytest
import requests

from cirn.hub.harness import container_of, remove_test_objects

pytestmark = [pytest.mark.hub, pytest.mark.docker]


@pytest.fixture(scope="module")
def server(world, docker_client, images):
    world.client("alice")
    world.client("bob")
    r = world.hub.start_server("alice", world.alpha, timeout=150)
    assert r.status_code in (201, 202), r.text
    yield container_of(docker_client, world.alpha, "alice")
    world.hub.stop_server("alice", world.alpha)
    remove_test_objects(docker_client, world.prefix)


def sh(container, *argv):
    rc, out = container.exec_run(list(argv), user="1000", workdir="/home/jovyan")
    return rc, out.decode(errors="replace")


def test_submit_from_the_container_with_the_servers_token(world, server):
    world.write("c/table.csv", "group,count\nA,4\nB,40\n")
    world.write("c/notes.txt", "mean age 52\n")
    for p in ("c", "c/table.csv", "c/notes.txt"):
        import os
        os.chown(world.workspace() / p, 1000, 1000)
    rc, out = sh(server, "cirn-egress", "submit", "project/c/table.csv", "project/c/notes.txt",
                 "--reason", "aggregate counts for the paper", "--wait")
    assert rc == 0, out
    assert "submitted with 2 file(s)" in out and "small-count" in out, out
    rid = int(out.split("request ", 1)[1].split()[0])
    req = world.client("alice").api("GET", f"requests/{rid}").json()
    assert req["requester"] == "alice" and req["project"] == world.alpha
    rc, out = sh(server, "cirn-egress", "list")
    assert rc == 0 and str(rid) in out


def test_the_container_cannot_send_files_from_outside_the_project_folder(world, server):
    rc, out = sh(server, "cirn-egress", "submit", "/etc/passwd", "--reason", "x")
    assert rc != 0 and "not inside the project folder" in out
    rc, out = sh(server, "ln", "-sf", "/etc/passwd", "/home/jovyan/project/passwd-link")
    rc, out = sh(server, "cirn-egress", "submit", "project/passwd-link", "--reason", "x")
    assert rc == 1 and "outside the project workspace" in out, out


def test_the_servers_token_speaks_for_its_own_project_only(world, server):
    world.write("b.txt", "beta\n", world.beta)
    bid = world.client("bob").api("POST", "requests", json={"project": world.beta, "reason": "x",
                                                            "files": [{"path": "b.txt"}]}).json()["id"]
    code = f"""
import json, os, urllib.request, urllib.error
base = os.environ["CIRN_EGRESS_URL"].rstrip("/") + "/api/"
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}})
    try:
        return urllib.request.urlopen(req, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code
print(json.dumps({{
  "other_project_submit": call("POST", "requests", {{"project": "{world.beta}", "reason": "x", "files": [{{"path": "b.txt"}}]}}),
  "other_project_read": call("GET", "requests/{bid}"),
  "queue": call("GET", "queue"),
  "me": call("GET", "me"),
}}))
"""
    rc, out = sh(server, "python3", "-c", code)
    assert rc == 0, out
    codes = json.loads(out.strip().splitlines()[-1])
    assert codes == {"other_project_submit": 403, "other_project_read": 403, "queue": 403, "me": 200}


def released(world, files: dict[str, str]) -> int:
    """A request of alice's on alpha, approved and released by the reviewers."""
    from .test_service import decide_all, submit
    rid = submit(world, world.client("alice"), files)
    world.wait_state(world.client("alice"), rid)
    state = decide_all(world, world.client("rev1"), rid).json()["state"]
    if state != "released":
        state = decide_all(world, world.client("rev2"), rid).json()["state"]
    assert state == "released"
    return rid


def test_packages_are_not_downloaded_from_inside_whatever_the_headers_say(world, server):
    """A member's own token, from the project network, with headers claiming loopback: refused.
    The same token from outside, through the proxy, downloads; a forwarded address the client
    wrote itself is not believed either way."""
    rid = released(world, {"origin/summary.txt": "mean age 52\n"})
    token = world.hub.user_token("alice")
    code = f"""
import json, os, urllib.request, urllib.error
url = os.environ["CIRN_EGRESS_URL"].rstrip("/") + "/api/requests/{rid}/package"
out = {{}}
for name, extra in (("plain", {{}}), ("spoofed", {{"X-Real-IP": "127.0.0.1", "X-Forwarded-For": "127.0.0.1"}})):
    req = urllib.request.Request(url, headers={{"Authorization": "token " + os.environ["MEMBER_TOKEN"], **extra}})
    try:
        out[name] = [urllib.request.urlopen(req, timeout=30).status, ""]
    except urllib.error.HTTPError as e:
        out[name] = [e.code, json.loads(e.read() or b"{{}}").get("error", "")]
print(json.dumps(out))
"""
    rc, out = server.exec_run(["python3", "-c", code], user="1000", environment={"MEMBER_TOKEN": token})
    out = out.decode(errors="replace")
    assert rc == 0, out
    codes = json.loads(out.strip().splitlines()[-1])
    assert codes["plain"][0] == 403 and codes["spoofed"][0] == 403, codes
    assert "from outside the enclave" in codes["spoofed"][1]
    r = world.token_api(token, "GET", f"requests/{rid}/package")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip", r.text[:300]
    server.reload()
    container_ip = server.attrs["NetworkSettings"]["Networks"][f"cirn-proj-{world.alpha}"]["IPAddress"]
    r = requests.get(f"{world.hub.url}/services/egress/api/requests/{rid}/package", timeout=60,
                     headers={"Authorization": f"token {token}", "X-Forwarded-For": container_ip})
    assert r.status_code == 200, r.text[:300]  # the proxy appends the real peer; the client's entry is ignored
