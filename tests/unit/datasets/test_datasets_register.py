"""FASTQ/BAM registration: counts, sample names from read groups, index, and hard-linked extracts."""

from __future__ import annotations

import datetime as dt
import json
import os
from types import SimpleNamespace

import pyarrow.parquet as pq
import pysam
import pytest

from cirn import projects
from cirn.datasets.catalog import Catalog
from cirn.datasets.errors import MalformedInput
from cirn.datasets.extracts import provision_project
from cirn.datasets.pseudonyms import project_key, pseudonym
from cirn.datasets.read_pseudonyms import READ_SCAN, ReadFile
from cirn.datasets.register import register_files
from cirn.datasets.withdrawals import withdraw

ADMIN = "admin:test"


def make_bam(path, sample, n_reads=5, rg_id=None, read_prefix="r", provenance=True, tags=()):
    """A real coordinate-sorted BAM whose header names its sample the way pipelines do."""
    rg_id = rg_id or f"{sample}.L1"
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": "chr1", "LN": 10_000, "UR": "file:///data/seq-centre/ref/hg38.fa"}],
              "RG": [{"ID": rg_id, "SM": sample, "LB": f"{sample}-lib1", "PL": "ILLUMINA", "CN": "Seoul Centre",
                      "DT": "2024-03-01"}]}
    if provenance:
        header["PG"] = [{"ID": "bwa", "PN": "bwa", "VN": "0.7.17", "CL": f"bwa mem hg38.fa /data/seq-centre/{sample}_R1.fq.gz"}]
        header["CO"] = [f"delivered for {sample} from /data/seq-centre"]
    else:
        header["RG"] = [{"ID": rg_id, "SM": sample}]
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(n_reads):
            a = pysam.AlignedSegment()
            a.query_name, a.query_sequence = f"{read_prefix}{i}", "ACGT" * 10
            a.flag, a.reference_id, a.reference_start, a.mapping_quality = 0, 0, 100 + 10 * i, 60
            a.cigar = [(0, 40)]
            a.query_qualities = pysam.qualitystring_to_array("I" * 40)
            a.set_tag("RG", rg_id)
            for tag, value in tags:
                a.set_tag(tag, value, value_type="Z")
            out.write(a)
    return path


def make_fastq(path, n_reads=3):
    path.write_text("".join(f"@r{i}\nACGTACGT\n+\nIIIIIIII\n" for i in range(n_reads)))
    return path


def test_bam_registration_reads_samples_and_index(state, tmp_path):
    bam = make_bam(tmp_path / "SMP000001.bam", "SMP000001", 7)
    dv = register_files(state, [bam], "reads", "1", "bam")
    e = dv.manifest["reads"][0]
    assert (e["sample"], e["reads"], e["suffix"]) == ("SMP000001", 7, ".bam")
    assert e["indexes"] and (dv.path / e["indexes"][0]["path"]).is_file()
    assert os.stat(dv.path / "files/SMP000001.bam").st_ino == os.stat(bam).st_ino  # linked, not copied


def test_fastq_registration_with_mapping(state, tmp_path):
    fq = make_fastq(tmp_path / "lane1_R1.fastq", 3)
    mapping = tmp_path / "map.tsv"
    mapping.write_text("file\tsample\tparticipant\nlane1_R1.fastq\tSMP000002\tRD000002\n")
    dv = register_files(state, [fq], "fq", "1", "fastq", mapping_file=mapping)
    e = dv.manifest["reads"][0]
    assert (e["sample"], e["participant"], e["reads"], e["suffix"]) == ("SMP000002", "RD000002", 3, "_R1.fastq")


def test_bad_fastq_and_wrong_kind(state, tmp_path):
    bad = tmp_path / "x.fastq"
    bad.write_text("@r1\nACGT\n+\nII\n")
    with pytest.raises(MalformedInput):
        register_files(state, [bad], "fq", "1", "fastq")
    with pytest.raises(MalformedInput, match="not a BAM"):
        register_files(state, [bad], "fq", "1", "bam")
    assert not (state.datasets / "fq" / "1").exists()


def _provision_reads(enclave, files, kind, mapping=None, slug="proj-a"):
    register_files(enclave.state, files, "reads", "1", kind, mapping_file=mapping)
    with enclave.db.session() as s:
        projects.create_project(s, ADMIN, slug, "A", dt.date(2030, 1, 1))
        projects.grant(s, ADMIN, slug, "reads", "1")
    provision_project(enclave, slug, ADMIN)
    return enclave.state.project_data(slug) / "reads"


def _header_text(path) -> str:
    with pysam.AlignmentFile(str(path), "rb") as bam:
        return str(bam.header)


def test_extract_bams_carry_the_pseudonym_and_no_source_names(enclave, tmp_path):
    bams = [make_bam(tmp_path / f"SMP00000{i}.bam", f"SMP00000{i}") for i in (1, 2)]
    mapping = tmp_path / "map.csv"
    mapping.write_text("file,sample,participant\nSMP000001.bam,SMP000001,RD000001\nSMP000002.bam,SMP000002,RD000002\n")
    extract = _provision_reads(enclave, bams, "bam", mapping)
    key = project_key(enclave.state, "proj-a")
    files = extract / "files"
    p1, p2 = pseudonym(key, "sample", "SMP000001"), pseudonym(key, "sample", "SMP000002")
    assert sorted(p.name for p in files.iterdir()) == sorted([f"{p1}.bam", f"{p1}.bam.bai", f"{p2}.bam", f"{p2}.bam.bai"])
    header = _header_text(files / f"{p1}.bam")
    for leak in ("SMP0", "RD0", "/data", "seq-centre", "Seoul", "2024-03-01", "bwa mem"):
        assert leak not in header
    with pysam.AlignmentFile(str(files / f"{p1}.bam"), "rb") as bam:
        h = bam.header.to_dict()
        assert [g["SM"] for g in h["RG"]] == [p1] and h["RG"][0]["ID"] == f"{p1}.L1"
        assert h["RG"][0]["PL"] == "ILLUMINA" and not h.get("CO")
        # The read-group ID named the sample, so every record was rewritten to the new ID, and the
        # new index answers region queries.
        reads = list(bam.fetch("chr1", 0, 10_000))
        assert len(reads) == 5 and {r.get_tag("RG") for r in reads} == {f"{p1}.L1"}
        assert [r.query_sequence for r in reads] == ["ACGT" * 10] * 5
    assert os.stat(files / f"{p1}.bam").st_ino != os.stat(bams[0]).st_ino
    described = json.loads((extract / "dataset.json").read_text())
    assert described["files_rewritten"][f"{p1}.bam"]["how"] == "records rewritten"
    listing = pq.read_table(extract / "files.parquet").to_pylist()
    assert {r["sample"] for r in listing} == {p1, p2}
    assert not any("SMP" in str(v) for r in listing for v in r.values())
    with enclave.db.session() as s:
        withdraw(s, ADMIN, "RD000001")
    provision_project(enclave, "proj-a", ADMIN)
    assert not any(p.name.startswith(p1) for p in files.iterdir())


def test_header_only_rewrite_keeps_records_and_reprovisioning_reuses_it(enclave, tmp_path):
    bam = make_bam(tmp_path / "SMP000004.bam", "SMP000004", rg_id="HWI-ST1.3")
    extract = _provision_reads(enclave, [bam], "bam")
    p = pseudonym(project_key(enclave.state, "proj-a"), "sample", "SMP000004")
    out = extract / "files" / f"{p}.bam"
    assert json.loads((extract / "dataset.json").read_text())["files_rewritten"][f"{p}.bam"]["how"] == "header rewritten"
    assert "SMP000004" not in _header_text(out) and "samtools" not in _header_text(out)  # reheader -P: no @PG of its own
    with pysam.AlignmentFile(str(out), "rb") as bam_out:
        assert {r.get_tag("RG") for r in bam_out.fetch("chr1")} == {"HWI-ST1.3"}
        assert bam_out.header.to_dict()["RG"][0]["SM"] == p
    inode = out.stat().st_ino
    provision_project(enclave, "proj-a", ADMIN)
    assert out.stat().st_ino == inode  # same source, same pseudonym: linked from the previous extract


def test_read_names_with_the_sample_are_rewritten_and_clean_files_stay_linked(enclave, tmp_path):
    named = make_bam(tmp_path / "SMP000005.bam", "SMP000005", rg_id="L1", read_prefix="SMP000005:")
    bare = make_bam(tmp_path / "lib7.bam", "lib7", rg_id="L1", provenance=False)
    fq_named = tmp_path / "SMP000006_KimJS_R1.fastq"
    fq_named.write_text("".join(f"@SMP000006.{i} 1:N:0\nACGTACGT\n+\nIIIIIIII\n" for i in range(3)))
    fq_clean = make_fastq(tmp_path / "SMP000007_R2.fastq.gz".replace(".gz", ""), 3)
    dv = register_files(enclave.state, [named], "named", "1", "bam")
    assert dv.manifest["reads"][0]["names_in_reads"] is True
    # A BAM without any identifier in it: SM named by the mapping, nothing else to hide.
    mapping = tmp_path / "map.tsv"
    mapping.write_text("file\tsample\nlib7.bam\tlib7\n")
    extract = _provision_reads(enclave, [bare], "bam", mapping)
    key = project_key(enclave.state, "proj-a")
    with enclave.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "named", "1")
    register_files(enclave.state, [fq_named, fq_clean], "fq", "1", "fastq")
    with enclave.db.session() as s:
        projects.grant(s, ADMIN, "proj-a", "fq", "1")
    provision_project(enclave, "proj-a", ADMIN)
    data = enclave.state.project_data("proj-a")
    p5 = pseudonym(key, "sample", "SMP000005")
    with pysam.AlignmentFile(str(data / "named/files" / f"{p5}.bam"), "rb") as bam:
        assert [r.query_name for r in bam.fetch(until_eof=True)] == [f"{p5}:{i}" for i in range(5)]
    # lib7.bam: only SM changes, so even it is rewritten; its records are untouched.
    p7 = pseudonym(key, "sample", "lib7")
    assert _header_text(extract / "files" / f"{p7}.bam").count(p7) == 1
    p6, pc = pseudonym(key, "sample", "SMP000006"), pseudonym(key, "sample", "SMP000007")
    fq_files = sorted(p.name for p in (data / "fq/files").iterdir())
    assert fq_files == sorted([f"{p6}_R1.fastq", f"{pc}_R2.fastq"])  # no `_KimJS` carried along
    text = (data / "fq/files" / f"{p6}_R1.fastq").read_text()
    assert "SMP000006" not in text and text.startswith(f"@{p6}.0 1:N:0\nACGTACGT\n+\n")
    assert os.stat(data / "fq/files" / f"{pc}_R2.fastq").st_ino == os.stat(fq_clean).st_ino  # linked


def test_text_tags_of_reads_that_name_the_sample_are_rewritten(enclave, tmp_path):
    # Clean read names and read-group IDs; only a per-read comment and a user tag name the sample.
    # Structured tags (a barcode, MD) are never rewritten: an identifier made of digits would
    # match inside them, and rewriting would corrupt the read.
    tagged = make_bam(tmp_path / "SMP000008.bam", "SMP000008", rg_id="L1", provenance=False,
                      tags=[("CO", "from smp000008 run 4"), ("XN", "SMP000008-ACGT"), ("XS", "plain"),
                            ("BC", "SMP000008"), ("MD", "40")])
    extract = _provision_reads(enclave, [tagged], "bam")
    dv = Catalog(enclave.state).resolve("reads", "1")
    assert dv.manifest["reads"][0]["names_in_reads"] is True
    p8 = pseudonym(project_key(enclave.state, "proj-a"), "sample", "SMP000008")
    with pysam.AlignmentFile(str(extract / "files" / f"{p8}.bam"), "rb") as bam:
        reads = list(bam.fetch(until_eof=True))
    assert len(reads) == 5
    assert {tuple(r.get_tag(t) for t in ("CO", "XN", "XS", "RG", "BC", "MD")) for r in reads} == \
        {(f"from {p8} run 4", f"{p8}-ACGT", "plain", "L1", "SMP000008", "40")}
    assert json.loads((extract / "dataset.json").read_text())["files_rewritten"][f"{p8}.bam"]["how"] == \
        "records rewritten"


def test_bams_scanned_before_text_tags_were_checked_count_as_named(tmp_path):
    # A BAM whose registration looked at read names only may still carry an identifier in a tag.
    dv = SimpleNamespace(path=tmp_path, kind="bam", manifest={"files": {}})
    entry = {"file": "SMP1.bam", "path": "files/SMP1.bam", "sample": "SMP1", "names_in_reads": False}
    assert ReadFile.of(dv, entry).names_in_reads is True
    assert ReadFile.of(dv, {**entry, "read_scan": 1}).names_in_reads is True
    assert ReadFile.of(dv, {**entry, "read_scan": READ_SCAN}).names_in_reads is False
    # FASTQ: its scan (names and comments) is unchanged.
    fastq = {**entry, "kind": "fastq", "read_scan": 1}
    assert ReadFile.of(SimpleNamespace(path=tmp_path, kind="fastq", manifest={"files": {}}), fastq).names_in_reads is False


def test_bam_without_identifiers_is_linked(enclave, tmp_path):
    path = tmp_path / "anon.bam"
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": "chr1", "LN": 10_000}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        a = pysam.AlignedSegment()
        a.query_name, a.query_sequence, a.flag = "x1", "ACGT", 4
        out.write(a)
    mapping = tmp_path / "map.tsv"
    mapping.write_text("file\tsample\nanon.bam\tSMP000009\n")
    extract = _provision_reads(enclave, [path], "bam", mapping)
    p = pseudonym(project_key(enclave.state, "proj-a"), "sample", "SMP000009")
    assert os.stat(extract / "files" / f"{p}.bam").st_ino == os.stat(path).st_ino
    assert json.loads((extract / "dataset.json").read_text())["files_rewritten"] == {}
