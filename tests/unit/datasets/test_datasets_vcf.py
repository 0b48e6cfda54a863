"""VCF ingest: tables and values, multi-allelic split, partitions, and malformed input."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from cirn.datasets import vcf as vcf_module
from cirn.datasets import vcf_genotypes
from cirn.datasets.catalog import Catalog
from cirn.datasets.errors import MalformedInput
from cirn.datasets.vcf import ingest_vcf
from matrix_text import genotype_calls, matrix_calls
from tiny_vcf_text import HEADER, RECORDS, write_bgzip


def _genotypes(dv):
    return duckdb.sql(f"SELECT * FROM read_parquet('{dv.path}/genotypes/*/*.parquet', hive_partitioning=true) "
                      "ORDER BY variant_key, sample")


def test_variants_and_genotypes(state, tiny_vcf):
    dv = ingest_vcf(state, tiny_vcf, "tiny", "1", run_qc=False)
    m = dv.manifest
    assert (m["samples"], m["records"], m["variants"], m["genotypes"]) == (4, 6, 6, 24)
    assert m["chromosomes"] == ["chr1", "chr2", "chrX"]
    v = pq.read_table(dv.path / "variants.parquet").to_pylist()
    assert v[0] == {"variant_key": 0, "chrom": "chr1", "pos": 100, "id": "rs1", "ref": "A", "alt": "G", "qual": 50.0,
                    "filter": "PASS", "info_dp": 40, "info_af": 0.5, "info_db": True}
    assert v[1]["qual"] is None and v[1]["filter"] == "q10" and v[1]["id"] is None and v[1]["info_db"] is False
    rows = _genotypes(dv).fetchall()
    first = [r for r in rows if r[0] == 0]
    assert [(r[2], r[3], r[4], r[5], r[6]) for r in first] == [
        ("A", "0/0", 0, 10, 30), ("B", "0/1", 1, 11, 31), ("C", "1/1", 2, 12, 32), ("D", "0/1", 1, 13, 33)]
    missing = [r for r in rows if r[0] == 1 and r[2] == "C"][0]
    assert missing[3] == "./." and missing[4] is None and missing[5] is None
    phased = [r for r in rows if r[0] == 2 and r[2] == "B"][0]
    assert phased[3] == "0|1"
    assert sorted(p.name for p in (dv.path / "genotypes").iterdir()) == ["chrom=chr1", "chrom=chr2", "chrom=chrX"]


def test_multiallelic_records_are_split(state, tmp_path):
    rec = "chr1\t100\t.\tA\tG,T\t50\tPASS\tDP=4;AF=0.25,0.5\tGT:DP:GQ\t0/1:1:1\t1/2:1:1\t2/2:1:1\t./.:1:1"
    path = write_bgzip(tmp_path / "m.vcf.gz", HEADER + rec + "\n")
    dv = ingest_vcf(state, path, "multi", "1", run_qc=False)
    v = pq.read_table(dv.path / "variants.parquet").to_pylist()
    assert [(x["variant_key"], x["alt"], x["info_af"]) for x in v] == [(0, "G", 0.25), (1, "T", 0.5)]
    g = _genotypes(dv).fetchall()
    dosage = {(r[0], r[2]): r[4] for r in g}
    assert [dosage[(0, s)] for s in "ABCD"] == [1, 1, 0, None]
    assert [dosage[(1, s)] for s in "ABCD"] == [0, 1, 2, None]


def _expect_malformed(state, path, line, reason):
    with pytest.raises(MalformedInput) as err:
        ingest_vcf(state, path, "bad", "1", run_qc=False)
    assert err.value.line == line, str(err.value)
    assert reason in err.value.reason, str(err.value)
    assert str(path) in str(err.value)
    assert Catalog(state).versions("bad") == []
    assert not [p for p in (state.datasets / "bad").iterdir()] if (state.datasets / "bad").exists() else True
    return err.value


HEADER_LINES = HEADER.count("\n")


def test_wrong_column_count(state, tmp_path):
    bad = RECORDS[1].rsplit("\t", 1)[0]  # one sample column short
    path = write_bgzip(tmp_path / "cols.vcf.gz", HEADER + "\n".join([RECORDS[0], bad, RECORDS[2]]) + "\n")
    _expect_malformed(state, path, HEADER_LINES + 2, "has 12 tab-separated columns; the header declares 13")


def test_bad_genotype(state, tmp_path):
    bad = RECORDS[2].replace("0/1:7:27", "0/x:7:27")
    path = write_bgzip(tmp_path / "gt.vcf.gz", HEADER + "\n".join([RECORDS[0], RECORDS[1], bad]) + "\n")
    err = _expect_malformed(state, path, HEADER_LINES + 3, "GT '0/x'")
    assert "sample 3" in err.reason


def test_truncated_bgzip(state, tmp_path, tiny_vcf):
    data = tiny_vcf.read_bytes()
    path = tmp_path / "trunc.vcf.gz"
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(MalformedInput) as err:
        ingest_vcf(state, path, "bad", "1", run_qc=False)
    assert "truncated" in err.value.reason and err.value.line is not None
    assert Catalog(state).versions("bad") == []


def test_plain_gzip_or_text_is_refused(state, tmp_path):
    import gzip
    path = tmp_path / "plain.vcf.gz"
    path.write_bytes(gzip.compress((HEADER + RECORDS[0] + "\n").encode()))
    with pytest.raises(MalformedInput, match="not bgzip-compressed"):
        ingest_vcf(state, path, "bad", "1", run_qc=False)


def test_qc_is_stored_with_the_version(state, tiny_vcf):
    dv = ingest_vcf(state, tiny_vcf, "tiny", "1")
    assert dv.manifest["qc"]["samples"] == 4
    assert {"qc/sample_qc.parquet", "qc/variant_qc.parquet", "qc/report.html"} <= set(dv.manifest["files"])
    assert Catalog(state).verify(dv) == []


def test_synthetic_cohort_round_trip(state, synth_dir):
    dv = ingest_vcf(state, synth_dir / "cohort.vcf.gz", "syn", "1", run_qc=False)
    m = dv.manifest
    assert m["samples"] == 40 and m["variants"] == 600 and m["genotypes"] == 24_000
    region = duckdb.sql(f"SELECT count(*) FROM read_parquet('{dv.path}/genotypes/*/*.parquet', hive_partitioning=true) "
                        "WHERE chrom = 'chr2'").fetchall()[0][0]
    assert region == 40 * len([v for v in pq.read_table(dv.path / 'variants.parquet').column('chrom').to_pylist()
                               if v == "chr2"])


def test_parallel_conversion_by_contig_equals_the_sequential_pass(synth_dir, tmp_path):
    from cirn.datasets.vcf import convert_vcf
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        summary, _, _ = convert_vcf(synth_dir / "cohort.vcf.gz", out, workers=workers)
        outs[workers] = out
        assert summary.variants == 600 and summary.genotypes == 24_000
    assert pq.read_table(outs[1] / "variants.parquet").equals(pq.read_table(outs[2] / "variants.parquet"))
    q = ("SELECT variant_key, pos, sample, gt, dosage, dp, gq FROM read_parquet('{}/genotypes/*/*.parquet') "
         "ORDER BY variant_key, sample")
    assert duckdb.sql(q.format(outs[1])).fetchall() == duckdb.sql(q.format(outs[2])).fetchall()


def test_the_matrix_holds_every_call_of_the_genotypes_table(state, synth_dir, monkeypatch):
    # Chunks of 8 variants and matrix row groups of at least 320 genotypes (8 rows of 40 samples).
    monkeypatch.setattr(vcf_module, "GENOTYPE_ROWS_PER_GROUP", 320)
    monkeypatch.setattr(vcf_genotypes, "MATRIX_GENOTYPES_PER_GROUP", 320)
    dv = ingest_vcf(state, synth_dir / "cohort.vcf.gz", "syn", "1", run_qc=False)
    assert matrix_calls(dv.path) == genotype_calls(dv.path)
    matrix = duckdb.sql(f"SELECT variant_key, pos, allele FROM read_parquet('{dv.path}/matrix/*/*.parquet') "
                        "ORDER BY variant_key").fetchall()
    variants = pq.read_table(dv.path / "variants.parquet", columns=["variant_key", "pos"]).to_pylist()
    assert [(k, p) for k, p, _ in matrix] == [(v["variant_key"], v["pos"]) for v in variants]
    assert dv.manifest["tables"]["matrix"]["rows"] == 600
    # Row groups of consecutive variants, so a region reads little (about 128 rows at 2,000 samples).
    md = pq.ParquetFile(next((dv.path / "matrix").glob("chrom=chr1/*.parquet"))).metadata
    assert md.num_row_groups > 1 and md.row_group(0).num_rows == 8
    assert Catalog(state).verify(dv) == []


def test_carriers_table_is_the_genotypes_without_hom_ref(state, tiny_vcf):
    dv = ingest_vcf(state, tiny_vcf, "tiny", "1", run_qc=False)
    q = "SELECT variant_key, sample, gt, dosage FROM read_parquet('{}/{}/*/*.parquet') {} ORDER BY 1, 2"
    dense = duckdb.sql(q.format(dv.path, "genotypes", "WHERE dosage IS NULL OR dosage <> 0")).fetchall()
    sparse = duckdb.sql(q.format(dv.path, "carriers", "")).fetchall()
    assert sparse == dense and len(sparse) == dv.manifest["tables"]["carriers"]["rows"] == 15
