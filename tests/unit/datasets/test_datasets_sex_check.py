"""The chrX sex check against the sex recorded in the clinical table: the `sex-mismatch` flag."""

from __future__ import annotations

import pytest

from cirn.datasets.clinical import ingest_clinical
from cirn.datasets.qc import SEX_MISMATCH, clinical_sex, compute_qc, run_qc_into
from cirn.datasets.vcf import ingest_vcf
from cirn.errors import Conflict
from cirn.policies.qc_rules import QcPolicy, SampleQc


@pytest.fixture
def linked(state, tmp_path, tiny_vcf):
    # In the tiny VCF, A is female by chrX (two het calls) and B male (none); C has no sex recorded.
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("participant_id,sample_id,sex\nPA,A,M\nPB,B,male\nPC,C,\nPD,D,F\n")
    ingest_clinical(state, clinical, "clin", "1")
    return ingest_vcf(state, tiny_vcf, "tiny", "1")   # the QC at ingest finds the clinical table itself


def _rows(table):
    return {r["sample"]: r for r in table.to_pylist()}


def test_ingest_qc_flags_the_sample_whose_recorded_sex_disagrees(linked):
    import pyarrow.parquet as pq
    rows = _rows(pq.read_table(linked.path / "qc" / "sample_qc.parquet"))
    assert rows["A"]["flags"] == SEX_MISMATCH and rows["A"]["clinical_sex"] == "male"
    assert rows["A"]["inferred_sex"] == "female" and not rows["A"]["pass"]
    assert "sex mismatch" in rows["A"]["reasons"]
    assert rows["B"]["flags"] == "" and rows["B"]["clinical_sex"] == "male"
    assert rows["C"]["clinical_sex"] is None and rows["C"]["flags"] == ""
    assert rows["D"]["flags"] == ""
    qc = linked.manifest["qc"]
    assert qc["sex_mismatches"] == 1 and qc["clinical_sex"] == "clin@1 (column sex)"
    report = (linked.path / "qc" / "report.html").read_text()
    assert "Sex check against the clinical table" in report and "1 sample(s) flagged" in report
    assert "<td>A</td>" in report and SEX_MISMATCH in report


def test_a_mismatch_can_be_a_flag_only(state, linked):
    policy = QcPolicy(sample=SampleQc(sex_mismatch_fails=False))
    rows = _rows(compute_qc(linked.path, policy, clinical_sex(state, {"A", "B", "C", "D"})).samples)
    assert rows["A"]["flags"] == SEX_MISMATCH and "sex mismatch" not in rows["A"]["reasons"]


def test_clinical_named_explicitly_links_through_the_participant(state, tmp_path, linked):
    # A table with participants and sex but no sample ids: linked through clin@1's participant_id/sample_id.
    sexes = tmp_path / "sexes.csv"
    sexes.write_text("participant_id,sex\nPA,Female\nPB,M\n")
    dv = ingest_clinical(state, sexes, "sexes", "1")
    found = clinical_sex(state, {"A", "B", "C", "D"}, dv)
    assert found.by_sample == {"A": "female", "B": "male"}
    summary = run_qc_into(linked.path, tmp_path / "qc", QcPolicy(), "tiny@1", dv)
    assert summary["sex_mismatches"] == 0 and summary["clinical_sex"] == "sexes@1 (column sex)"


def test_a_clinical_table_without_sex_is_refused_by_name(state, tmp_path, linked):
    other = tmp_path / "other.csv"
    other.write_text("participant_id,sample_id,age\nPA,A,3\n")
    dv = ingest_clinical(state, other, "other", "1")
    with pytest.raises(Conflict, match="other@1 is not a clinical table with a sex column"):
        clinical_sex(state, {"A"}, dv)


def test_no_clinical_table_no_comparison(state, tiny_vcf):
    dv = ingest_vcf(state, tiny_vcf, "alone", "1")
    assert dv.manifest["qc"]["clinical_sex"] is None and dv.manifest["qc"]["sex_mismatches"] == 0
    assert "name one with" in (dv.path / "qc" / "report.html").read_text()
