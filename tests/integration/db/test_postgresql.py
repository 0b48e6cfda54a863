"""The project store and audit log on a real PostgreSQL server (Debian's postgresql, started here).

SQLite is the default; this proves a PostgreSQL URL works through the same migrations, and that
concurrent writers keep one unbroken audit chain (the chain head is row-locked).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cirn import audit, projects
from cirn.enclave import Enclave
from cirn.hub.harness import free_port

pytestmark = pytest.mark.db


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: make setup installs Debian's postgresql")
    return found[-1]


@pytest.fixture(scope="module")
def pg_url():
    # Not under pytest's tmp folder: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="cirn-pg-"))
    data = root / "data"
    shutil.chown(root, "postgres")
    os.chmod(root, 0o755)
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "cirn"], check=True,
                   capture_output=True)
    subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                            f"-p {port} -h 127.0.0.1 -k {root}", "start"], check=True, capture_output=True)
    try:
        subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "cirn", "cirn"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://cirn@127.0.0.1:{port}/cirn"
    finally:
        subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_store_and_audit_on_postgresql(pg_url, tmp_path):
    enclave = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home"), "CIRN_DB_URL": pg_url})
    enclave.init()
    enclave.init()  # migrations are idempotent
    with enclave.db.session() as s:
        projects.create_project(s, "t", "pg-project", "On PostgreSQL", dt.date(2030, 1, 1))
        projects.add_member(s, "t", "pg-project", "alice")
        projects.grant(s, "t", "pg-project", "cohort", "1.0", ["age"])
    with enclave.db.session() as s:
        p = projects.get_project(s, "pg-project")
        assert [m.username for m in p.members] == ["alice"] and p.grants[0].columns == '["age"]'
        assert projects.spawn_decision(s, "alice", "pg-project", dt.date(2029, 1, 1)).allowed

    def writer(i: int) -> None:
        e = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home"), "CIRN_DB_URL": pg_url})
        for j in range(10):
            with e.db.session() as s:
                audit.record(s, f"writer-{i}", "test.write", f"{i}-{j}")

    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    with enclave.db.session() as s:
        assert audit.verify(s) is None
        assert s.query(audit.AuditEvent).count() == 3 + 40
