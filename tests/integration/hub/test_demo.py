"""`cirn demo --no-serve`, the README's first command minus serving: the real CLI on a fresh state folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

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
