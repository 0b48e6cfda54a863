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

The deployed target is conftest.py's `deployed` fixture (helpers in target.py), shared with
test_deploy_postgresql.py, which re-applies the playbook to it for the PostgreSQL variant.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import threading
import time

import pytest

from .target import EGRESS_API_PORT, HUB_API_PORT, METER_API_PORT, VENV, Target, recap, run

pytestmark = [pytest.mark.docker]

SLUG = "deploy-check"
USER, PASSWORD = "alice", "alice-deploy-check-pw"


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
    assert f"ip saddr @project_networks tcp dport {{ {HUB_API_PORT}, {EGRESS_API_PORT}, {METER_API_PORT} }}" in rules
    assert 'log prefix "cirn-drop-project-in "' in rules and 'log prefix "cirn-drop-project-out "' in rules
    assert "tcp dport 443 accept" in rules
    # Docker's own tables are left alone: the file replaces only table inet cirn.
    assert "table inet cirn" in target.sh("head -20 /etc/cirn/firewall.nft").stdout
    # The file as written is a valid ruleset (what the playbook's validate step and the unit load).
    assert target.sh("nft -c -f /etc/cirn/firewall.nft", check=False).returncode == 0


def test_firewall_ipv6_side(deployed):
    """The inet table filters IPv6 too: ICMPv6 a host needs, SSH from IPv6 admin networks only,
    and no IPv6 at all from Docker's bridges (the project networks)."""
    target = deployed["target"]
    rules = target.sh("nft list table inet cirn").stdout
    sets = json.loads(target.sh("nft -j list sets inet").stdout)["nftables"]
    elements = {s["set"]["name"]: json.dumps(s["set"].get("elem", [])) for s in sets if "set" in s}
    # Each family's admin networks in its own set (the test inventory has one of each).
    assert "192.0.2.0" in elements["admin_networks"] and "2001:db8:c12e::" not in elements["admin_networks"]
    assert "2001:db8:c12e::" in elements["admin_networks6"]
    assert "ip6 saddr @admin_networks6 tcp dport 22 accept" in rules
    assert "ip saddr @admin_networks tcp dport 22 accept" in rules
    # Neighbour discovery only from the link (hop limit 255), the errors a host needs (packet too
    # big for path MTU discovery), multicast listener discovery from link-local addresses.
    for icmpv6 in ("nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-advert", "packet-too-big",
                   "destination-unreachable", "time-exceeded", "parameter-problem", "mld-listener-query"):
        assert icmpv6 in rules, icmpv6
    assert re.search(r"icmpv6 type \{[^}]*nd-neighbor-solicit[^}]*\} ip6 hoplimit 255 accept", rules), rules
    assert re.search(r"icmpv6 type \{[^}]*mld-listener-query[^}]*\} ip6 saddr fe80::/10 accept", rules), rules
    assert "meta l4proto ipv6-icmp accept" not in rules  # no longer every ICMPv6 type from anywhere
    # Nothing from a Docker bridge on IPv6: to this host or forwarded, logged and dropped.
    input_chain = rules[rules.index("chain input"):rules.index("chain forward")]
    forward_chain = rules[rules.index("chain forward"):rules.index("chain project_ipv6_in")]
    bridges = r'iifname \{ (?=[^}]*"docker0")(?=[^}]*"br-\*")[^}]*\} meta nfproto ipv6 jump '
    assert re.search(bridges + "project_ipv6_in", input_chain), input_chain
    assert re.search(bridges + "project_ipv6_out", forward_chain), forward_chain
    # ... before the public accepts, which would otherwise take HTTPS over a link-local address.
    assert input_chain.index("jump project_ipv6_in") < input_chain.index("tcp dport 443 accept")
    for chain, prefix in (("project_ipv6_in", "cirn-drop-project6-in "), ("project_ipv6_out", "cirn-drop-project6-out ")):
        body = rules[rules.index(f"chain {chain}"):]
        body = body[:body.index("}")]
        assert f'log prefix "{prefix}"' in body and "drop" in body, body


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
    servers = [forward((gateway, port), (target_ip, port), stop) for port in (HUB_API_PORT, EGRESS_API_PORT, METER_API_PORT)]
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


EGRESS_ACCOUNT = "cirn-egress"

SANDBOX_AS_SERVICE = """
import json
from cirn.egress.checks.sandbox import ScanSandbox
from cirn.policies.egress_rules import EgressPolicy, SandboxLimits
with ScanSandbox(EgressPolicy(sandbox=SandboxLimits(workers=1))) as pool:
    reports = pool.scan(b"region,n\\nSeoul,120\\n", "t.csv")
    worker = pool._all[0]
    uid = open(f"/proc/{worker.proc.pid}/status").read().split("Uid:")[1].split()[0]
    print(json.dumps({"verdict": reports[0]["verdict"], "landlock": worker.landlock, "uid": int(uid)}))
"""


def test_egress_service_runs_as_its_own_account_reaching_only_what_it_needs(deployed):
    target = deployed["target"]
    home = target.home
    pids = target.sh("pgrep -f 'cirn.egress.service'", check=False).stdout.split()
    assert pids, target.sh("journalctl -u cirn-hub --no-pager | tail -40", check=False).stdout
    uid = int(target.sh(f"id -u {EGRESS_ACCOUNT}").stdout)
    for pid in pids:
        status = target.sh(f"cat /proc/{pid}/status").stdout
        assert status.split("Uid:")[1].split()[:4] == [str(uid)] * 4, status
        assert int(status.split("CapEff:")[1].split()[0], 16) == 0
    # it answers through the proxy (the hub started it under that account)
    code = target.py("import ssl, urllib.request, urllib.error\n"
                     "ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n"
                     "class Stay(urllib.request.HTTPRedirectHandler):\n"
                     "    def redirect_request(self, *a, **k): return None\n"
                     "opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), Stay)\n"
                     "try: print(opener.open('https://127.0.0.1:443/services/egress/', timeout=20).status)\n"
                     "except urllib.error.HTTPError as e: print(e.code)\n").stdout.strip()
    assert code in ("200", "302"), code

    def as_service(cmd: str) -> int:
        return target.sh(f"runuser -u {EGRESS_ACCOUNT} -- {cmd}", check=False).returncode

    assert as_service(f"cat {home}/secrets/egress_cookie_secret") == 0
    assert as_service(f"cat {home}/secrets/audit-chain-key") == 0
    assert as_service(f"test -w {home}/db/cirn.sqlite") == 0
    for private in ("secrets/jupyterhub_crypt_key", "secrets/proxy_auth_token", "hub/jupyterhub.sqlite"):
        assert as_service(f"cat {home}/{private}") != 0, private
    assert as_service(f"ls {home}/datasets") != 0
    assert as_service(f"ls {home}") != 0  # walks in, lists nothing

    # its checks workers cannot switch accounts, so they confine themselves (Landlock)
    out = target.sh(f"cd / && runuser -u {EGRESS_ACCOUNT} -- env CIRN_HOME={home} {VENV}/bin/python - <<'EOF'\n"
                    f"{SANDBOX_AS_SERVICE}\nEOF").stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"verdict": "pass", "landlock": result["landlock"], "uid": uid} and result["landlock"] >= 1


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
    assert {"cirn.sqlite.age", "state.tar.age", "secrets.tar.age", "SHA256SUMS"} <= set(target.sh(f"ls {backup}").stdout.split())
    restored = "/srv/cirn-restored"
    ids = target.backup_identities()
    out = target.sh(f"cirn-restore {backup} {restored} {ids}").stdout
    assert "restored" in out
    # cirn-restore refuses a folder that is not empty, and a damaged backup.
    assert target.sh(f"cirn-restore {backup} {restored} {ids}", check=False).returncode != 0
    print(f"backup + restore: {time.monotonic() - t0:.1f} s")
    renv = env + f"export CIRN_HOME={restored}; "
    assert SLUG in target.sh(renv + f"{VENV}/bin/cirn project list").stdout
    assert USER in target.sh(renv + f"{VENV}/bin/cirn project show {SLUG}").stdout
    verify = target.sh(renv + f"{VENV}/bin/cirn audit verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert target.sh(renv + f"{VENV}/bin/python - <<'EOF'\n{COUNT_RELEASES}\nEOF").stdout.strip() == releases
    # The submitted file's snapshot came back with the egress store.
    assert target.sh(f"find {restored}/egress/store -type f | wc -l").stdout.strip() != "0"
    target.sh(f"cp -a {backup} /tmp/damaged && truncate -s 100 /tmp/damaged/state.tar.age")
    damaged = target.sh(f"cirn-restore /tmp/damaged /srv/cirn-restored-2 {ids}", check=False)
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
