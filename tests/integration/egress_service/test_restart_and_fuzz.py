"""The service restarted in the middle of a review loses nothing; the API, fuzzed from its own
OpenAPI document with schemathesis (a bounded run), never answers with a 5xx."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import wait_service
from .test_service import decide_all, submit

pytestmark = [pytest.mark.hub]


def service_pid(port: int) -> int:
    """The egress service process the hub started for this test's hub (found by its port)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"cirn.egress.service" in argv and str(port).encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no egress service on port {port}")


def test_restart_mid_review_loses_nothing(world):
    alice, rev1, rev2 = world.client("alice"), world.client("rev1"), world.client("rev2")
    rid = submit(world, alice, {"r/one.txt": "mean 4.2\n", "r/two.csv": "group,count\nA,30\nB,3\n"})
    world.wait_state(alice, rid)
    first = rev1.api("GET", f"requests/{rid}").json()["files"][0]
    assert rev1.api("POST", f"requests/{rid}/files/{first['id']}/decision",
                    json={"decision": "approve"}).status_code == 200
    pending = submit(world, alice, {"r/three.txt": "submitted just before the restart\n"})
    pid = service_pid(world.hub.egress_api_port)
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            new = service_pid(world.hub.egress_api_port)
            if new != pid:
                break
        except AssertionError:
            pass
        time.sleep(1)
    wait_service(world.hub)
    req = rev1.api("GET", f"requests/{rid}").json()
    assert req["state"] == "in_review"
    assert [d["decision"] for d in req["files"][0]["decisions"]] == ["approve"]
    assert world.wait_state(alice, pending)["state"] == "checked"  # the scan queue survived too
    assert decide_all(world, rev1, rid).json()["state"] == "in_review"
    assert decide_all(world, rev2, rid).json()["state"] == "released"


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error(world, tmp_path):
    # rita is both a reviewer and a member of beta: one token reaches every endpoint's logic
    world.client("rita")  # log in once, so the hub knows her groups (and so her scopes)
    token = world.hub.user_token("rita")
    world.write("fuzz.txt", "fuzz target\n", world.beta)
    url = f"{world.hub.url}/services/egress/api/openapi.json"
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [str(st), "run", url, "--checks", "not_a_server_error", "--max-examples", "4",
         "--header", f"Authorization: token {token}", "--request-timeout", "30",
         "--generation-deterministic", "--suppress-health-check", "all"],
        capture_output=True, text=True, timeout=540, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert requests.get(url, timeout=10).status_code == 200
