"""The project store and audit log on a real PostgreSQL server (Debian's postgresql, started here).

SQLite is the default; this proves a PostgreSQL URL works through the same migrations, and that
concurrent writers keep one unbroken audit chain (the chain head is row-locked).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt

import pytest

from cirn import audit, projects
from cirn.enclave import Enclave

from .server import postgresql_server

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def pg_url():
    with postgresql_server() as url:
        yield url


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
