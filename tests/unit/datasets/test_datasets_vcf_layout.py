"""VCF ingest layout: chunked genotype writing, row groups that prune a region, carriers, the record total."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pysam

from cirn.datasets import vcf as vcf_module
from cirn.datasets.vcf import convert_vcf, record_total
from tiny_vcf_text import HEADER, RECORDS, write_bgzip

# GT texts that appear only late in the file (haploid, multi-allelic, phased, half-missing), so the
# GT dictionary grows while chunks are already written.
LATE = [
    "chr2\t500\t.\tA\tC,T\t70\tPASS\tDP=30\tGT:DP:GQ\t1/2:10:30\t0|2:9:29\t2/2:7:27\t./1:8:28",
    "chr2\t600\t.\tG\tC\t70\tPASS\tDP=30\tGT:DP:GQ\t1:10:30\t0:9:29\t.:.:.\t1|1:8:28",
]
GENOTYPES_SQL = ("SELECT variant_key, pos, sample, gt, dosage, dp, gq FROM read_parquet('{}/{}/*/*.parquet') "
                 "ORDER BY variant_key, sample")


def _vcf(tmp_path):
    lines = RECORDS[:4] + LATE + RECORDS[4:]
    return write_bgzip(tmp_path / "late.vcf.gz", HEADER + "\n".join(lines) + "\n")


def _convert(path, out, workers=1):
    out.mkdir()
    return convert_vcf(path, out, workers=workers)[0]


def test_small_chunks_give_the_same_rows_as_one_chunk(tmp_path, monkeypatch):
    path = _vcf(tmp_path)
    _convert(path, tmp_path / "whole")
    # Two variants (eight genotypes) per chunk: the late GT texts arrive after chunks were written.
    monkeypatch.setattr(vcf_module, "GENOTYPE_ROWS_PER_GROUP", 8)
    summary = _convert(path, tmp_path / "chunked")
    assert summary.variants == 9 and summary.genotypes == 36
    for table in ("genotypes", "carriers"):
        whole = duckdb.sql(GENOTYPES_SQL.format(tmp_path / "whole", table)).fetchall()
        chunked = duckdb.sql(GENOTYPES_SQL.format(tmp_path / "chunked", table)).fetchall()
        assert chunked == whole
    rows = duckdb.sql(GENOTYPES_SQL.format(tmp_path / "chunked", "genotypes")).fetchall()
    by_key = {}
    for key, pos, sample, gt, dosage, dp, gq in rows:
        by_key.setdefault(pos, []).append((sample, gt, dosage))
    # chr2:500 C,T is split in two rows; the first counts C (allele 1), the second T (allele 2).
    first_alt, second_alt = sorted({k for k, p, *_ in rows if p == 500})
    first = [(s, g, d) for k, p, s, g, d, *_ in rows if k == first_alt]
    second = [(s, g, d) for k, p, s, g, d, *_ in rows if k == second_alt]
    assert first == [("A", "1/2", 1), ("B", "0|2", 0), ("C", "2/2", 0), ("D", "./1", None)]
    assert second == [("A", "1/2", 1), ("B", "0|2", 1), ("C", "2/2", 2), ("D", "./1", None)]
    assert by_key[600] == [("A", "1", 1), ("B", "0", 0), ("C", ".", None), ("D", "1|1", 2)]
    files = sorted((tmp_path / "chunked" / "genotypes").glob("*/*.parquet"))
    assert max(pq.ParquetFile(f).num_row_groups for f in files) > 1


def test_genotype_row_groups_cover_increasing_positions_and_prune_a_region(synth_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(vcf_module, "GENOTYPE_ROWS_PER_GROUP", 40 * 8)  # 8 variants per row group
    out = tmp_path / "out"
    _convert(synth_dir / "cohort.vcf.gz", out, workers=2)
    chr1 = sorted((out / "genotypes" / "chrom=chr1").glob("*.parquet"))
    meta = pq.ParquetFile(chr1[0]).metadata
    assert len(chr1) == 1 and meta.num_row_groups > 3
    pos = meta.schema.to_arrow_schema().get_field_index("pos")
    spans = [(meta.row_group(i).column(pos).statistics.min, meta.row_group(i).column(pos).statistics.max)
             for i in range(meta.num_row_groups)]
    assert all(lo <= hi < next_lo for (lo, hi), (next_lo, _) in zip(spans, spans[1:]))
    # A region inside one row group's span reads that row group only.
    lo, hi = spans[1]
    plan = duckdb.sql(f"EXPLAIN ANALYZE SELECT * FROM read_parquet('{chr1[0]}') "
                      f"WHERE pos BETWEEN {lo} AND {hi}").fetchall()[0][1]
    assert f"Row Groups Scanned: 1 / {meta.num_row_groups}" in plan.replace("│", " ").replace("  ", " ")


def test_carriers_come_in_large_row_groups(synth_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(vcf_module, "GENOTYPE_ROWS_PER_GROUP", 40 * 8)
    out = tmp_path / "out"
    summary = _convert(synth_dir / "cohort.vcf.gz", out, workers=1)
    files = sorted((out / "carriers").glob("*/*.parquet"))
    groups = sum(pq.ParquetFile(f).num_row_groups for f in files)
    # One row group per chromosome file here (fewer rows than a carriers row group holds), where
    # the genotypes are cut every few dozen variants.
    assert groups == len(files) and summary.carriers == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert sum(pq.ParquetFile(f).num_row_groups for f in (out / "genotypes").glob("*/*.parquet")) > 2 * groups


def test_record_total_comes_from_the_index(tmp_path, tiny_vcf):
    assert record_total(tiny_vcf) is None  # no index: the progress bar counts without a total
    pysam.tabix_index(str(tiny_vcf), preset="vcf", force=True)
    assert record_total(tiny_vcf) == len(RECORDS)


def test_parallel_pass_through_binary_vcf_equals_the_sequential_pass(tmp_path, monkeypatch):
    # Every tag declared (the FILTER q10 of the shared records too), so the parallel pass, which
    # refuses a record using an undeclared tag, does not fall back; its rows equal the direct reading.
    header = HEADER.replace("##INFO=", '##FILTER=<ID=q10,Description="Quality below 10">\n##INFO=', 1)
    path = write_bgzip(tmp_path / "declared.vcf.gz", header + "\n".join(RECORDS[:4] + LATE + RECORDS[4:]) + "\n")
    pysam.tabix_index(str(path), preset="vcf", force=True)
    path = tmp_path / "declared.vcf.gz"
    real = vcf_module._records_via_htslib

    def spy(source, contigs, *rest):  # runs in the worker processes: leaves a mark when done
        yield from real(source, contigs, *rest)
        (tmp_path / f"transcoded-{'-'.join(contigs)}").touch()
    monkeypatch.setattr(vcf_module, "_records_via_htslib", spy)
    _convert(path, tmp_path / "parallel", workers=2)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob("transcoded-*")) == ["transcoded-chr1", "transcoded-chr2", "transcoded-chrX"]
    _convert(path, tmp_path / "sequential", workers=1)
    for table in ("genotypes", "carriers"):
        assert (duckdb.sql(GENOTYPES_SQL.format(tmp_path / "parallel", table)).fetchall()
                == duckdb.sql(GENOTYPES_SQL.format(tmp_path / "sequential", table)).fetchall())
    assert (pq.read_table(tmp_path / "parallel" / "variants.parquet")
            .equals(pq.read_table(tmp_path / "sequential" / "variants.parquet")))
