"""Provisioning: granted columns only, pseudonyms, withdrawals, permissions, revocation, atomic replace."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow.parquet as pq
import pytest

from cirn import audit, projects
from cirn.datasets import extracts
from cirn.datasets.clinical import ingest_clinical
from cirn.datasets.extracts import provision_project
from cirn.datasets.pseudonyms import project_key, pseudonym
from cirn.datasets.vcf import ingest_vcf
from cirn.datasets.withdrawals import withdraw
from cirn.errors import Conflict
from matrix_text import genotype_calls, matrix_calls

ADMIN = "admin:test"


@pytest.fixture
def cohort(enclave, synth_dir):
    ingest_clinical(enclave.state, synth_dir / "clinical.csv", "cohort", "1.0")
    ingest_vcf(enclave.state, synth_dir / "cohort.vcf.gz", "cohort-vcf", "1.0", run_qc=False)
    with enclave.db.session() as s:
        for slug in ("proj-a", "proj-b"):
            projects.create_project(s, ADMIN, slug, slug, dt.date(2030, 1, 1))
            projects.grant(s, ADMIN, slug, "cohort-vcf", "1.0")
        projects.grant(s, ADMIN, "proj-a", "cohort", "1.0", ["participant_id", "sample_id", "age", "diagnosis"])
        projects.grant(s, ADMIN, "proj-b", "cohort", "1.0")
    return enclave


def _table(enclave, slug, name="cohort"):
    return pq.read_table(enclave.state.project_data(slug) / name / "table.parquet")


def test_only_granted_columns_and_pseudonymised_ids(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    t = _table(cohort, "proj-a")
    assert sorted(t.column_names) == ["age", "diagnosis", "participant_id", "sample_id"]
    key = project_key(cohort.state, "proj-a")
    sources = pq.read_table(cohort.state.datasets / "cohort/1.0/table.parquet").to_pydict()
    expected = {pseudonym(key, "participant", p) for p in sources["participant_id"]}
    assert set(t.column("participant_id").to_pylist()) == expected
    assert not set(sources["participant_id"]) & set(t.column("participant_id").to_pylist())


def test_clinical_and_genotypes_join_within_a_project_only(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    provision_project(cohort, "proj-b", ADMIN)
    a, b = (cohort.state.project_data(s) for s in ("proj-a", "proj-b"))
    joined = duckdb.sql(f"SELECT count(DISTINCT g.sample) FROM read_parquet('{a}/cohort-vcf/genotypes/*/*.parquet') g "
                        f"JOIN '{a}/cohort/table.parquet' c ON c.sample_id = g.sample").fetchall()[0][0]
    assert joined == 40
    sa = set(pq.read_table(a / "cohort-vcf/samples.parquet").column("sample").to_pylist())
    sb = set(pq.read_table(b / "cohort-vcf/samples.parquet").column("sample").to_pylist())
    assert len(sa) == len(sb) == 40 and not sa & sb
    # Row order does not line up across projects (which would link the two pseudonym sets).
    ages_a = _table(cohort, "proj-a").column("age").to_pylist()
    ages_b = _table(cohort, "proj-b").column("age").to_pylist()
    assert sorted(ages_a) == sorted(ages_b) and ages_a != ages_b


def test_genotype_values_survive_pseudonymisation(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    key = project_key(cohort.state, "proj-a")
    src = cohort.state.datasets / "cohort-vcf/1.0/genotypes"
    dst = cohort.state.project_data("proj-a") / "cohort-vcf/genotypes"
    orig = {(k, pseudonym(key, "sample", s)): (gt, d) for k, s, gt, d in duckdb.sql(
        f"SELECT variant_key, sample, gt, dosage FROM read_parquet('{src}/*/*.parquet')").fetchall()}
    new = {(k, s): (gt, d) for k, s, gt, d in duckdb.sql(
        f"SELECT variant_key, sample, gt, dosage FROM read_parquet('{dst}/*/*.parquet')").fetchall()}
    assert orig == new


def _encodings(folder):
    """Column -> set of Parquet encodings, over every row group of every file under `folder`."""
    found = {}
    for f in folder.glob("*/*.parquet"):
        md = pq.ParquetFile(f).metadata
        for g in range(md.num_row_groups):
            for c in range(md.num_columns):
                col = md.row_group(g).column(c)
                found.setdefault(col.path_in_schema, set()).update(col.encodings)
    return found


def test_extract_genotypes_keep_the_catalog_layout(cohort):
    # Researchers query the extract, not the catalog: it must keep the encodings the ingest chose
    # (plain keys, byte-stream-split numbers, dictionary text), whole or with some columns.
    provision_project(cohort, "proj-a", ADMIN)
    src = _encodings(cohort.state.datasets / "cohort-vcf/1.0/genotypes")
    dst = _encodings(cohort.state.project_data("proj-a") / "cohort-vcf/genotypes")
    assert dst == src
    assert "RLE_DICTIONARY" not in dst["variant_key"] and "BYTE_STREAM_SPLIT" in dst["dp"]
    with cohort.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "cohort-vcf", "1.0", ["gt", "gq"])
    provision_project(cohort, "proj-a", ADMIN)
    some = _encodings(cohort.state.project_data("proj-a") / "cohort-vcf/genotypes")
    assert some == {c: src[c] for c in ("variant_key", "pos", "sample", "gt", "gq")}


def test_read_only_on_disk_and_key_not_in_project(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    root = cohort.state.project_data("proj-a") / "cohort"
    assert root.stat().st_mode & 0o777 == 0o555
    assert all(p.stat().st_mode & 0o777 == 0o444 for p in root.iterdir())
    key_hex = project_key(cohort.state, "proj-a").hex()
    for p in cohort.state.project_dir("proj-a").rglob("*"):
        if p.is_file():
            assert key_hex.encode() not in p.read_bytes()


def test_withdrawal_removes_participant_and_their_sample(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    with cohort.db.session() as s:
        withdraw(s, ADMIN, "RD000003", "form 7")
    built = provision_project(cohort, "proj-a", ADMIN)
    key = project_key(cohort.state, "proj-a")
    t = _table(cohort, "proj-a")
    assert t.num_rows == 39 and pseudonym(key, "participant", "RD000003") not in t.column("participant_id").to_pylist()
    gone = pseudonym(key, "sample", "SMP000003")
    data = cohort.state.project_data("proj-a")
    assert gone not in pq.read_table(data / "cohort-vcf/samples.parquet").column("sample").to_pylist()
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet') "
                   f"WHERE sample = '{gone}'").fetchall()[0][0]
    assert n == 0
    # The matrix lost the sample's column, and its columns follow the extract's samples table.
    assert matrix_calls(data / "cohort-vcf") == genotype_calls(data / "cohort-vcf")
    width = {len(b) for b in pq.read_table(data / "cohort-vcf/matrix", columns=["alleles"]).column("alleles").to_pylist()}
    assert width == {2 * 39}
    assert {e.dataset_id: e.removed for e in built} == {"cohort": 1, "cohort-vcf": 1}
    # INFO allele counts no longer include the withdrawn participant.
    recount = duckdb.sql(f"SELECT variant_key, sum(dosage)::BIGINT, 2 * count(dosage) FROM "
                         f"read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet') GROUP BY 1").fetchall()
    info = {r["variant_key"]: (r["info_ac"], r["info_an"])
            for r in pq.read_table(data / "cohort-vcf/variants.parquet").to_pylist()}
    assert all(info[k] == (ac, an) for k, ac, an in recount)
    with cohort.db.session() as s:
        with pytest.raises(Conflict):
            withdraw(s, ADMIN, "RD000003")
        assert audit.verify(s) is None


def test_revoked_grant_extract_is_removed(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    with cohort.db.session() as s:
        projects.revoke(s, ADMIN, "proj-a", "cohort-vcf")
    provision_project(cohort, "proj-a", ADMIN)
    assert sorted(p.name for p in cohort.state.project_data("proj-a").iterdir()) == ["cohort"]


def test_reprovision_swaps_atomically_and_a_failure_keeps_the_old_extract(cohort, monkeypatch):
    provision_project(cohort, "proj-a", ADMIN)
    target = cohort.state.project_data("proj-a") / "cohort"
    inode = target.stat().st_ino
    provision_project(cohort, "proj-a", ADMIN)
    assert target.stat().st_ino != inode  # a new folder took the old one's place
    before = (target / "table.parquet").read_bytes()

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setitem(extracts.BUILDERS, "clinical", broken)
    with pytest.raises(RuntimeError):
        provision_project(cohort, "proj-a", ADMIN)
    assert (target / "table.parquet").read_bytes() == before
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_unknown_granted_column_is_named(cohort):
    with cohort.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "cohort", "1.0", ["age", "shoe_size"])
    with pytest.raises(Conflict, match="shoe_size"):
        provision_project(cohort, "proj-a", ADMIN)


def test_vcf_grant_with_columns_keeps_join_keys(cohort):
    with cohort.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "cohort-vcf", "1.0", ["gt", "ref", "alt"])
    provision_project(cohort, "proj-a", ADMIN)
    d = cohort.state.project_data("proj-a") / "cohort-vcf"
    assert pq.read_schema(d / "variants.parquet").names == ["variant_key", "chrom", "pos", "ref", "alt"]
    assert set(pq.read_schema(next((d / "genotypes").glob("*/*.parquet"))).names) == {"variant_key", "pos", "sample", "gt"}
    assert matrix_calls(d) == genotype_calls(d)  # gt granted: the matrix comes with it


def test_a_grant_without_genotypes_gets_no_carriers_or_matrix(cohort):
    # Every carriers row is a non-reference call: its presence alone would tell who carries what.
    with cohort.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "cohort-vcf", "1.0", ["ref", "alt", "dp"])
        projects.grant(s, ADMIN, "proj-b", "cohort-vcf", "1.0", ["ref", "alt", "dosage"])
    provision_project(cohort, "proj-a", ADMIN)
    provision_project(cohort, "proj-b", ADMIN)
    a = cohort.state.project_data("proj-a") / "cohort-vcf"
    assert not (a / "carriers").exists() and not (a / "matrix").exists()
    assert set(pq.read_schema(next((a / "genotypes").glob("*/*.parquet"))).names) == {"variant_key", "pos", "sample", "dp"}
    b = cohort.state.project_data("proj-b") / "cohort-vcf"
    assert set(pq.read_schema(next((b / "carriers").glob("*/*.parquet"))).names) == {"variant_key", "pos", "sample", "dosage"}
    assert not (b / "matrix").exists()  # the matrix holds GT: only with gt granted


def test_provision_is_audited(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    with cohort.db.session() as s:
        events = [e for e in s.query(audit.AuditEvent).all() if e.action == "project.provisioned"]
    assert len(events) == 1 and events[0].subject == "proj-a"


def test_egress_identifier_list_holds_the_project_pseudonyms(cohort):
    provision_project(cohort, "proj-a", ADMIN)
    listed = set((cohort.state.project_dir("proj-a") / "egress-identifiers.txt").read_text().split())
    t = _table(cohort, "proj-a")
    assert set(t.column("participant_id").to_pylist()) <= listed
    assert set(t.column("sample_id").to_pylist()) <= listed
    assert not any(x.startswith(("RD", "SMP")) for x in listed)


def test_a_changed_source_file_stops_provisioning(cohort):
    table = cohort.state.datasets / "cohort/1.0/table.parquet"
    table.chmod(0o644)
    with open(table, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(Conflict, match="table.parquet: size changed"):
        provision_project(cohort, "proj-a", ADMIN)
    assert not (cohort.state.project_data("proj-a") / "cohort").exists()
