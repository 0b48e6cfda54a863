"""The parallel ingest's reader (htslib's binary records, decoded) against the sequential pass
(cyvcf2) on awkward input.

Every value kind a VCF can hold goes through both readers; the Parquet tables must be identical.
A mark left by each worker proves the parallel pass did decode the records itself instead of
falling back to the sequential one.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pysam
import pytest

from cirn.datasets import vcf as vcf_module
from cirn.datasets.errors import MalformedInput
from cirn.datasets.vcf import convert_vcf
from cirn.datasets.vcf_genotypes import GenotypeChunk, GenotypeWriter
from cirn.datasets.vcf_records import INT32_MISSING
from matrix_text import genotype_calls, matrix_calls
from tiny_vcf_text import write_bgzip

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=2000000>
##contig=<ID=chr2,length=1000000>
##contig=<ID=chrX,length=156040895>
##FILTER=<ID=q10,Description="Quality below 10">
##FILTER=<ID=s50,Description="Less than 50% of samples have data">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=RF,Number=R,Type=Float,Description="Per-allele fractions">
##INFO=<ID=MQ,Number=1,Type=Float,Description="Mapping quality">
##INFO=<ID=PR,Number=2,Type=Integer,Description="A pair">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP">
##INFO=<ID=GENE,Number=.,Type=String,Description="Genes">
##INFO=<ID=NOTE,Number=1,Type=String,Description="Free text">
##INFO=<ID=CH,Number=1,Type=Character,Description="A character">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD
"""

ALLELES70 = [a + b for a in "ACGT" for b in "ACGT" for _ in [0]][:16] + \
    [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"][:54]

RECORDS = [
    # every INFO kind present; a depth above int8 and one above int16
    "chr1\t100\trs1\tA\tG\t50.5\tPASS\tDP=40;AC=3;AF=0.25;RF=0.75,0.25;MQ=59.9;PR=1,2;DB;GENE=BRCA1,BRCA2;"
    "NOTE=caf\u00e9 au lait;CH=x\tGT:DP:GQ:AD\t0/0:10:30:10,0\t0/1:300:31:150,150\t1/1:70000:32:0,70000\t0/1:13:33:7,6",
    # missing QUAL, two filters, missing INFO values inside vectors, flag absent
    "chr1\t200\t.\tC\tA,T\t.\tq10;s50\tDP=.;AC=.,2;AF=0.1,.;RF=.,0.5,0.5;MQ=.\tGT:DP:GQ\t0/2:.:30\t./.:9:.\t1|2:.:.\t.",
    # no ALT, no FILTER, no INFO; trailing FORMAT fields left out
    "chr1\t300\t.\tG\t.\t60\t.\t.\tGT:DP:GQ\t0/0\t0/0:5\t0|0:7:27\t./.:8:28",
    # FORMAT without DP, GQ in another order; phased and half-missing calls
    "chr2\t400\trs4;rs44\tT\tG\t70\tPASS\tGENE=X\tGQ:GT\t20:0|1\t21:1|0\t22:.|1\t23:1/.",
    # haploid calls (chrX in males), one sample missing entirely
    "chrX\t5000000\t.\tA\tG\t70\tPASS\tDP=30\tGT:DP:GQ\t1:10:30\t0:9:29\t.:.:.\t0/1:8:28",
    # a mixed-ploidy record: haploid and diploid calls in one line
    "chrX\t6000000\t.\tC\tT,G\t70\tPASS\tAC=1,1\tGT:DP\t1:4\t2:5\t0/1:6\t1/2:7",
    # every call haploid; one sample has no GT at all (its field list stops before GT)
    "chrX\t6000100\t.\tG\tA\t70\tPASS\t.\tDP:GT\t3:1\t4:0\t5\t6:1",
    # 70 ALT alleles: allele numbers past 62 need two bytes per allele in BCF and in the chunk
    "chrX\t6000200\t.\tA\t" + ",".join(ALLELES70) + "\t70\tPASS\t.\tGT\t65/70\t0/65\t./.\t70|70",
]

GENOTYPES_SQL = ("SELECT variant_key, pos, sample, gt, dosage, dp, gq FROM read_parquet('{}/{}/*/*.parquet') "
                 "ORDER BY variant_key, sample")


def _both_passes(tmp_path, monkeypatch, records, header=HEADER):
    path = write_bgzip(tmp_path / "awkward.vcf.gz", header + "\n".join(records) + "\n")
    pysam.tabix_index(str(path), preset="vcf", force=True)
    path = tmp_path / "awkward.vcf.gz"
    real_htslib, real_cyvcf2 = vcf_module._records_via_htslib, vcf_module.cyvcf2_records
    run = {}

    def decoded(source, contigs, *rest):  # runs in the worker processes: a mark once a contig is decoded
        yield from real_htslib(source, contigs, *rest)
        (tmp_path / f"decoded-{'-'.join(contigs)}").touch()

    def sequential(*args):  # only the sequential pass reads with cyvcf2
        (tmp_path / f"sequential-{run['workers']}").touch()
        yield from real_cyvcf2(*args)
    monkeypatch.setattr(vcf_module, "_records_via_htslib", decoded)
    monkeypatch.setattr(vcf_module, "cyvcf2_records", sequential)
    # Two variants per chunk: chunks are written and reused.
    monkeypatch.setattr(vcf_module, "GENOTYPE_ROWS_PER_GROUP", 8)
    outs = {}
    for workers in (2, 1):
        run["workers"] = workers
        outs[workers] = tmp_path / f"w{workers}"
        outs[workers].mkdir()
        convert_vcf(path, outs[workers], workers=workers)
    assert (tmp_path / "sequential-1").exists()
    return outs


def test_the_decoder_gives_what_cyvcf2_gives(tmp_path, monkeypatch):
    outs = _both_passes(tmp_path, monkeypatch, RECORDS)
    assert sorted(p.name for p in tmp_path.glob("decoded-*")) == ["decoded-chr1", "decoded-chr2", "decoded-chrX"]
    assert not (tmp_path / "sequential-2").exists()  # the parallel output is the decoder's own
    parallel = pq.read_table(outs[2] / "variants.parquet")
    assert parallel.equals(pq.read_table(outs[1] / "variants.parquet"))
    for table in ("genotypes", "carriers"):
        assert (duckdb.sql(GENOTYPES_SQL.format(outs[2], table)).fetchall()
                == duckdb.sql(GENOTYPES_SQL.format(outs[1], table)).fetchall())
    # The matrix holds the same calls (haploid, missing, phased, past allele 62) in both passes.
    for out in outs.values():
        assert matrix_calls(out) == genotype_calls(out)
    assert pq.read_table(outs[2] / "matrix").equals(pq.read_table(outs[1] / "matrix"))
    # The values themselves, not only their agreement.
    rows = parallel.to_pylist()
    first = rows[0]
    assert (first["id"], first["qual"], first["filter"], first["info_db"]) == ("rs1", 50.5, "PASS", True)
    assert first["info_gene"] == "BRCA1,BRCA2" and first["info_note"] == "caf\u00e9 au lait"
    assert first["info_rf"] == "0.75,0.25" and first["info_pr"] == "1,2" and first["info_ch"] == "x"
    second = [r for r in rows if r["pos"] == 200]
    assert [r["alt"] for r in second] == ["A", "T"]
    assert [(r["info_ac"], r["info_af"]) for r in second] == [(None, 0.10000000149011612), (2, None)]
    assert second[0]["qual"] is None and second[0]["filter"] == "q10;s50" and second[0]["info_db"] is False
    assert second[0]["info_dp"] is None and second[0]["info_rf"] == "None,0.5,0.5"
    third = [r for r in rows if r["pos"] == 300][0]
    assert (third["alt"], third["filter"], third["id"]) == (".", ".", None)
    depths = duckdb.sql(f"SELECT sample, dp, gq, gt FROM read_parquet('{outs[2]}/genotypes/*/*.parquet') "
                        "WHERE pos = 100 ORDER BY sample").fetchall()
    assert depths == [("A", 10, 30, "0/0"), ("B", 300, 31, "0/1"), ("C", 70000, 32, "1/1"), ("D", 13, 33, "0/1")]
    mixed = duckdb.sql(f"SELECT sample, gt, dosage FROM read_parquet('{outs[2]}/genotypes/*/*.parquet') "
                       "WHERE pos = 6000000 ORDER BY variant_key, sample").fetchall()
    assert mixed[:4] == [("A", "1", 1), ("B", "2", 0), ("C", "0/1", 1), ("D", "1/2", 1)]
    haploid = duckdb.sql(f"SELECT sample, gt, dosage, dp FROM read_parquet('{outs[2]}/genotypes/*/*.parquet') "
                         "WHERE pos = 6000100 ORDER BY sample").fetchall()
    assert haploid == [("A", "1", 1, 3), ("B", "0", 0, 4), ("C", ".", None, 5), ("D", "1", 1, 6)]
    many = duckdb.sql(f"SELECT v.alt, g.sample, g.gt, g.dosage FROM read_parquet('{outs[2]}/genotypes/*/*.parquet') g "
                      f"JOIN read_parquet('{outs[2]}/variants.parquet') v USING (variant_key) "
                      "WHERE g.pos = 6000200 AND v.alt IN (?, ?) ORDER BY g.variant_key, g.sample",
                      params=[ALLELES70[64], ALLELES70[69]]).fetchall()
    assert many == [(ALLELES70[64], "A", "65/70", 1), (ALLELES70[64], "B", "0/65", 1),
                    (ALLELES70[64], "C", "./.", None), (ALLELES70[64], "D", "70|70", 0),
                    (ALLELES70[69], "A", "65/70", 1), (ALLELES70[69], "B", "0/65", 0),
                    (ALLELES70[69], "C", "./.", None), (ALLELES70[69], "D", "70|70", 2)]


def test_calls_the_decoder_does_not_take_fall_back_to_the_sequential_pass(tmp_path, monkeypatch):
    # A triploid call: the parallel pass gives up on it and the sequential pass redoes the whole file.
    records = RECORDS[:1] + ["chr2\t400\t.\tT\tG\t70\tPASS\t.\tGT\t0/1/1\t0/0/0\t1/1/1\t0/0/1"]
    outs = _both_passes(tmp_path, monkeypatch, records)
    assert not list(tmp_path.glob("decoded-chr2"))
    assert (tmp_path / "sequential-2").exists()
    for table in ("genotypes", "carriers"):
        assert (duckdb.sql(GENOTYPES_SQL.format(outs[2], table)).fetchall()
                == duckdb.sql(GENOTYPES_SQL.format(outs[1], table)).fetchall())


def test_a_file_that_declares_end_keeps_it_in_the_parallel_pass(tmp_path, monkeypatch):
    # END is an ordinary INFO value in htslib's parsed record (a BCF writer would drop one that only
    # restates POS + len(REF) - 1; nothing is written here), so GATK-style files that declare it
    # are read in parallel, with END as the file has it.
    header = HEADER.replace("##INFO=<ID=DP,", '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n##INFO=<ID=DP,', 1)
    records = ["chr1\t4\t.\tAC\tA\t50\tPASS\tEND=5\tGT\t0/1\t0/0\t0/0\t0/0",
               "chr2\t10\t.\tA\t<DEL>\t50\tPASS\tEND=90\tGT\t0/1\t0/0\t0/0\t0/0"]
    outs = _both_passes(tmp_path, monkeypatch, records, header)
    assert not (tmp_path / "sequential-2").exists()
    assert sorted(p.name for p in tmp_path.glob("decoded-*")) == ["decoded-chr1", "decoded-chr2"]
    assert pq.read_table(outs[2] / "variants.parquet").column("info_end").to_pylist() == [5, 90]
    assert pq.read_table(outs[2] / "variants.parquet").equals(pq.read_table(outs[1] / "variants.parquet"))


def test_missing_depths_of_every_integer_width_are_null_and_other_values_kept(tmp_path):
    # BCF stores each record's DP in the narrowest integer that holds it; its "missing" and "vector
    # end" values differ by width. Values just above them are real and must survive.
    chunk = GenotypeChunk(4, 4)
    gt = np.zeros((4, 2), dtype=np.int8)
    depths = [np.array([-128, -127, -120, 127], dtype=np.int8),
              np.array([-32768, -32767, -200, 32767], dtype=np.int16),
              np.array([INT32_MISSING, INT32_MISSING + 1, 70000, -5], dtype=np.int32),
              None]
    for i, dp in enumerate(depths):
        chunk.chrom = "chr1"
        chunk.add(i, 100 + i, 1, gt, dp, dp)
    writer = GenotypeWriter(tmp_path / "genotypes", ["A", "B", "C", "D"])
    writer.write(chunk)
    writer.close()
    rows = pq.read_table(tmp_path / "genotypes" / "chrom=chr1" / "part-0.parquet").to_pylist()
    assert [r["dp"] for r in rows] == [None, None, -120, 127, None, None, -200, 32767,
                                       None, None, 70000, -5, None, None, None, None]
    assert [r["gq"] for r in rows] == [r["dp"] for r in rows]


def test_a_record_with_an_undeclared_tag_is_read_by_the_sequential_pass(tmp_path, monkeypatch):
    # htslib would invent a definition for an undeclared INFO key and go on; the parallel reader
    # refuses the record instead, so the file's tables come from the one pass that reads it as written.
    records = RECORDS[:1] + ["chr2\t400\t.\tT\tG\t70\tPASS\tNEW=1\tGT\t0/1\t0/0\t1/1\t0/0"]
    outs = _both_passes(tmp_path, monkeypatch, records)
    assert not (tmp_path / "decoded-chr2").exists()
    assert (tmp_path / "sequential-2").exists()
    assert pq.read_table(outs[2] / "variants.parquet").equals(pq.read_table(outs[1] / "variants.parquet"))


def test_a_malformed_line_in_an_indexed_file_is_named(tmp_path):
    # The parallel pass cannot say which line htslib refused; the sequential pass it falls back to does.
    bad = "chr2\t400\t.\tT\tG\t70\tPASS\t.\tGT\t0/1\t0/x\t1/1\t0/0"
    path = write_bgzip(tmp_path / "bad.vcf.gz", HEADER + "\n".join(RECORDS[:3] + [bad]) + "\n")
    pysam.tabix_index(str(path), preset="vcf", force=True)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MalformedInput) as err:
        convert_vcf(tmp_path / "bad.vcf.gz", out, workers=2)
    assert err.value.line == HEADER.count("\n") + 4 and "GT '0/x'" in err.value.reason
    assert not list(out.iterdir())  # nothing half-written is left for the caller to publish


def test_without_debians_htslib_the_sequential_pass_reads_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(vcf_module.htslib, "available", lambda: False)
    outs = _both_passes(tmp_path, monkeypatch, RECORDS)
    assert (tmp_path / "sequential-2").exists() and not list(tmp_path.glob("decoded-*"))
    assert pq.read_table(outs[2] / "variants.parquet").equals(pq.read_table(outs[1] / "variants.parquet"))


def test_tags_in_the_wrong_section_or_given_twice_take_the_sequential_pass(tmp_path, monkeypatch):
    # MQ is declared as INFO only, AD as FORMAT only: htslib flags such a record (errcode) without a
    # new header entry. A key given twice is kept twice by htslib but read once by cyvcf2.
    for i, record in enumerate(["chr2\t400\t.\tT\tG\t70\tPASS\t.\tGT:MQ\t0/1:1\t0/0:2\t1/1:3\t0/0:4",
                                "chr2\t400\t.\tT\tG\t70\tPASS\tAD=3\tGT\t0/1\t0/0\t1/1\t0/0",
                                "chr2\t400\t.\tT\tG\t70\tPASS\tDP=3;DP=4\tGT\t0/1\t0/0\t1/1\t0/0",
                                "chr2\t400\t.\tT\tG\t70\tPASS\t.\tGT:DP:DP\t0/1:1:2\t0/0:3:4\t1/1:5:6\t0/0:7:8"]):
        run = tmp_path / str(i)
        run.mkdir()
        outs = _both_passes(run, monkeypatch, RECORDS[:1] + [record])
        assert not (run / "decoded-chr2").exists() and (run / "sequential-2").exists(), record
        assert pq.read_table(outs[2] / "variants.parquet").equals(pq.read_table(outs[1] / "variants.parquet"))
        for table in ("genotypes", "carriers"):
            assert (duckdb.sql(GENOTYPES_SQL.format(outs[2], table)).fetchall()
                    == duckdb.sql(GENOTYPES_SQL.format(outs[1], table)).fetchall())


def test_a_call_past_allele_127_leaves_its_matrix_row_null(tmp_path, monkeypatch):
    # The matrix stores allele numbers as int8; the long table keeps such a call.
    alts = [a + b + c + d for a in "ACGT" for b in "ACGT" for c in "ACGT" for d in "ACGT"][:130]
    records = RECORDS[:1] + ["chr2\t500\t.\tA\t" + ",".join(alts) + "\t70\tPASS\t.\tGT\t0/130\t0/0\t1|1\t./."]
    outs = _both_passes(tmp_path, monkeypatch, records)
    for out in outs.values():
        matrix = pq.read_table(out / "matrix").to_pylist()
        assert [r["alleles"] is None for r in matrix] == [False] + [True] * 130
        assert [r["allele"] for r in matrix[1:4]] == [1, 2, 3]
        assert np.frombuffer(matrix[1]["phased"], np.int8).tolist() == [0, 0, 1, 0]
        calls = genotype_calls(out)
        assert {k: v for k, v in matrix_calls(out).items() if v is not None} == \
            {k: v for k, v in calls.items() if k[0] == matrix[0]["variant_key"]}


def test_an_extract_matrix_keeps_the_calls_of_its_samples(tmp_path):
    # Phased, haploid, missing and multi-allelic calls, and a 130-ALT record whose only call past
    # allele 127 is sample B's: without B the extract's row holds every kept call (its being null
    # would tell that a left-out sample has such a call); with B it stays null.
    from cirn.datasets.extracts import _build_vcf
    from cirn.datasets.pseudonyms import Pseudonymiser
    from cirn.datasets.vcf import ingest_vcf
    from cirn.datasets.withdrawals import WithdrawnSet
    from cirn.state import StateFolder
    alts = [a + b + c + d for a in "ACGT" for b in "ACGT" for c in "ACGT" for d in "ACGT"][:130]
    wide = "chrX\t7000000\t.\tA\t" + ",".join(alts) + "\t70\tPASS\t.\tGT\t0/1\t0/130\t2|3\t./."
    path = write_bgzip(tmp_path / "awkward.vcf.gz", HEADER + "\n".join(RECORDS + [wide]) + "\n")
    pysam.tabix_index(str(path), preset="vcf", force=True)
    state = StateFolder(tmp_path / "home")
    state.ensure()
    dv = ingest_vcf(state, tmp_path / "awkward.vcf.gz", "awk", "1", run_qc=False)
    ps = Pseudonymiser(b"k" * 32)
    for gone, null_rows in ((WithdrawnSet(samples={"B"}), 0), (WithdrawnSet(), 130)):
        out = tmp_path / f"extract-{null_rows}"
        out.mkdir()
        _build_vcf(dv, out, None, ps, gone)
        samples = pq.read_table(out / "samples.parquet").column("sample").to_pylist()
        assert len(samples) == 4 - len(gone.samples)
        assert (ps("sample", "B") in samples) == (not gone.samples)
        matrix = pq.read_table(out / "matrix").to_pylist()
        assert sum(r["alleles"] is None for r in matrix) == null_rows
        assert {len(r["phased"]) for r in matrix} == {len(samples)}
        calls = {k: v for k, v in matrix_calls(out).items() if v is not None}
        expected = genotype_calls(out)
        if null_rows:
            wide_keys = {r["variant_key"] for r in matrix if r["alleles"] is None}
            expected = {k: v for k, v in expected.items() if k[0] not in wide_keys}
        assert calls == expected
        assert "0|1" in calls.values() and "1" in calls.values() and "./." in calls.values()
        assert ("2|3" in calls.values()) == (not null_rows)  # the rebuilt wide row
