"""`cirn demo --no-serve`, the README's first command minus serving: the real CLI on a fresh state folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from cirn.enclave import Enclave


def cirn(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIRN_HOME": str(home)}
    return subprocess.run([str(Path(sys.executable).with_name("cirn")), *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_demo_prepares_datasets_projects_and_accounts_and_is_idempotent(tmp_path, images):
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
    second = cirn(home, "demo", "--no-serve")
    assert second.returncode == 0, second.stderr
    assert "demo datasets present" in second.stdout
    assert json.loads((home / "secrets" / "demo-accounts.json").read_text()) == accounts
    verify = cirn(home, "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout
    with Enclave.from_env({"CIRN_HOME": str(home)}).db.session() as s:
        from cirn.models import AuditEvent
        assert s.query(AuditEvent).filter(AuditEvent.action == "dataset.published").count() == 2
