"""QC metrics against values worked out by hand (and by brute force) on the tiny VCF of conftest.py."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from cirn.datasets.qc import compute_qc, hwe_exact_p, write_qc
from cirn.datasets.vcf import ingest_vcf
from cirn.policies.qc_rules import QcPolicy


def hwe_brute_force(n_het: int, n_aa: int, n_bb: int) -> float:
    """Sum of P(het = k | n, allele counts) over all k no more likely than the observed k (Levene/Haldane)."""
    n = n_het + n_aa + n_bb
    n_a = 2 * n_aa + n_het
    n_b = 2 * n - n_a

    def prob(k):
        aa, bb = (n_a - k) // 2, (n_b - k) // 2
        f = math.factorial
        return Fraction(f(n) * 2 ** k * f(n_a) * f(n_b), f(aa) * f(k) * f(bb) * f(2 * n))

    ks = [k for k in range(min(n_a, n_b) + 1) if (n_a - k) % 2 == 0]
    obs = prob(n_het)
    return min(1.0, float(sum(prob(k) for k in ks if prob(k) <= obs)))


@pytest.mark.parametrize("counts", [(2, 1, 1), (0, 5, 5), (10, 0, 0), (1, 30, 0), (57, 14, 29), (0, 3, 0), (3, 40, 7)])
def test_hwe_exact_matches_brute_force(counts):
    assert hwe_exact_p(*counts) == pytest.approx(hwe_brute_force(*counts), rel=1e-9)


@pytest.fixture
def qc(state, tiny_vcf):
    dv = ingest_vcf(state, tiny_vcf, "tiny", "1", run_qc=False)
    return dv, compute_qc(dv.path, QcPolicy())


def test_sample_metrics(qc):
    _dv, result = qc
    s = {r["sample"]: r for r in result.samples.to_pylist()}
    # A: all 6 called; autosomes 0/0 0/1 1/1 0/0 -> 1 het of 4; carries alt at v2 (C>A tv), v3 (G>A ti),
    # v5 (A>G ti), v6 (C>T ti) -> Ti/Tv 3.
    assert s["A"]["call_rate"] == 1.0 and s["A"]["het_rate"] == 0.25 and s["A"]["ti_tv"] == 3.0
    # C: v2 missing -> 5/6; autosomes 1/1 0/1 0/1 -> 2 of 3 het; carries v1 ti, v3 ti, v4 T>G tv, v6 ti.
    assert s["C"]["call_rate"] == pytest.approx(5 / 6)
    assert s["C"]["het_rate"] == pytest.approx(2 / 3)
    assert (s["C"]["n_ti"], s["C"]["n_tv"]) == (3, 1)
    # chrX AF: v5 3/8, v6 4/8. Expected het = 2*3/8*5/8 + 2*1/2*1/2 = 0.96875.
    # A has 2 het calls -> F = 1 - 2/0.96875; B has none -> F = 1 (male).
    assert s["A"]["x_f"] == pytest.approx(1 - 2 / 0.96875)
    assert s["B"]["x_f"] == pytest.approx(1.0) and s["B"]["inferred_sex"] == "male"
    assert s["A"]["inferred_sex"] == "female"
    # D has one het of two chrX calls: F = 1 - 1/0.96875, near 0 -> female.
    assert s["D"]["x_f"] == pytest.approx(1 - 1 / 0.96875)


def test_variant_metrics(qc):
    _dv, result = qc
    v = {r["pos"]: r for r in result.variants.to_pylist()}
    assert v[100]["call_rate"] == 1.0 and v[100]["af"] == 0.5
    assert (v[100]["n_hom_ref"], v[100]["n_het"], v[100]["n_hom_alt"]) == (1, 2, 1)
    assert v[100]["hwe_p"] == pytest.approx(hwe_brute_force(2, 1, 1))
    assert v[200]["call_rate"] == 0.75 and v[200]["af"] == pytest.approx(1 / 6)
    assert v[5000000]["hwe_p"] is None  # HWE only on autosomes


def test_thresholds_mark_failures_with_reasons(qc):
    _dv, result = qc
    s = {r["sample"]: r for r in result.samples.to_pylist()}
    v = {r["pos"]: r for r in result.variants.to_pylist()}
    assert not s["C"]["pass"] and "call rate 0.833 < 0.95" in s["C"]["reasons"]
    assert not v[200]["pass"] and "call rate" in v[200]["reasons"]
    strict = QcPolicy.model_validate({"sample": {"min_call_rate": 0.5, "max_ti_tv": 2.5}})
    s2 = {r["sample"]: r for r in compute_qc(_dv.path, strict).samples.to_pylist()}
    assert "Ti/Tv 3.00 outside" in s2["A"]["reasons"]


def test_report_and_tables_are_written(qc, tmp_path):
    _dv, result = qc
    summary = write_qc(result, tmp_path / "qc", QcPolicy(), "tiny@1")
    html = (tmp_path / "qc" / "report.html").read_text()
    assert "data:image/png;base64," in html and "tiny@1" in html
    assert summary["samples"] == 4 and summary["samples_failed"] >= 1


def test_synthetic_cohort_flags_the_planted_bad_samples(state, synth_dir):
    dv = ingest_vcf(state, synth_dir / "cohort.vcf.gz", "syn", "1", run_qc=False)
    s = {r["sample"]: r for r in compute_qc(dv.path).samples.to_pylist()}
    assert not s["SMP000008"]["pass"] and "call rate" in s["SMP000008"]["reasons"]
    assert not s["SMP000014"]["pass"] and "heterozygosity" in s["SMP000014"]["reasons"]


def test_qc_from_the_carriers_equals_qc_from_every_genotype(state, synth_dir):
    # The sparse path (carriers only, the rest by subtraction) must give the dense path's result:
    # the synthetic cohort has missing calls, a low-call-rate sample, chrX and multi-class variants.
    dv = ingest_vcf(state, synth_dir / "cohort.vcf.gz", "cohort", "1", run_qc=False)
    dense, sparse = compute_qc(dv.path, sparse=False), compute_qc(dv.path, sparse=True)
    assert sparse.variants.equals(dense.variants)
    d, s = dense.samples.to_pydict(), sparse.samples.to_pydict()
    assert d.keys() == s.keys() and d["sample"] == s["sample"]
    for column in d:
        if column in ("het_rate", "het_z", "ti_tv", "x_f"):  # sums in another order: the last bits may differ
            assert s[column] == pytest.approx(d[column], rel=1e-9, abs=1e-12), column
        else:
            assert s[column] == d[column], column
    assert not all(d["pass"]) and min(d["call_rate"]) < 0.95  # the planted failures are there
