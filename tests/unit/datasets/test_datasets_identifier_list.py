"""The project's identifier list for the egress checks holds every pseudonym ever issued to it:
a withdrawal, a revoked grant or a deleted file never makes it shrink."""

from __future__ import annotations

import datetime as dt

import pytest

from cirn import projects
from cirn.datasets.clinical import ingest_clinical
from cirn.datasets.extracts import provision_project
from cirn.datasets.identifier_list import EGRESS_IDENTIFIERS, issued_to
from cirn.datasets.pseudonyms import project_key, pseudonym
from cirn.datasets.vcf import ingest_vcf
from cirn.datasets.withdrawals import withdraw

ADMIN = "admin:test"


@pytest.fixture
def project(enclave, synth_dir):
    ingest_clinical(enclave.state, synth_dir / "clinical.csv", "cohort", "1.0")
    ingest_vcf(enclave.state, synth_dir / "cohort.vcf.gz", "cohort-vcf", "1.0", run_qc=False)
    with enclave.db.session() as s:
        projects.create_project(s, ADMIN, "proj-a", "A", dt.date(2030, 1, 1))
        projects.grant(s, ADMIN, "proj-a", "cohort", "1.0")
        projects.grant(s, ADMIN, "proj-a", "cohort-vcf", "1.0")
    provision_project(enclave, "proj-a", ADMIN)
    return enclave


def listed(enclave) -> set[str]:
    return set((enclave.state.project_dir("proj-a") / EGRESS_IDENTIFIERS).read_text().split("\n")) - {""}


def p_of(enclave, namespace, value) -> str:
    return pseudonym(project_key(enclave.state, "proj-a"), namespace, value)


def test_a_withdrawn_participant_stays_listed(project):
    before = listed(project)
    assert p_of(project, "participant", "RD000003") in before
    with project.db.session() as s:
        withdraw(s, ADMIN, "RD000003")
    provision_project(project, "proj-a", ADMIN)
    assert listed(project) >= before  # an old copy in the workspace still holds their pseudonym


def test_a_revoked_grant_leaves_its_pseudonyms_listed(project):
    before = listed(project)
    with project.db.session() as s:
        projects.revoke(s, ADMIN, "proj-a", "cohort")  # the only table with participant ids
    provision_project(project, "proj-a", ADMIN)
    assert listed(project) == before and p_of(project, "participant", "RD000001") in listed(project)


def test_deleting_the_file_does_not_shrink_it(project):
    before = listed(project)
    (project.state.project_dir("proj-a") / EGRESS_IDENTIFIERS).unlink()
    with project.db.session() as s:
        projects.revoke(s, ADMIN, "proj-a", "cohort")
        withdraw(s, ADMIN, "RD000005")
    provision_project(project, "proj-a", ADMIN)
    assert listed(project) == before
    with project.db.session() as s:
        assert issued_to(s, "proj-a") == before


def test_entries_of_an_older_file_are_kept_and_recorded(project):
    path = project.state.project_dir("proj-a") / EGRESS_IDENTIFIERS
    path.write_text(path.read_text() + "S-WRITTENBEFORETHEDB\n")  # a list from before the database kept them
    provision_project(project, "proj-a", ADMIN)
    path.unlink()
    provision_project(project, "proj-a", ADMIN)
    assert "S-WRITTENBEFORETHEDB" in listed(project)
    text = path.read_text()
    assert text.endswith("\n") and text.splitlines() == sorted(listed(project))  # one identifier per line
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{EGRESS_IDENTIFIERS}")]
