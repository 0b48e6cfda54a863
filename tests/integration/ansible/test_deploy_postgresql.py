"""The cirn_database: postgresql variant, applied to an air-gapped target that builds its images
from the image build cache the staging playbook packed.

It reuses the SQLite run's target (conftest.py: image, packages, TLS, firewall, the installed
wheelhouse) and applies the playbook to it again with a new state folder, PostgreSQL from
Debian's packages and cirn_image_cache_archive. Before that run the target loses its default
route and its apt sources point at a closed loopback port: nothing it does can reach a mirror or
a package index. What the SQLite run proved (a project server, the firewall, --check --diff) is
not repeated here.

`cirn images build` in the playbook finds the images present, because the target uses the host's
Docker engine (see test_deploy.py), which already holds cirn/base:bookworm and cirn/notebook. So
the offline build is checked by running the same build (cirn.images.build.build_all, with the
target's CIRN_CACHE) under test-only image names: the base must come from the archive's rootfs
tarball (the target has no debootstrap) and the notebook image from the archive's wheelhouse (no
route to an index).
"""

from __future__ import annotations

import json
import secrets

import pytest

from .target import VENV, recap, run

pytestmark = [pytest.mark.docker]

PASSWORD = "pg-deploy-check-" + secrets.token_hex(8)
SLUG, USER, USER_PASSWORD = "pg-check", "bob", "bob-pg-deploy-check-pw"
RESTORED_DB = "cirn_restored"


def air_gap(target) -> None:
    target.sh("ip route del default 2>/dev/null || true; ip -6 route del default 2>/dev/null || true; "
              "rm -f /etc/apt/sources.list.d/*; "
              "echo 'deb http://127.0.0.1:9/debian bookworm main' > /etc/apt/sources.list")
    # `ip route get` consults the routing table only; no packet leaves.
    probe = target.sh("ip route get 192.0.2.1", check=False)
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower(), probe.stdout + probe.stderr


def postgresql_args(deployed, password: str) -> list[str]:
    """The playbook's extra variables for the air-gapped PostgreSQL run, with this role password."""
    return ["-e", f"cirn_wheelhouse_archive={deployed['archives']['cirn_wheelhouse_archive']}",
            "-e", f"cirn_image_cache_archive={deployed['archives']['cirn_image_cache_archive']}",
            # No mirror to refresh from: an air-gapped host keeps its package lists as they are
            # (ansible/README.md). Left on, the run would pass only within apt's cache_valid_time
            # (an hour) of the target image's build.
            "-e", json.dumps({"cirn_database": "postgresql", "cirn_postgresql_password": password,
                              "cirn_apt_update_cache": False})]


@pytest.fixture(scope="module")
def postgresql_deployed(deployed):
    target = deployed["target"]
    home = target.base / "srv" / "cirn-pg"
    air_gap(target)
    args = postgresql_args(deployed, PASSWORD)
    first = target.playbook(*args, home=home)
    second = target.playbook(*args, home=home)
    return {"target": target, "home": home, "first": first, "second": second}


def psql(target, sql: str, db: str = "cirn") -> str:
    return target.sh(f"runuser -u postgres -- psql -d {db} -v ON_ERROR_STOP=1 -tAc {json.dumps(sql)}").stdout.strip()


def test_runs_apply_postgresql_then_change_nothing(postgresql_deployed):
    first, second = recap(postgresql_deployed["first"]), recap(postgresql_deployed["second"])
    assert first["failed"] == 0 and first["changed"] > 0
    assert second["changed"] == 0 and second["failed"] == 0, postgresql_deployed["second"].stdout[-5000:]


def test_postgresql_is_the_enclave_database(postgresql_deployed):
    target, home = postgresql_deployed["target"], postgresql_deployed["home"]
    clusters = target.sh("systemctl list-units --no-legend --plain 'postgresql@*'").stdout.split()
    assert clusters and target.sh(f"systemctl is-active {clusters[0]}", check=False).stdout.strip() == "active"
    assert target.sh("systemctl is-enabled postgresql.service", check=False).stdout.strip() == "enabled"
    assert target.sh("systemctl is-active cirn-hub.service", check=False).stdout.strip() == "active"
    hub_env = target.sh("tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value cirn-hub)/environ").stdout
    assert f"CIRN_HOME={home}\n" in hub_env and "CIRN_DB_URL=postgresql+psycopg://cirn:" in hub_env
    assert target.sh(f"test -e {home}/db/cirn.sqlite", check=False).returncode != 0  # no SQLite file
    # The cirn command writes to PostgreSQL ...
    target.sh(f"cirn project create {SLUG} --title 'PostgreSQL check' --expires 2099-12-31 && "
              f"cirn user add {USER} --password {USER_PASSWORD} --group researchers && "
              f"cirn project add-member {SLUG} {USER}")
    assert psql(target, f"SELECT slug FROM projects WHERE slug = '{SLUG}'") == SLUG
    assert int(psql(target, "SELECT count(*) FROM audit_events")) >= 3
    verify = target.sh("cirn audit verify", check=False)
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
    # ... and the hub reads it: the demo login finds the account only there.
    assert hub_login(target) == "302"


def hub_login(target) -> str:
    """The status of the demo login of USER at the hub (302: signed in), retried while the hub starts."""
    login = f"""
import time, requests
status = "no answer"
for attempt in range(60):
    try:
        s = requests.Session(); s.verify = "/etc/cirn/tls/cert.pem"
        s.get("https://127.0.0.1/hub/login", timeout=10)
        r = s.post("https://127.0.0.1/hub/login", allow_redirects=False, timeout=20,
                   data={{"username": {USER!r}, "password": {USER_PASSWORD!r}, "_xsrf": s.cookies.get("_xsrf")}})
        status = r.status_code
        if r.status_code < 500:
            break
    except requests.ConnectionError:
        pass
    time.sleep(2)
print(status)
"""
    return target.py(login, timeout=300).stdout.strip()


def test_backup_and_restore_include_the_database(postgresql_deployed):
    target = postgresql_deployed["target"]
    if not psql(target, f"SELECT slug FROM projects WHERE slug = '{SLUG}'"):
        target.sh(f"cirn project create {SLUG} --title 'PostgreSQL check' --expires 2099-12-31")
    events = psql(target, "SELECT count(*) FROM audit_events")
    target.sh("systemctl start cirn-backup.service")
    backup = target.sh("ls -1d /var/backups/cirn/cirn-* | tail -1").stdout.strip()
    files = set(target.sh(f"ls {backup}").stdout.split())
    assert {"cirn.pgdump.age", "state.tar.age", "secrets.tar.age", "SHA256SUMS"} <= files
    assert "cirn.sqlite.age" not in files
    ids = target.backup_identities()
    contents = target.sh(f"age -d -i /root/backup-identities/data.key {backup}/cirn.pgdump.age | pg_restore --list").stdout
    assert "TABLE DATA public projects" in contents and "TABLE DATA public audit_events" in contents

    psql(target, f"CREATE DATABASE {RESTORED_DB} OWNER cirn", db="postgres")
    restored = "/srv/cirn-pg-restored"
    url = f"postgresql+psycopg://cirn:{PASSWORD}@127.0.0.1/{RESTORED_DB}"
    assert "restored" in target.sh(f"cirn-restore {backup} {restored} {ids} --db-url '{url}'").stdout
    assert psql(target, "SELECT count(*) FROM audit_events", db=RESTORED_DB) == events
    renv = f"set -a; . /etc/cirn/cirn.env; set +a; export CIRN_HOME={restored} CIRN_DB_URL='{url}'; "
    assert SLUG in target.sh(renv + f"{VENV}/bin/cirn project list").stdout
    verify = target.sh(renv + f"{VENV}/bin/cirn audit verify", check=False)
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
    # A database that is not empty is refused as a whole (one transaction), with a message.
    again = target.sh(f"cirn-restore {backup} /srv/cirn-pg-restored-2 {ids} --db-url '{url}'", check=False)
    assert again.returncode != 0 and "pg_restore into the database of --db-url failed" in again.stderr
    assert psql(target, "SELECT count(*) FROM audit_events", db=RESTORED_DB) == events


def test_images_build_offline_from_the_image_cache_archive(postgresql_deployed):
    target = postgresql_deployed["target"]
    assert target.sh("command -v debootstrap", check=False).returncode != 0
    assert target.sh("ip route get 192.0.2.1", check=False).returncode != 0
    cache = target.sh("ls -a /var/cache/cirn").stdout.split()
    assert any(n.startswith("base-bookworm-") and n.endswith(".tar") for n in cache), cache
    assert any(n.startswith("wheelhouse-") for n in cache), cache
    token = secrets.token_hex(4)
    base, notebook = f"cirn-test/offline-base:{token}", f"cirn-test/offline-notebook:{token}"
    build = f"""
import cirn.images.build as images
images.BASE_IMAGE, images.NOTEBOOK_IMAGE = {base!r}, {notebook!r}
result = images.build_all(progress=lambda m: print("images:", m, flush=True))
print("rebuilt:", result.rebuilt)
"""
    try:
        out = target.sh(f"set -a; . /etc/cirn/cirn.env; set +a; {VENV}/bin/python - <<'EOF'\n{build}\nEOF",
                        timeout=1200).stdout
        assert "images: docker import base-bookworm-" in out, out
        assert "images: debootstrap" not in out
        assert "present" in next(l for l in out.splitlines() if l.startswith("images: wheelhouse")), out
        assert "rebuilt: True" in out
        probe = run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "python", notebook, "-c",
                     "import duckdb, jupyterlab; print(duckdb.sql('select 42').fetchall()[0][0])"])
        assert probe.stdout.strip() == "42"
    finally:
        run(["docker", "image", "rm", "-f", notebook, base], check=False)


def test_a_new_password_in_the_inventory_is_set_on_the_role(postgresql_deployed, deployed):
    # Last in this module: the role's password changes. The earlier runs created the role; a
    # later run with another cirn_postgresql_password must set it (not keep the old one), and
    # the hub, restarted with the new environment, must still reach its database.
    target, home = postgresql_deployed["target"], postgresql_deployed["home"]
    new_password = "pg-deploy-rotated-" + secrets.token_hex(8)
    third = target.playbook(*postgresql_args(deployed, new_password), home=home)
    assert recap(third)["failed"] == 0 and recap(third)["changed"] >= 1, third.stdout[-5000:]

    def tcp_login(password):
        return target.sh(f"PGPASSWORD='{password}' psql 'host=127.0.0.1 dbname=cirn user=cirn' -tAc 'SELECT 1'",
                         check=False).returncode
    assert tcp_login(new_password) == 0 and tcp_login(PASSWORD) != 0
    assert f"cirn:{new_password}@127.0.0.1" in target.sh("cat /etc/cirn/cirn.env").stdout
    assert SLUG in target.sh("cirn project list").stdout
    assert hub_login(target) == "302"
