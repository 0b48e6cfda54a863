"""An extract that leaves a sample out, field by field, on a hand-made VCF: the rows only that
sample carries go (a multi-allelic record's other ALT stays), counts are redone, values computed
over every sample are left out, site annotations stay (and the policy can name more)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from cirn import projects
from cirn.datasets.extracts import provision_project
from cirn.datasets.vcf import ingest_vcf
from cirn.datasets.withdrawals import withdraw
from test_datasets_qc_exclusion import with_extracts_policy
from tiny_vcf_text import write_bgzip

ADMIN = "admin:test"
HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=1000000>
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=NS,Number=1,Type=Integer,Description="Samples with data">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Combined depth">
##INFO=<ID=MQ,Number=1,Type=Float,Description="RMS mapping quality">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP">
##INFO=<ID=CSQ,Number=.,Type=String,Description="VEP consequence">
##INFO=<ID=CADD,Number=1,Type=Float,Description="CADD score">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD
"""
INFO = "MQ=60;DB;CSQ=G|missense;CADD=20.5"
RECORDS = [
    f"chr1\t100\t.\tA\tG\t50\tPASS\tAC=1;AN=8;AF=0.125;NS=4;DP=40;{INFO}\tGT:DP\t0/0:10\t0/0:10\t0/1:10\t0/0:10",
    f"chr1\t200\t.\tC\tG\t60\tPASS\tAC=2;AN=8;AF=0.25;NS=4;DP=46;{INFO}\tGT:DP\t0/1:11\t0/0:12\t0/1:13\t0/0:10",
    f"chr1\t300\t.\tG\tT\t70\tPASS\tAC=0;AN=8;AF=0;NS=4;DP=40;{INFO}\tGT:DP\t0/0:10\t0/0:10\t0/0:10\t0/0:10",
    f"chr1\t400\t.\tT\tA,C\t80\tPASS\tAC=1,1;AN=6;AF=0.17,0.17;NS=3;DP=30;{INFO}\tGT:DP\t0/1:10\t0/0:10\t0/2:10\t./.:.",
]


@pytest.fixture
def withdrawn_c(enclave, tmp_path):
    vcf = write_bgzip(tmp_path / "hand.vcf.gz", HEADER + "\n".join(RECORDS) + "\n")
    ingest_vcf(enclave.state, vcf, "hand", "1", run_qc=False)
    with enclave.db.session() as s:
        projects.create_project(s, ADMIN, "proj-a", "A", dt.date(2030, 1, 1))
        projects.grant(s, ADMIN, "proj-a", "hand", "1")
        withdraw(s, ADMIN, "C")  # a withdrawal may name the sample itself
    return enclave


def _variants(enclave) -> dict[tuple[int, str], dict]:
    rows = pq.read_table(enclave.state.project_data("proj-a") / "hand" / "variants.parquet").to_pylist()
    return {(r["pos"], r["alt"]): r for r in rows}


def test_each_field_by_what_it_is_computed_from(withdrawn_c):
    provision_project(withdrawn_c, "proj-a", ADMIN)
    v = _variants(withdrawn_c)
    # 100 G and 400 C: only C carries them. 300 T: nobody does (it says nothing about C).
    assert sorted(v) == [(200, "G"), (300, "T"), (400, "A")]
    counts = {k: (r["info_ac"], r["info_an"], r["info_ns"], r["info_dp"]) for k, r in v.items()}
    assert counts == {(200, "G"): (1, 6, 3, 33), (300, "T"): (0, 6, 3, 30), (400, "A"): (1, 4, 2, 20)}
    assert v[(200, "G")]["info_af"] == pytest.approx(1 / 6)
    for r in v.values():
        assert r["qual"] is None and r["info_mq"] is None and r["info_cadd"] is None  # over every sample / unknown
        assert r["info_db"] is True and r["info_csq"] == "G|missense" and r["filter"] == "PASS"  # the site's
    described = json.loads((withdrawn_c.state.project_data("proj-a") / "hand" / "dataset.json").read_text())
    assert described["variants_info"]["left_out_as_null"] == ["qual", "info_mq", "info_cadd"]


def test_the_policy_names_more_site_fields(withdrawn_c, tmp_path):
    provision_project(with_extracts_policy(withdrawn_c, tmp_path, site_info_fields=["CAD*"]), "proj-a", ADMIN)
    assert {r["info_cadd"] for r in _variants(withdrawn_c).values()} == {20.5}
