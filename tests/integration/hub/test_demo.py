"""`cirn demo --no-serve`, the README's first command minus serving: the real CLI on a fresh state folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cirn.datasets.catalog import Catalog
from cirn.enclave import Enclave
from cirn.hub.applications.documents import looks_like_pdf, stored_path
from cirn.hub.applications.samples import SAMPLE_APPLICATION
from cirn.hub.applications.workflow import list_applications, missing_for_submission
from cirn.policies.application_rules import load_application_policy


def cirn(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIRN_HOME": str(home)}
    return subprocess.run([str(Path(sys.executable).with_name("cirn")), *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_demo_prepares_datasets_projects_accounts_and_a_sample_application_and_is_idempotent(tmp_path, images):
    home = tmp_path / "demo"
    first = cirn(home, "demo", "--no-serve")
    assert first.returncode == 0, first.stderr
    assert "project rare-disease-pilot ready" in first.stdout
    accounts = json.loads((home / "secrets" / "demo-accounts.json").read_text())
    assert {"alice", "bob", "carol", "admin"} <= set(accounts)
    assert oct((home / "secrets" / "demo-accounts.json").stat().st_mode & 0o777) == "0o600"
    # The cohort-followup project got only the granted columns, under pseudonyms.
    table = home / "projects" / "cohort-followup" / "data" / "rd-clinical" / "table.parquet"
    cols = duckdb.sql(f"select * from '{table}' limit 1").columns
    assert set(cols) == {"participant_id", "age", "sex", "region", "diagnosis", "diagnosis_date"}
    ids = {r[0] for r in duckdb.sql(f"select participant_id from '{table}'").fetchall()}
    assert not any(i.startswith("RD") for i in ids)  # source IDs never reach a project
    assert "sample application 1 (onset-by-region, by bob) submitted, now in committee review" in first.stdout
    second = cirn(home, "demo", "--no-serve")
    assert second.returncode == 0, second.stderr
    assert "demo datasets present" in second.stdout
    assert "sample application 1 (onset-by-region, by bob) is in committee review" in second.stdout
    assert json.loads((home / "secrets" / "demo-accounts.json").read_text()) == accounts
    verify = cirn(home, "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout
    enclave = Enclave.from_env({"CIRN_HOME": str(home)})
    with enclave.db.session() as s:
        from cirn.models import AuditEvent
        assert s.query(AuditEvent).filter(AuditEvent.action == "dataset.published").count() == 2
        # One sample application (not one per run), submitted complete and waiting for both committees.
        apps = list_applications(s)
        assert [(a.project_slug, a.applicant, a.state.value, a.review_round) for a in apps] == [
            ("onset-by-region", "bob", "in_review", 1)]
        app = apps[0]
        [asked] = SAMPLE_APPLICATION["datasets"]
        assert app.datasets == [{**asked, "columns": sorted(asked["columns"])}] and app.members == ["carol"]
        assert app.decisions == [] and app.pledge_sha256 == load_application_policy().pledge.sha256
        # Every required document is there, stored as the PDF it claims to be.
        policy = load_application_policy()
        assert {d.kind for d in app.documents} == {d.id for d in policy.required_documents}
        for doc in app.documents:
            assert looks_like_pdf(stored_path(enclave.state, doc.sha256).read_bytes())
        assert app.irb_number == "IRB-DEMO-0001" and app.irb_expires > app.requested_start
        # Complete by the same rules the form applies.
        assert missing_for_submission(s, app, policy, Catalog(enclave.state), app.requested_start) == []
        assert s.query(AuditEvent).filter(AuditEvent.action == "application.sample_created",
                                          AuditEvent.actor == "admin:demo").count() == 1


def mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_demo_state_is_private_yet_its_mounts_serve_the_container_user(tmp_path, images, docker_client):
    import docker

    home = tmp_path / "demo"
    done = cirn(home, "demo", "--no-serve")
    assert done.returncode == 0, done.stderr
    for folder in (home, home / "db", home / "secrets", home / "audit", home / "hub", home / "egress",
                   home / "datasets", home / "projects"):
        assert mode(folder) == "0o700", folder
    for file in (home / "db" / "cirn.sqlite", home / "audit" / "anchor.log",
                 home / "secrets" / "audit-chain-key", home / "secrets" / "demo-accounts.json"):
        assert mode(file) == "0o600", file
    assert not [p for p in (home / "db").iterdir() if p.stat().st_mode & 0o077], "a database file others can read"
    # The container user (uid 1000) still reads its extract and writes its workspace, through the
    # bind mounts the spawner makes (the folders above them stay closed).
    data = home / "projects" / "cohort-followup" / "data" / "rd-clinical"
    workspace = home / "projects" / "cohort-followup" / "workspace"
    out = docker_client.containers.run(
        "cirn/notebook:latest", ["python3", "-c",
                                 "import pathlib; print(len(pathlib.Path('/data/rd-clinical/table.parquet').read_bytes()));"
                                 "pathlib.Path('/home/jovyan/project/w.txt').write_text('ok')"],
        user="1000", remove=True, network_mode="none",
        mounts=[docker.types.Mount("/data/rd-clinical", str(data), type="bind", read_only=True),
                docker.types.Mount("/home/jovyan/project", str(workspace), type="bind")])
    assert int(out.decode().strip()) == (data / "table.parquet").stat().st_size
    assert (workspace / "w.txt").read_text() == "ok"


def listening(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses with a socket listening on `port` (from /proc/net/tcp*)."""
    import ipaddress

    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state != "0A" or int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(addr)
            # /proc prints the address as host-order 32-bit words
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw)))
    return found


def lan_addresses() -> list[str]:
    """This host's IPv4 addresses on interfaces that are not loopback or Docker bridges."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return [f.split()[3].split("/")[0] for f in out.splitlines()
            if not f.split()[1].startswith(("lo", "docker", "br-", "veth"))]


def test_hub_api_egress_and_meter_listen_only_on_loopback_and_project_gateways(world, hub, docker_client):
    import socket

    from cirn.hub.harness import container_of, exec_py
    from cirn.hub.network import network_name

    user = "lsn"
    hub.create_user(user)
    slug = world.project("listen", [user], {"cohort": {"a.csv": "x\n1\n"}})
    assert hub.start_server(user, slug).status_code in (201, 202)  # ready: it reached the hub API on its gateway
    gateway = docker_client.networks.get(network_name(slug)).attrs["IPAM"]["Config"][0]["Gateway"]
    container = container_of(docker_client, slug, user)
    rc, out = exec_py(container, f"import socket; socket.create_connection(('{gateway}', {hub.egress_api_port}), 5); print('ok')")
    assert rc == 0 and "ok" in out, out
    for port in (hub.api_port, hub.egress_api_port, hub.meter_api_port):
        # each service polls for new project networks (every 3 s), so the meter may bind its
        # gateway socket a moment after the hub and egress did
        deadline = time.monotonic() + 15
        while gateway not in (addresses := listening(port)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert {"127.0.0.1", gateway} <= addresses, (port, addresses)
        assert not addresses & {"0.0.0.0", "::"}, (port, addresses)
        for lan in lan_addresses():
            assert lan not in addresses
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((lan, port), 3).close()
