"""Types by content: genomic files are blocked whatever their names; look-alikes are not."""

from __future__ import annotations

import gzip
import io
import sqlite3
import tarfile
import zipfile

import duckdb
import polars as pl
import pytest

from cirn.egress.checks.sniff import sniff

from egress_testing import only

VCF = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\nchr1\t100\trs1\tA\tG\t50\tPASS\t.\tGT\t0/1\n"
FASTQ = "@read1\nACGTACGTACGTACGTAC\n+\nIIIIIIIIIIIIIIIIII\n@read2\nTTGCAACGTACGTACGTA\n+\nIIIIIIIIIIIIIIIIII\n"
FASTA = ">chr1 test\nACGTACGTACGTACGTACGTACGTAC\nACGTACGTAC\n"
SAM = "@HD\tVN:1.6\n@SQ\tSN:chr1\tLN:1000\nr1\t0\tchr1\t10\t60\t5M\t*\t0\t0\tACGTA\tIIIII\n"


def _bam_bytes(tmp_path) -> bytes:
    import pysam
    path = tmp_path / "real.bam"
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "chr1", "LN": 1000}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        seg = pysam.AlignedSegment(out.header)
        seg.query_name, seg.query_sequence, seg.reference_id, seg.reference_start = "r1", "ACGT", 0, 10
        seg.cigarstring, seg.query_qualities = "4M", pysam.qualitystring_to_array("IIII")
        out.write(seg)
    return path.read_bytes()


@pytest.mark.parametrize("name,content,fmt", [
    ("notes.txt", VCF, "vcf"),
    ("summary.csv", gzip.compress(VCF.encode()), "vcf"),
    ("reads.txt", FASTQ, "fastq"),
    ("seq.dat", FASTA, "fasta"),
    ("align.tsv", SAM, "sam"),
    ("x.bin", b"CRAM\x03\x00" + b"\x00" * 40, "cram"),
    ("geno.dat", b"\x6c\x1b\x01" + b"\xff" * 20, "plink-bed"),
    ("calls.dat", gzip.compress(b"BCF\x02\x02" + b"\x00" * 30), "bcf"),
])
def test_raw_genomic_files_are_blocked_whatever_their_name(scan, name, content, fmt):
    report = scan(name, content)
    assert report.kind == "genomic"
    assert report.verdict.label == "block"
    assert [f.location for f in only(report, f"genomic-file.{fmt}")] == ["file"]


def test_real_bam_is_recognised_by_its_bgzf_payload(scan, tmp_path):
    report = scan("figure.png", _bam_bytes(tmp_path))
    assert only(report, "genomic-file.bam") and report.verdict.label == "block"


def test_text_that_mentions_vcf_is_not_a_vcf(scan):
    report = scan("readme.txt", "We called variants and wrote them to ##fileformat=VCF files.\n> quoted line\nnot bases\n")
    assert report.kind == "text" and report.verdict.label == "pass"


def test_databases_are_blocked(scan, tmp_path):
    db = tmp_path / "x.sqlite"
    con = sqlite3.connect(db)
    con.execute("create table t (a int)")
    con.commit()
    con.close()
    assert only(scan("data.csv", db.read_bytes()), "blocked-type.database")
    dpath = tmp_path / "x.duckdb"
    dcon = duckdb.connect(str(dpath))
    dcon.execute("create table t (a int)")
    dcon.close()
    report = scan("results.txt", dpath.read_bytes())
    assert report.kind == "binary" and only(report, "blocked-type.database")


def test_unknown_binary_is_never_pass(scan):
    report = scan("model.pkl", b"\x80\x04\x95\x00\x00" + bytes(range(256)))
    assert report.kind == "binary" and report.verdict.label == "block"
    assert only(report, "blocked-type.binary")[0].location == "file"


def test_formats_by_magic():
    buf = io.BytesIO()
    pl.DataFrame({"a": [1]}).write_parquet(buf)
    assert sniff(buf.getvalue()).fmt == "parquet"
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("a.txt", "x")
    assert sniff(zbuf.getvalue()).fmt == "zip"
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    assert sniff(tbuf.getvalue()).fmt == "tar"
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20).kind == "image"
    assert sniff(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>').fmt == "svg"
    assert sniff(b"a,b\n1,2\n3,4\n").fmt == "csv"
    assert sniff(b"a\tb\n1\t2\n").fmt == "tsv"
    assert sniff(b"Dear reviewer, this is prose.\nIt has, at most, commas.\n").kind == "text"
    assert sniff(b"%PDF-1.7\n").kind == "document"
