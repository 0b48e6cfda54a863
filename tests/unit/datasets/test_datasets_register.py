"""FASTQ/BAM registration: counts, sample names from read groups, index, and hard-linked extracts."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow.parquet as pq
import pysam
import pytest

from cirn import projects
from cirn.datasets.errors import MalformedInput
from cirn.datasets.extracts import provision_project
from cirn.datasets.pseudonyms import project_key, pseudonym
from cirn.datasets.register import register_files
from cirn.datasets.withdrawals import withdraw

ADMIN = "admin:test"


def make_bam(path, sample, n_reads=5):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 10_000}],
              "RG": [{"ID": f"{sample}.L1", "SM": sample}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(n_reads):
            a = pysam.AlignedSegment()
            a.query_name, a.query_sequence = f"r{i}", "ACGT" * 10
            a.flag, a.reference_id, a.reference_start, a.mapping_quality = 0, 0, 100 + 10 * i, 60
            a.cigar = [(0, 40)]
            a.query_qualities = pysam.qualitystring_to_array("I" * 40)
            a.set_tag("RG", f"{sample}.L1")
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


def test_extract_links_files_under_pseudonyms_and_drops_withdrawn(enclave, tmp_path):
    bams = [make_bam(tmp_path / f"SMP00000{i}.bam", f"SMP00000{i}") for i in (1, 2)]
    mapping = tmp_path / "map.csv"
    mapping.write_text("file,sample,participant\nSMP000001.bam,SMP000001,RD000001\nSMP000002.bam,SMP000002,RD000002\n")
    register_files(enclave.state, bams, "reads", "1", "bam", mapping_file=mapping)
    with enclave.db.session() as s:
        projects.create_project(s, ADMIN, "proj-a", "A", dt.date(2030, 1, 1))
        projects.grant(s, ADMIN, "proj-a", "reads", "1")
    provision_project(enclave, "proj-a", ADMIN)
    key = project_key(enclave.state, "proj-a")
    files = enclave.state.project_data("proj-a") / "reads" / "files"
    p1 = pseudonym(key, "sample", "SMP000001")
    assert sorted(p.name for p in files.iterdir()) == sorted(
        [f"{p1}.bam", f"{p1}.bam.bai", f"{pseudonym(key, 'sample', 'SMP000002')}.bam",
         f"{pseudonym(key, 'sample', 'SMP000002')}.bam.bai"])
    assert os.stat(files / f"{p1}.bam").st_ino == os.stat(bams[0]).st_ino
    listing = pq.read_table(files.parent / "files.parquet").to_pylist()
    assert {r["sample"] for r in listing} == {p1, pseudonym(key, "sample", "SMP000002")}
    assert not any("SMP" in str(v) for r in listing for v in r.values())
    with enclave.db.session() as s:
        withdraw(s, ADMIN, "RD000001")
    provision_project(enclave, "proj-a", ADMIN)
    assert not any(p.name.startswith(p1) for p in files.iterdir())
