"""The playbook applied for real to a disposable Debian 12 host that runs systemd.

The target is a container from the project's own debootstrap base (`cirn/base:bookworm`, built
by `cirn images build`) plus systemd and the Debian packages the playbook installs
(Dockerfile.target: apt inside `docker build` reaches the Debian mirror on this machine, so the
derived image is a plain Dockerfile; the packages are preinstalled so that the playbook run
itself needs no mirror: the test inventory sets cirn_apt_update_cache: false).

It runs with `--cap-add SYS_ADMIN` (systemd), `--cap-add NET_ADMIN` (nftables, in the target's
own network namespace only), `--tmpfs /run --tmpfs /run/lock` and the host's cgroup tree read-only
(`--privileged` fails on this machine). Ansible reaches it with the community.docker.docker
connection (bundled with the `ansible` package; no SSH).

The target cannot run a Docker engine of its own here (no privileges for one), so it is given the
HOST's engine through its socket (/var/run/docker.sock) and the test inventory sets
cirn_docker_manage_engine: false: daemon.json is written but the engine is not restarted. Two
consequences, handled by the test and not by the playbook:
- The state folder must have the same path on the host and in the target, because the host's
  engine resolves the spawner's bind mounts: a temporary folder is mounted at its own path.
- On a real host the hub API listens on the host, which owns each project network's gateway
  address. Here the gateway belongs to the test host, so the test pre-creates the project's
  internal network with a subnet in cirn_project_address_pool, connects the target to it, and
  forwards <gateway>:<hub API port> to the target's address on that network. The connections the
  project container makes thus arrive at the target from a project-network address, through the
  firewall rule that admits them.
The public side (HTTPS) is checked from inside the target: the test inventory uses the demo login,
which only serves on loopback.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cirn.images.build import cache_dir

pytestmark = [pytest.mark.docker]

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_DIR = REPO / "ansible"
HERE = Path(__file__).parent
TARGET_IMAGE = "cirn-test/ansible-target:bookworm"
HUB_API_PORT, EGRESS_API_PORT = 18081, 18082
VENV = "/opt/cirn/venv"
SLUG = "deploy-check"
USER, PASSWORD = "alice", "alice-deploy-check-pw"


def run(cmd, timeout=900, check=True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd[:4]} exit {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    return proc


def target_image(images) -> str:
    """Build the systemd target image over the current base, once per base and Dockerfile."""
    base_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", "cirn/base:bookworm"]).stdout.strip()
    digest = f"{base_id}:{hash((HERE / 'Dockerfile.target').read_text()) & 0xFFFFFFFF:x}"
    have = run(["docker", "image", "inspect", "-f", '{{index .Config.Labels "org.cirn.inputs"}}', TARGET_IMAGE],
               check=False).stdout.strip()
    if have != digest:
        run(["docker", "build", "-q", "--label", f"org.cirn.inputs={digest}", "-t", TARGET_IMAGE,
             "-f", str(HERE / "Dockerfile.target"), str(HERE)])
    return TARGET_IMAGE


def wheelhouse() -> str:
    """The enclave's wheelhouse, built by the playbook's staging step (cached by content)."""
    out = cache_dir() / "ansible"
    proc = run([str(Path(sys.executable).with_name("ansible-playbook")), "wheelhouse.yml",
                "-e", f"cirn_wheelhouse_out={out}"], cwd=ANSIBLE_DIR)
    return re.search(r"cirn_wheelhouse_archive: (\S+\.tar)", proc.stdout).group(1)


class Target:
    def __init__(self, name: str, home: Path):
        self.name, self.home = name, home

    def sh(self, script: str, check=True, timeout=300) -> subprocess.CompletedProcess:
        return run(["docker", "exec", self.name, "bash", "-c", script], check=check, timeout=timeout)

    def py(self, code: str, check=True, timeout=300) -> subprocess.CompletedProcess:
        return run(["docker", "exec", "-i", self.name, f"{VENV}/bin/python", "-"], input=code, check=check,
                   timeout=timeout)

    def playbook(self, *args, check=True, timeout=900) -> subprocess.CompletedProcess:
        return run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "inventories/test", "site.yml",
                    "-e", f"cirn_test_target={self.name}", "-e", f"cirn_home={self.home}",
                    "-e", f"cirn_hub_api_port={HUB_API_PORT}", "-e", f"cirn_egress_api_port={EGRESS_API_PORT}",
                    *args], cwd=ANSIBLE_DIR, check=check, timeout=timeout)


def recap(proc) -> dict:
    line = next(l for l in proc.stdout.splitlines() if "unreachable=" in l)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


@pytest.fixture(scope="module")
def deployed(images, tmp_path_factory):
    image = target_image(images)
    archive = wheelhouse()
    name = f"cirn-ansible-{secrets.token_hex(4)}"
    base = Path(f"/tmp/{name}")
    base.mkdir()
    home = base / "srv" / "cirn"
    run(["docker", "run", "-d", "--name", name, "--hostname", "cirn-test-target",
         "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
         "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "-v", "/var/run/docker.sock:/run/docker.sock",
         "-v", f"{base}:{base}", image])
    target = Target(name, home)
    times = {}
    try:
        for _ in range(60):
            state = target.sh("systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        t0 = time.monotonic()
        first = target.playbook("-e", f"cirn_wheelhouse_archive={archive}")
        times["first"] = time.monotonic() - t0
        t0 = time.monotonic()
        second = target.playbook("-e", f"cirn_wheelhouse_archive={archive}")
        times["second"] = time.monotonic() - t0
        t0 = time.monotonic()
        checked = target.playbook("-e", f"cirn_wheelhouse_archive={archive}", "--check", "--diff")
        times["check"] = time.monotonic() - t0
        print(f"ansible runs (s): {json.dumps({k: round(v) for k, v in times.items()})}")
        yield {"target": target, "first": first, "second": second, "check": checked, "archive": archive}
    finally:
        subprocess.run(["docker", "exec", name, "systemctl", "stop", "cirn-hub", "cirn-proxy"], capture_output=True)
        for cid in run(["docker", "ps", "-aq", "--filter", f"label=org.cirn.project={SLUG}"], check=False).stdout.split():
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "network", "rm", f"cirn-proj-{SLUG}"], capture_output=True)
        subprocess.run(["rm", "-rf", str(base)], capture_output=True)


def test_first_run_applies(deployed):
    assert recap(deployed["first"])["failed"] == 0


def test_second_run_changes_nothing(deployed):
    r = recap(deployed["second"])
    assert r["changed"] == 0 and r["failed"] == 0, deployed["second"].stdout[-5000:]


def test_check_diff_reports_no_changes(deployed):
    r = recap(deployed["check"])
    assert r["changed"] == 0 and r["failed"] == 0, deployed["check"].stdout[-5000:]


def test_units_active(deployed):
    target = deployed["target"]
    for unit in ("cirn-firewall.service", "cirn-proxy.service", "cirn-hub.service", "cirn-backup.timer"):
        assert target.sh(f"systemctl is-active {unit}", check=False).stdout.strip() == "active", unit
        assert target.sh(f"systemctl is-enabled {unit}", check=False).stdout.strip() == "enabled", unit
    assert "Restart=on-failure" in target.sh("systemctl cat cirn-hub.service cirn-proxy.service").stdout


def test_hub_answers_over_https_only(deployed):
    target = deployed["target"]
    code = """
import json, ssl, urllib.request
ctx = ssl.create_default_context(cafile="/etc/cirn/tls/cert.pem")
with urllib.request.urlopen("https://127.0.0.1:443/hub/api/", context=ctx, timeout=10) as r:
    print(json.dumps({"status": r.status, "body": json.load(r)}))
"""
    answer = json.loads(target.py(code).stdout)
    assert answer["status"] == 200 and "version" in answer["body"]
    plain = target.sh("python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:443/hub/api/', "
                      "timeout=5)\"", check=False)
    assert plain.returncode != 0  # the public port speaks TLS only


def test_firewall_rules_present(deployed):
    target = deployed["target"]
    rules = target.sh("nft list table inet cirn").stdout
    assert "hook input priority filter - 10; policy drop;" in rules
    assert "10.213.0.0/16" in rules
    assert f"ip saddr @project_networks tcp dport {{ {HUB_API_PORT}, {EGRESS_API_PORT} }}" in rules
    assert 'log prefix "cirn-drop-project-in "' in rules and 'log prefix "cirn-drop-project-out "' in rules
    assert "tcp dport 443 accept" in rules
    # Docker's own tables are left alone: the file replaces only table inet cirn.
    assert "table inet cirn" in target.sh("head -20 /etc/cirn/firewall.nft").stdout


LOGIN_AND_START = """
import json, sys, time, requests
base = "https://127.0.0.1"
s = requests.Session(); s.verify = "/etc/cirn/tls/cert.pem"
s.get(f"{base}/hub/login", timeout=10)
r = s.post(f"{base}/hub/login", data={"username": USER, "password": PASSWORD, "_xsrf": s.cookies.get("_xsrf")},
           allow_redirects=False, timeout=20)
assert r.status_code == 302, (r.status_code, r.text[:500])
h = {"X-XSRFToken": s.cookies.get("_xsrf"), "Referer": f"{base}/hub/home"}
r = s.post(f"{base}/hub/api/users/{USER}/servers/{SLUG}", headers=h, timeout=180)
assert r.status_code in (201, 202), (r.status_code, r.text[:500])
deadline = time.time() + 240
while time.time() < deadline:
    model = s.get(f"{base}/hub/api/users/{USER}", headers=h, timeout=10).json()
    server = model.get("servers", {}).get(SLUG) or {}
    if server.get("ready"):
        # The browser's way in: the server's own OAuth with the hub completes on the hub cookie.
        lab = s.get(f"{base}/user/{USER}/{SLUG}/lab", timeout=60)
        print(json.dumps({"ready": True, "lab": lab.status_code}))
        sys.exit(0)
    time.sleep(2)
print(json.dumps({"ready": False, "model": model}))
"""


def forward(listen: tuple[str, int], to: tuple[str, int], stop: threading.Event) -> socket.socket:
    """A TCP forwarder on the test host: the project network's gateway -> the target (see the docstring)."""
    server = socket.create_server(listen)
    server.settimeout(0.5)

    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def accept():
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(to, timeout=10)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server


def project_network(target: Target) -> tuple[str, str]:
    """Create cirn-proj-<slug> (internal, in the project pool) and connect the target to it."""
    net = f"cirn-proj-{SLUG}"
    run(["docker", "network", "rm", net], check=False)
    for _ in range(10):
        third = secrets.randbelow(250) + 3
        proc = run(["docker", "network", "create", "--internal", "--subnet", f"10.213.{third}.0/24",
                    "--gateway", f"10.213.{third}.1",
                    "--label", f"org.cirn.project={SLUG}", "-o", "com.docker.network.bridge.enable_icc=true", net],
                   check=False)
        if proc.returncode == 0:
            break
    else:
        raise AssertionError(f"could not create {net}: {proc.stderr}")
    run(["docker", "network", "connect", net, target.name])
    info = json.loads(run(["docker", "network", "inspect", net]).stdout)[0]
    gateway = info["IPAM"]["Config"][0]["Gateway"]
    target_ip = info["Containers"][next(iter(info["Containers"]))]["IPv4Address"].split("/")[0]
    return gateway, target_ip


def test_project_server_starts(deployed):
    target = deployed["target"]
    target.sh(f"cirn user add {USER} --password {PASSWORD} --group researchers && "
              f"cirn project create {SLUG} --title 'Deployment check' --expires 2099-12-31 && "
              f"cirn project add-member {SLUG} {USER}")
    gateway, target_ip = project_network(target)
    stop = threading.Event()
    servers = [forward((gateway, port), (target_ip, port), stop) for port in (HUB_API_PORT, EGRESS_API_PORT)]
    try:
        code = LOGIN_AND_START.replace("USER", repr(USER)).replace("PASSWORD", repr(PASSWORD)) \
            .replace("SLUG", repr(SLUG)).replace("{repr(USER)}", "{USER}")
        code = f"USER, PASSWORD, SLUG = {USER!r}, {PASSWORD!r}, {SLUG!r}\n" + LOGIN_AND_START
        out = target.py(code, timeout=400)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        logs = target.sh("journalctl -u cirn-hub --no-pager | tail -40", check=False).stdout
        assert result["ready"], f"{result}\n{logs}"
        assert result["lab"] == 200, f"{result}\n{logs}"
        # A probe for DNS from inside the project container to the host side is dropped and counted.
        containers = run(["docker", "ps", "-q", "--filter", f"network=cirn-proj-{SLUG}",
                          "--filter", "label=org.cirn.project"], check=False).stdout.split()
        before = target.sh("nft list table inet cirn").stdout
        for cid in containers:
            subprocess.run(["docker", "exec", cid, "python3", "-c",
                            f"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                            f"s.sendto(b'x', ('{target_ip}', 53))"], capture_output=True, timeout=30)
        after = target.sh("nft list table inet cirn").stdout
        if containers:
            assert drop_count(after) > drop_count(before), after
    finally:
        stop.set()
        for s in servers:
            s.close()


def drop_count(rules: str) -> int:
    m = re.search(r"ip saddr @project_networks counter packets (\d+) bytes \d+ drop", rules)
    return int(m.group(1)) if m else -1


SUBMIT_RELEASE = """
from cirn.enclave import Enclave
from cirn.egress.review.desk import ReleaseDesk
enclave = Enclave.from_env()
ws = enclave.state.project_workspace(SLUG)
(ws / "summary.txt").write_text("mean age by arm: 41.2, 43.9\\n")
desk = ReleaseDesk(enclave)
print(desk.submit(desk.person(USER), SLUG, [{"path": "summary.txt"}], "aggregate summary for the paper"))
"""

COUNT_RELEASES = """
from sqlalchemy import select, func
from cirn.enclave import Enclave
from cirn.egress.review.models import ReleaseRequest
enclave = Enclave.from_env()
with enclave.db.session() as s:
    print(s.execute(select(func.count()).select_from(ReleaseRequest)).scalar_one())
"""


def test_backup_and_restore_into_an_empty_state_folder(deployed):
    target = deployed["target"]
    env = "set -a; . /etc/cirn/cirn.env; set +a; "
    if SLUG not in target.sh("cirn project list").stdout:
        target.sh(f"cirn project create {SLUG} --title 'Deployment check' --expires 2099-12-31 && "
                  f"cirn user add {USER} --password {PASSWORD} --group researchers && "
                  f"cirn project add-member {SLUG} {USER}")
    prelude = f"USER, SLUG = {USER!r}, {SLUG!r}\n"
    target.sh(env + f"{VENV}/bin/python - <<'EOF'\n{prelude}{SUBMIT_RELEASE}\nEOF")
    releases = target.sh(env + f"{VENV}/bin/python - <<'EOF'\n{COUNT_RELEASES}\nEOF").stdout.strip()
    assert int(releases) >= 1
    t0 = time.monotonic()
    target.sh("systemctl start cirn-backup.service")
    backup = target.sh("ls -1d /var/backups/cirn/cirn-* | tail -1").stdout.strip()
    assert {"cirn.sqlite", "state.tar", "SHA256SUMS"} <= set(target.sh(f"ls {backup}").stdout.split())
    restored = "/srv/cirn-restored"
    out = target.sh(f"cirn-restore {backup} {restored}").stdout
    assert "restored" in out
    # cirn-restore refuses a folder that is not empty, and a damaged backup.
    assert target.sh(f"cirn-restore {backup} {restored}", check=False).returncode != 0
    print(f"backup + restore: {time.monotonic() - t0:.1f} s")
    renv = env + f"export CIRN_HOME={restored}; "
    assert SLUG in target.sh(renv + f"{VENV}/bin/cirn project list").stdout
    assert USER in target.sh(renv + f"{VENV}/bin/cirn project show {SLUG}").stdout
    verify = target.sh(renv + f"{VENV}/bin/cirn audit verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert target.sh(renv + f"{VENV}/bin/python - <<'EOF'\n{COUNT_RELEASES}\nEOF").stdout.strip() == releases
    # The submitted file's snapshot came back with the egress store.
    assert target.sh(f"find {restored}/egress/store -type f | wc -l").stdout.strip() != "0"
    target.sh(f"cp -a {backup} /tmp/damaged && truncate -s 100 /tmp/damaged/state.tar")
    damaged = target.sh("cirn-restore /tmp/damaged /srv/cirn-restored-2", check=False)
    assert damaged.returncode != 0 and "damaged" in damaged.stderr


def test_missing_certificate_fails_early_naming_the_variable(deployed):
    target = deployed["target"]
    # JSON extra vars: `-e key=false` would pass the string "false", which the type check refuses first.
    proc = target.playbook("-e", f"cirn_wheelhouse_archive={deployed['archive']}",
                           "-e", json.dumps({"cirn_tls_self_signed": False, "cirn_tls_cert_src": "/nonexistent/cert.pem"}),
                           check=False, timeout=300)
    assert proc.returncode != 0
    assert "cirn_tls_cert_src" in proc.stdout
    r = recap(proc)
    assert r["changed"] == 0  # failed in the checks, before any change
