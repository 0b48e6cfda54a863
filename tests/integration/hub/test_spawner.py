"""The project spawner against a real Docker engine and a real JupyterHub.

Each test asserts something that would be false without the enclave's confinement: who may
start a server, what it mounts, which network it is on, how it runs, and what it refuses.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
import requests

from cirn import projects

from cirn.hub.harness import browser_session, container_of, exec_py

pytestmark = [pytest.mark.docker, pytest.mark.hub]

CLINICAL = "participant,age\nP1,34\nP2,51\n"


@pytest.fixture(scope="module")
def running(world, hub, docker_client):
    """alice runs project A (datasets cohort + notes); project B (other data) runs for bob."""
    a = world.project("alpha", ["alice"], {"cohort": {"clinical.csv": CLINICAL}, "notes": {"readme.txt": "hello"}})
    b = world.project("beta", ["bob"], {"secret": {"other.csv": "x\n1\n"}})
    for user in ("alice", "bob"):
        hub.create_user(user)
    assert hub.start_server("alice", a).status_code in (201, 202), hub.log_tail()
    assert hub.start_server("bob", b).status_code in (201, 202), hub.log_tail()
    return {"a": a, "b": b, "ca": container_of(docker_client, a, "alice"), "cb": container_of(docker_client, b, "bob")}


def test_member_gets_exactly_the_granted_datasets_read_only(running):
    ca = running["ca"]
    rc, out = exec_py(ca, "import os; print(sorted(os.listdir('/data')))")
    assert rc == 0 and out.strip() == "['cohort', 'notes']"
    rc, out = exec_py(ca, "print(open('/data/cohort/clinical.csv').read())")
    assert "P1,34" in out
    rc, out = exec_py(ca, "open('/data/cohort/new.csv','w').write('x')")
    assert rc != 0 and "Read-only file system" in out
    # The workspace is writable and persists on the host.
    rc, out = exec_py(ca, "open('/home/jovyan/project/result.txt','w').write('ok'); print('written')")
    assert rc == 0, out


def test_mounts_are_binds_of_the_extracts_and_workspace_only(running, world):
    attrs = running["ca"].attrs
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    data = world.enclave.state.project_data(running["a"])
    assert set(mounts) == {"/data/cohort", "/data/notes", "/home/jovyan/project"}
    for ds in ("cohort", "notes"):
        assert mounts[f"/data/{ds}"]["Type"] == "bind"
        assert mounts[f"/data/{ds}"]["Source"] == str(data / ds)
        assert mounts[f"/data/{ds}"]["RW"] is False
    assert mounts["/home/jovyan/project"]["RW"] is True
    assert not any("docker.sock" in (m.get("Source") or "") for m in attrs["Mounts"])
    # Another project's data is not there under any name.
    rc, out = exec_py(running["ca"], "import os; print([p for p in os.listdir('/data')])")
    assert "secret" not in out


def test_container_runs_unprivileged_with_policy_limits(running, world):
    ca = running["ca"]
    host = ca.attrs["HostConfig"]
    policy = world.enclave.policy
    profile = policy.resources.profiles[policy.resources.default_profile]
    assert ca.attrs["Config"]["User"] == "1000"
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert host["PidsLimit"] == profile.pids_limit
    assert host["Memory"] == 4 * 1024**3
    assert host["CpuQuota"] == int(profile.cpu_limit * host["CpuPeriod"])
    assert host["ReadonlyRootfs"] is True
    assert ca.attrs["Config"]["Image"] in policy.images.allowed
    rc, out = exec_py(ca, "import os; s=open('/proc/self/status').read(); print(os.getuid()); print(s)")
    assert out.splitlines()[0] == "1000"
    assert re.search(r"^CapEff:\s+0+$", out, re.M) and re.search(r"^NoNewPrivs:\s+1$", out, re.M)


def test_each_project_has_its_own_internal_network(running, docker_client):
    ca, cb = running["ca"], running["cb"]
    nets_a = list(ca.attrs["NetworkSettings"]["Networks"])
    assert nets_a == [f"cirn-proj-{running['a']}"]
    net = docker_client.networks.get(nets_a[0])
    assert net.attrs["Internal"] is True
    ip_b = list(cb.attrs["NetworkSettings"]["Networks"].values())[0]["IPAddress"]
    rc, out = exec_py(ca, f"""
import socket
s = socket.socket(); s.settimeout(3)
try:
    s.connect(('{ip_b}', 8888)); print('REACHED')
except OSError as e:
    print('blocked', e)
""")
    assert "blocked" in out and "REACHED" not in out


def test_cannot_reach_a_canary_on_another_network(running, docker_client):
    canary_net = docker_client.networks.create(f"cirn-canary-{running['a']}", driver="bridge")
    canary = docker_client.containers.run("cirn/base:bookworm", ["python3", "-m", "http.server", "8000"],
                                          detach=True, network=canary_net.name, name=f"cirn-canary-{running['a']}",
                                          labels={"org.cirn.project": running["a"]})
    try:
        canary.reload()
        ip = canary.attrs["NetworkSettings"]["Networks"][canary_net.name]["IPAddress"]
        # The canary really serves: the host reaches it.
        deadline = time.time() + 15
        while True:
            try:
                assert requests.get(f"http://{ip}:8000/", timeout=2).status_code == 200
                break
            except requests.RequestException:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        rc, out = exec_py(running["ca"], f"""
import urllib.request
try:
    urllib.request.urlopen('http://{ip}:8000/', timeout=4); print('REACHED')
except Exception as e:
    print('blocked', type(e).__name__)
""")
        assert "blocked" in out and "REACHED" not in out
    finally:
        canary.remove(force=True)
        canary_net.remove()


def test_no_dns_for_outside_names_but_hub_api_reachable(running):
    rc, out = exec_py(running["ca"], """
import os, socket, urllib.request, json
try:
    socket.gethostbyname('pypi.org'); print('RESOLVED')
except OSError:
    print('no-dns')
url = os.environ['JUPYTERHUB_API_URL']
print(url)
print(json.load(urllib.request.urlopen(url + '/', timeout=5))['version'])
""")
    lines = out.splitlines()
    assert lines[0] == "no-dns", out
    gateway = running["ca"].attrs["NetworkSettings"]["Networks"][f"cirn-proj-{running['a']}"]["Gateway"]
    assert lines[1].startswith(f"http://{gateway}:"), out
    assert re.match(r"\d+\.\d+", lines[2]), out


@pytest.mark.parametrize("case", ["not-member", "suspended", "expired", "closed", "no-such-project"])
def test_refused_spawns_get_403_with_the_reason(case, world, hub, docker_client):
    user = "carol"
    hub.create_user(user)
    members = [] if case == "not-member" else [user]
    slug = world.project(f"refuse-{case}", members, {"cohort": {"a.csv": "x\n1\n"}},
                         expires=dt.date.today() - dt.timedelta(days=1) if case == "expired" else None)
    if case in ("suspended", "closed"):
        with world.session() as s:
            projects.change_status(s, "test", slug, "suspend" if case == "suspended" else "close")
    if case == "no-such-project":
        slug = world.slug("nothing-here")
    r = hub.start_server(user, slug)
    assert r.status_code == 403, (r.status_code, r.text)
    message = r.json()["message"]
    expected = {"not-member": "not a member", "suspended": "is suspended", "expired": "expired on",
                "closed": "is closed", "no-such-project": "no project named"}[case]
    assert expected in message
    assert not docker_client.containers.list(all=True, filters={"label": f"org.cirn.project={slug}"})


def test_downloads_and_exports_refused_by_the_server(running, hub, world):
    browser = browser_session(hub, world.enclave, "alice")
    base = browser.open_server("alice", running["a"])
    r = browser.put(f"{base}/api/contents/project/nb.ipynb",
                    json={"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}})
    assert r.status_code in (200, 201), (r.status_code, r.text)
    assert browser.get(f"{base}/api/contents/project/result.txt").status_code == 200
    for path in ("/files/project/result.txt", "/files/project/result.txt?download=1",
                 "/nbconvert/html/project/nb.ipynb?download=true", "/nbconvert/script/project/nb.ipynb"):
        r = browser.get(base + path, allow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
    lab = browser.get(f"{base}/lab")
    assert lab.status_code == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  lab.text, re.S).group(1))
    for plugin in ("@jupyterlab/docmanager-extension:download", "@jupyterlab/filebrowser-extension:download",
                   "@jupyterlab/filebrowser-extension:share-file", "@jupyterlab/notebook-extension:export"):
        assert plugin in config["disabledExtensions"], plugin


def test_missing_extract_fails_closed_with_a_clear_error(world, hub, docker_client):
    hub.create_user("dave")
    slug = world.project("gap", ["dave"], {"cohort": {"a.csv": "x\n"}})
    import shutil
    folder = world.enclave.state.project_data(slug) / "cohort"
    folder.chmod(0o755)
    shutil.rmtree(folder)
    r = hub.start_server("dave", slug)
    assert r.status_code >= 400
    assert "cohort" in r.json()["message"] and "provision" in r.json()["message"]
    assert not docker_client.containers.list(all=True, filters={"label": f"org.cirn.project={slug}"})
