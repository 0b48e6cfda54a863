"""A withdrawal reaches every project: one project's failed rebuild neither stops the others nor
leaves that project usable (it is suspended and named, with the command that finishes the job)."""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow.parquet as pq
import pytest

from cirn import audit, projects
from cirn.datasets.clinical import ingest_clinical
from cirn.datasets.extracts import UNREACHED_REASON, provision_project, reprovision_all
from cirn.datasets.pseudonyms import project_key, pseudonym
from cirn.datasets.withdrawals import withdraw
from cirn.models import ProjectStatus

ADMIN = "admin:test"
TODAY = dt.date(2029, 1, 1)
# Unique per run: suspending a project also stops the containers labelled with its slug on the
# (shared) Docker engine, and these tests must never reach anyone else's.
RUN = f"u{uuid.uuid4().hex[:6]}"
A, B, C = (f"{RUN}-{n}" for n in "abc")


@pytest.fixture
def three_projects(enclave, synth_dir):
    ingest_clinical(enclave.state, synth_dir / "clinical.csv", "cohort", "1.0")
    with enclave.db.session() as s:
        for slug in (A, B, C):
            projects.create_project(s, ADMIN, slug, slug, dt.date(2030, 1, 1))
            projects.grant(s, ADMIN, slug, "cohort", "1.0")
            projects.add_member(s, ADMIN, slug, "alice")
    for slug in (A, B, C):
        provision_project(enclave, slug, ADMIN)
    # B's grant now names a column the dataset lacks: its rebuild fails.
    with enclave.db.session() as s:
        projects.grant(s, ADMIN, B, "cohort", "1.0", ["participant_id", "shoe_size"])
    return enclave


def _participants(enclave, slug) -> set[str]:
    path = enclave.state.project_data(slug) / "cohort" / "table.parquet"
    return set(pq.read_table(path, columns=["participant_id"]).column("participant_id").to_pylist())


def test_a_failed_project_neither_stops_the_others_nor_stays_usable(three_projects):
    enclave = three_projects
    with enclave.db.session() as s:
        withdraw(s, ADMIN, "RD000003")
    result = reprovision_all(enclave, ADMIN)
    assert sorted(result.done) == [A, C], result.unreached  # C comes after the failure
    for slug in (A, C):
        assert pseudonym(project_key(enclave.state, slug), "participant", "RD000003") not in _participants(enclave, slug)
    assert list(result.unreached) == [B] and "shoe_size" in result.unreached[B]
    assert result.suspended == [B]
    assert result.retry_command(B) == f"cirn project provision {B} && cirn project resume {B}"
    with enclave.db.session() as s:
        assert projects.get_project(s, B).status is ProjectStatus.suspended
        assert not projects.spawn_decision(s, "alice", B, TODAY).allowed
        assert projects.spawn_decision(s, "alice", A, TODAY).allowed
        event = [e for e in s.query(audit.AuditEvent).all() if e.action == "project.suspended"][-1]
        assert event.subject == B and UNREACHED_REASON in event.details
        assert audit.verify(s) is None


def test_a_project_that_was_not_active_is_left_as_it_was(three_projects):
    enclave = three_projects
    with enclave.db.session() as s:
        projects.change_status(s, ADMIN, B, "suspend")
        withdraw(s, ADMIN, "RD000003")
    result = reprovision_all(enclave, ADMIN)
    assert list(result.unreached) == [B] and result.suspended == []
    assert result.retry_command(B) == f"cirn project provision {B}"  # resuming is not ours to do


def test_an_interruption_suspends_the_projects_not_yet_rebuilt(three_projects, monkeypatch):
    enclave = three_projects
    from cirn.datasets import extracts
    real = extracts.provision_project

    def interrupted(enclave, slug, actor, progress=None):
        if slug == B:
            raise KeyboardInterrupt
        return real(enclave, slug, actor, progress)

    monkeypatch.setattr(extracts, "provision_project", interrupted)
    with enclave.db.session() as s:
        withdraw(s, ADMIN, "RD000003")
    with pytest.raises(KeyboardInterrupt):
        reprovision_all(enclave, ADMIN)
    with enclave.db.session() as s:
        status = {p.slug: p.status for p in projects.list_projects(s)}
    assert status == {A: ProjectStatus.active, B: ProjectStatus.suspended,
                      C: ProjectStatus.suspended}
