"""Provisioning leaves QC-failed samples out of every table of a VCF extract (policy switch, default on)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from cirn import projects
from cirn.datasets.clinical import ingest_clinical
from cirn.datasets.extracts import provision_project
from cirn.datasets.pseudonyms import project_key, pseudonym
from cirn.datasets.qc import clinical_sex, compute_qc, record_qc, version_samples, write_qc
from cirn.datasets.vcf import ingest_vcf
from matrix_text import genotype_calls, matrix_calls
from cirn.enclave import Enclave
from cirn.policies.qc_rules import QcPolicy, SampleQc

ADMIN = "admin:test"
POLICY = Path(__file__).resolve().parents[3] / "policies" / "enclave.yaml"


@pytest.fixture
def cohort(enclave, synth_dir):
    ingest_clinical(enclave.state, synth_dir / "clinical.csv", "cohort", "1.0")
    dv = ingest_vcf(enclave.state, synth_dir / "cohort.vcf.gz", "cohort-vcf", "1.0")  # with QC
    with enclave.db.session() as s:
        projects.create_project(s, ADMIN, "proj-a", "A", dt.date(2030, 1, 1))
        projects.grant(s, ADMIN, "proj-a", "cohort-vcf", "1.0")
        projects.grant(s, ADMIN, "proj-a", "cohort", "1.0")
    failed = {r["sample"] for r in pq.read_table(dv.path / "qc/sample_qc.parquet").to_pylist() if not r["pass"]}
    return enclave, dv, failed


def _samples_everywhere(data) -> dict[str, set[str]]:
    out = {"samples": set(pq.read_table(data / "samples.parquet").column("sample").to_pylist())}
    for table in ("genotypes", "carriers"):
        out[table] = {r[0] for r in duckdb.sql(
            f"SELECT DISTINCT sample FROM read_parquet('{data}/{table}/*/*.parquet')").fetchall()}
    return out


def test_failed_samples_are_absent_from_every_table_and_counts_are_redone(cohort):
    enclave, _dv, failed = cohort
    # The synthetic cohort plants a low call rate, excess heterozygosity and a sex swap.
    assert {"SMP000008", "SMP000014", "SMP000018"} <= failed
    built = {e.dataset_id: e for e in provision_project(enclave, "proj-a", ADMIN)}
    assert built["cohort-vcf"].qc_excluded == len(failed) and built["cohort-vcf"].removed == 0
    assert built["cohort-vcf"].qc_source == "QC at ingest"
    assert built["cohort"].qc_excluded == 0 and built["cohort"].rows == 40  # clinical rows stay
    key = project_key(enclave.state, "proj-a")
    gone = {pseudonym(key, "sample", s) for s in failed}
    data = enclave.state.project_data("proj-a") / "cohort-vcf"
    for table, present in _samples_everywhere(data).items():
        assert not present & gone, table
        assert len(present) == 40 - len(failed) or table == "carriers"
    # The matrix's columns are the extract's samples, in its order.
    assert matrix_calls(data) == genotype_calls(data)
    recount = duckdb.sql(f"SELECT variant_key, sum(dosage)::BIGINT, 2 * count(dosage) FROM "
                         f"read_parquet('{data}/genotypes/*/*.parquet') GROUP BY 1").fetchall()
    info = {r["variant_key"]: (r["info_ac"], r["info_an"]) for r in pq.read_table(data / "variants.parquet").to_pylist()}
    assert all(info[k] == (ac, an) for k, ac, an in recount)
    assert max(an for _k, _ac, an in recount) == 2 * (40 - len(failed))  # AN counts the kept samples only
    described = json.loads((data / "dataset.json").read_text())
    assert described["left_out"] == {"withdrawn": 0, "failed_qc": len(failed), "qc_result": "QC at ingest"}


def with_extracts_policy(enclave: Enclave, tmp_path: Path, **extracts) -> Enclave:
    """The same enclave under the shipped policy with these `qc.extracts` settings."""
    policy = yaml.safe_load(POLICY.read_text())
    policy["qc"]["extracts"].update(extracts)
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump(policy))
    return Enclave(enclave.state, path, enclave.environ)


def test_the_policy_switch_keeps_them(cohort, tmp_path):
    enclave, dv, failed = cohort
    lenient = with_extracts_policy(enclave, tmp_path, exclude_failed_samples=False)
    built = {e.dataset_id: e for e in provision_project(lenient, "proj-a", ADMIN)}
    assert built["cohort-vcf"].qc_excluded == 0
    data = enclave.state.project_data("proj-a") / "cohort-vcf"
    assert len(_samples_everywhere(data)["samples"]) == 40
    assert "failed_qc" not in json.loads((data / "dataset.json").read_text())["left_out"]
    # Nothing left out: every variant row and value of the source, as it is.
    assert pq.read_table(data / "variants.parquet").equals(pq.read_table(dv.path / "variants.parquet"))
    assert "variants_info" not in json.loads((data / "dataset.json").read_text())


def test_a_recorded_qc_run_supersedes_the_ingest_qc(cohort, tmp_path):
    enclave, dv, failed = cohort
    policy = QcPolicy(sample=SampleQc(sex_mismatch_fails=False))
    result = compute_qc(dv.path, policy, clinical_sex(enclave.state, version_samples(dv.path)))
    summary = write_qc(result, tmp_path / "qc", policy, dv.ref)
    record_qc(enclave.state, dv, tmp_path / "qc", summary)
    recorded = {r["sample"] for r in result.samples.to_pylist() if not r["pass"]}
    assert "SMP000018" in failed and "SMP000018" not in recorded
    built = {e.dataset_id: e for e in provision_project(enclave, "proj-a", ADMIN)}
    assert built["cohort-vcf"].qc_excluded == len(recorded)
    assert "(cirn datasets qc)" in built["cohort-vcf"].qc_source
    key = project_key(enclave.state, "proj-a")
    data = enclave.state.project_data("proj-a") / "cohort-vcf"
    assert pseudonym(key, "sample", "SMP000018") in _samples_everywhere(data)["samples"]  # only flagged now


def _kept_counts(dv, left_out: set[str]) -> dict[int, tuple[int, int]]:
    """AC and AN of every variant over the catalog's genotypes of the samples not in `left_out`."""
    rows = duckdb.execute(f"SELECT variant_key, coalesce(sum(dosage), 0)::BIGINT, 2 * count(dosage) "
                          f"FROM read_parquet('{dv.path}/genotypes/*/*.parquet') "
                          "WHERE NOT list_contains(?, sample) GROUP BY 1", [sorted(left_out)]).fetchall()
    return {k: (ac, an) for k, ac, an in rows}


def test_a_gt_grant_without_dosage_gets_allele_counts_of_its_own_samples(cohort):
    # The recount once summed the extract's `dosage`, which a grant of gt alone does not have.
    enclave, dv, failed = cohort
    with enclave.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "cohort-vcf", "1.0", ["gt", "info_ac", "info_an", "info_af"])
    built = {e.dataset_id: e for e in provision_project(enclave, "proj-a", ADMIN)}
    assert built["cohort-vcf"].qc_excluded == len(failed)
    data = enclave.state.project_data("proj-a") / "cohort-vcf"
    assert "dosage" not in pq.read_schema(next((data / "genotypes").glob("*/*.parquet"))).names
    expected = _kept_counts(dv, failed)
    variants = pq.read_table(data / "variants.parquet").to_pylist()
    assert variants and all((r["info_ac"], r["info_an"]) == expected[r["variant_key"]] for r in variants)
    assert all(r["info_af"] == pytest.approx(r["info_ac"] / r["info_an"]) for r in variants if r["info_an"])


def _keys(folder: Path, table: str) -> set[int]:
    return {r[0] for r in duckdb.sql(f"SELECT DISTINCT variant_key FROM read_parquet('{folder}/{table}/*/*.parquet')").fetchall()}


def test_variants_only_left_out_samples_carry_are_dropped_everywhere(cohort):
    enclave, dv, failed = cohort
    from cirn.datasets.withdrawals import withdraw
    with enclave.db.session() as s:
        withdraw(s, ADMIN, "RD000005")  # and their sample SMP000005, next to the QC failures
    left_out = failed | {"SMP000005"}
    carriers = duckdb.sql(f"SELECT variant_key, sample FROM read_parquet('{dv.path}/carriers/*/*.parquet') "
                          "WHERE dosage > 0").fetchall()
    carried_by: dict[int, set[str]] = {}
    for key, sample in carriers:
        carried_by.setdefault(key, set()).add(sample)
    private = {k for k, who in carried_by.items() if who <= left_out}
    every = {r["variant_key"] for r in pq.read_table(dv.path / "variants.parquet").to_pylist()}
    assert private and private < every  # the synthetic cohort has rare variants only they carry
    built = {e.dataset_id: e for e in provision_project(enclave, "proj-a", ADMIN)}
    assert built["cohort-vcf"].variants_dropped == len(private)
    data = enclave.state.project_data("proj-a") / "cohort-vcf"
    assert {r["variant_key"] for r in pq.read_table(data / "variants.parquet").to_pylist()} == every - private
    assert _keys(data, "genotypes") == every - private
    assert _keys(data, "matrix") == every - private
    assert not _keys(data, "carriers") & private
    assert matrix_calls(data) == genotype_calls(data)
    # Every row left is carried by a sample of the extract (or by nobody at all).
    ac = {r["variant_key"]: r["info_ac"] for r in pq.read_table(data / "variants.parquet").to_pylist()}
    assert all(ac[k] > 0 for k in carried_by if k not in private)


def test_info_computed_over_all_samples_is_recounted_or_left_out(cohort):
    enclave, dv, failed = cohort
    provision_project(enclave, "proj-a", ADMIN)
    data = enclave.state.project_data("proj-a") / "cohort-vcf"
    variants = pq.read_table(data / "variants.parquet").to_pylist()
    depth = dict(duckdb.sql(f"SELECT variant_key, sum(dp) FROM read_parquet('{data}/genotypes/*/*.parquet') "
                            "GROUP BY 1").fetchall())
    assert all(r["info_dp"] == depth[r["variant_key"]] for r in variants)  # the kept samples' FORMAT/DP
    source_dp = {r["variant_key"]: r["info_dp"] for r in pq.read_table(dv.path / "variants.parquet").to_pylist()}
    assert any(source_dp[r["variant_key"]] > r["info_dp"] for r in variants)
    assert all(r["qual"] is None for r in variants)  # from every sample's likelihoods: cannot be redone
    assert all(r["filter"] == "PASS" for r in variants)
    described = json.loads((data / "dataset.json").read_text())["variants_info"]
    assert described["recounted_over_extract_samples"] == ["info_ac", "info_af", "info_an", "info_dp"]
    assert described["left_out_as_null"] == ["qual"]

