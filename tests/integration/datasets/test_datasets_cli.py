"""The datasets commands end to end: the real `cirn` CLI in a subprocess, real files, DuckDB reading the extract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from cirn.datasets.vcf_genotypes import gt_text

CIRN = Path(sys.executable).with_name("cirn")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("cirn-home")


def cirn(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIRN_HOME": str(home)}
    proc = subprocess.run([str(CIRN), *args], env=env, capture_output=True, text=True, cwd=home, timeout=300)
    if ok and proc.returncode != 0:
        raise AssertionError(f"cirn {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def published(home):
    cirn(home, "init")
    out = home / "synth"
    cirn(home, "datasets", "synth", "--participants", "30", "--variants", "800", "--out", str(out))
    cirn(home, "datasets", "ingest", "clinical", str(out / "clinical.csv"), "--id", "cohort", "--version", "1.0",
         "--source-project", "rd-pilot", "--description", "synthetic clinical table")
    cirn(home, "datasets", "ingest", "vcf", str(out / "cohort.vcf.gz"), "--id", "cohort-vcf", "--version", "1.0")
    return out


def test_synth_is_deterministic(home, published):
    again = home / "synth2"
    cirn(home, "datasets", "synth", "--participants", "30", "--variants", "800", "--out", str(again))
    for name in ("clinical.csv", "cohort.vcf.gz"):
        assert (again / name).read_bytes() == (published / name).read_bytes()


def test_list_show_verify(home, published):
    listing = cirn(home, "datasets", "list").stdout
    assert "cohort" in listing and "cohort-vcf" in listing and "rd-pilot" in listing
    shown = cirn(home, "datasets", "show", "cohort-vcf@1.0").stdout
    assert "30 rows" in shown and "qc:" in shown and "sha256=" in shown
    assert "all" in cirn(home, "datasets", "verify", "cohort@1.0").stdout


def test_reingest_and_malformed_input_are_refused(home, published):
    again = cirn(home, "datasets", "ingest", "clinical", str(published / "clinical.csv"), "--id", "cohort",
                 "--version", "1.0", ok=False)
    assert again.returncode == 2 and "immutable" in again.stderr
    bad = home / "ragged.csv"
    bad.write_text("a,b\n1,2\n3\n")
    proc = cirn(home, "datasets", "ingest", "clinical", str(bad), "--id", "ragged", "--version", "1", ok=False)
    assert proc.returncode == 2 and f"{bad}, line 3: row has 1 fields but the header has 2" in proc.stderr
    assert not (home / "datasets" / "ragged" / "1").exists()


def test_qc_gate_and_report(home, published):
    proc = cirn(home, "datasets", "qc", "cohort-vcf@1.0", "--out", str(home / "qc"), "--fail-on", "samples", ok=False)
    assert proc.returncode == 1  # the synthetic cohort plants two failing samples
    assert (home / "qc" / "report.html").is_file()
    failed = pq.read_table(home / "qc" / "sample_qc.parquet").to_pylist()
    assert {"SMP000008", "SMP000014"} <= {r["sample"] for r in failed if not r["pass"]}
    # The planted swap: chrX says female, the clinical table (found through sample_id) says male.
    swapped = next(r for r in failed if r["sample"] == "SMP000018")
    assert swapped["flags"] == "sex-mismatch" and swapped["clinical_sex"] == "male" and not swapped["pass"]
    assert "sex-mismatch against cohort@1.0" in proc.stdout
    assert "sex-mismatch" in (home / "qc" / "report.html").read_text()
    # Recorded with the catalog, so provisioning uses it.
    assert (home / "qc" / "cohort-vcf" / "1.0" / "sample_qc.parquet").is_file()
    again = cirn(home, "datasets", "qc", "cohort-vcf@1.0", "--out", str(home / "qc2"), "--clinical", "cohort@1.0")
    assert "sex-mismatch against cohort@1.0 (column sex)" in again.stdout


def test_provision_and_read_back_with_duckdb(home, published):
    cirn(home, "project", "create", "rare-kids", "--title", "Rare kids", "--expires", "2030-01-01")
    cirn(home, "project", "grant", "rare-kids", "cohort", "--columns", "sample_id,diagnosis,sex")
    cirn(home, "project", "grant", "rare-kids", "cohort-vcf@1.0")
    out = cirn(home, "project", "provision", "rare-kids").stdout
    assert "provisioned with 2 extract(s)" in out
    qc = pq.read_table(home / "qc" / "cohort-vcf" / "1.0" / "sample_qc.parquet").to_pylist()
    failed = {r["sample"] for r in qc if not r["pass"]}
    assert f"{len(failed)} sample(s) left out: failed QC of " in out
    assert "variant(s) only they carry dropped" in out  # rare variants of the failed samples
    data = home / "projects" / "rare-kids" / "data"
    failed_pseudonyms = {cirn(home, "datasets", "pseudonym", "rare-kids", s, "--namespace", "sample").stdout.strip()
                         for s in sorted(failed)}
    con = duckdb.connect()
    kept = {r[0] for r in con.sql(f"SELECT sample FROM '{data}/cohort-vcf/samples.parquet'").fetchall()}
    in_genotypes = {r[0] for r in con.sql(
        f"SELECT DISTINCT sample FROM read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet')").fetchall()}
    assert len(kept) == 30 - len(failed) and kept == in_genotypes and not kept & failed_pseudonyms
    # Every variant row is carried by a kept sample or by none; QUAL, from every sample's likelihoods, is left out.
    assert con.sql(f"SELECT count(*) FROM '{data}/cohort-vcf/variants.parquet' WHERE qual IS NOT NULL").fetchall() == [(0,)]
    recount = dict(con.sql(f"SELECT variant_key, sum(dosage) FROM read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet') "
                           "GROUP BY 1").fetchall())
    info = dict(con.sql(f"SELECT variant_key, info_ac FROM '{data}/cohort-vcf/variants.parquet'").fetchall())
    assert info == recount
    cols = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{data}/cohort/table.parquet'").fetchall()]
    assert cols == ["sample_id", "sex", "diagnosis"] or sorted(cols) == ["diagnosis", "sample_id", "sex"]
    rows = con.sql(f"""
        SELECT c.diagnosis, sum(g.dosage) AS ac, 2 * count(g.dosage) AS an
        FROM read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet', hive_partitioning = true) g
        JOIN '{data}/cohort/table.parquet' c ON c.sample_id = g.sample
        WHERE g.chrom = 'chr1' GROUP BY 1""").fetchall()
    assert rows and all(an > 0 for _, _, an in rows)
    # The matrix: a row per variant with every kept sample's call, in the extract's samples order.
    order = [r[0] for r in con.sql(f"SELECT sample FROM '{data}/cohort-vcf/samples.parquet'").fetchall()]
    matrix = con.sql(f"SELECT variant_key, alleles FROM read_parquet('{data}/cohort-vcf/matrix/chrom=chr1/*.parquet') "
                     "ORDER BY variant_key LIMIT 10").fetchall()
    assert len(matrix) == 10
    for key, blob in matrix:
        calls = [gt_text(a1, a2, 0) for a1, a2 in np.frombuffer(blob, np.int8).reshape(-1, 2).tolist()]
        gt = dict(con.sql(f"SELECT sample, gt FROM read_parquet('{data}/cohort-vcf/genotypes/chrom=chr1/*.parquet') "
                          f"WHERE variant_key = {key}").fetchall())
        assert calls == [gt[s] for s in order]
    ids = {r[0] for r in con.sql(f"SELECT sample_id FROM '{data}/cohort/table.parquet'").fetchall()}
    assert all(i.startswith("S-") for i in ids) and len(ids) == 30
    mode = (data / "cohort" / "table.parquet").stat().st_mode & 0o777
    assert mode == 0o444

    # Withdrawal: the participant disappears from the rebuilt extract, and the admin can still re-identify.
    sample_of_rd5 = "SMP000005"
    pseudo = cirn(home, "datasets", "pseudonym", "rare-kids", sample_of_rd5, "--namespace", "sample").stdout.strip()
    assert pseudo in ids
    assert sample_of_rd5 in cirn(home, "datasets", "reidentify", "rare-kids", pseudo).stdout
    out = cirn(home, "datasets", "withdraw", "RD000005", "--reason", "consent form 5").stdout
    assert "re-provisioned" in out and "rare-kids" in out
    ids_after = {r[0] for r in con.sql(f"SELECT sample_id FROM '{data}/cohort/table.parquet'").fetchall()}
    assert pseudo not in ids_after and len(ids_after) == 29
    left = con.sql(f"SELECT count(*) FROM read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet') "
                   f"WHERE sample = '{pseudo}'").fetchall()[0][0]
    assert left == 0
    assert "intact" in cirn(home, "audit", "verify").stdout


def test_registered_bam_reaches_the_project_under_its_pseudonym(home, published):
    import pysam
    sample = "SMP000003"
    bam = home / f"{sample}.sorted.bam"
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 100_000}],
              "RG": [{"ID": f"{sample}_L001", "SM": sample, "LB": f"{sample}_lib"}],
              "PG": [{"ID": "bwa", "PN": "bwa", "CL": f"bwa mem /archive/rd-pilot/{sample}_R1.fq.gz"}],
              "CO": ["sequenced for RD000003 at /archive/rd-pilot"]}
    with pysam.AlignmentFile(str(bam), "wb", header=header) as out:
        for i in range(20):
            a = pysam.AlignedSegment()
            a.query_name, a.query_sequence, a.flag = f"read{i}", "ACGT" * 25, 0
            a.reference_id, a.reference_start, a.mapping_quality, a.cigar = 0, 1000 + 50 * i, 60, [(0, 100)]
            a.query_qualities = pysam.qualitystring_to_array("I" * 100)
            a.set_tag("RG", f"{sample}_L001")
            out.write(a)
    mapping = home / "bam-samples.tsv"
    mapping.write_text(f"file\tsample\tparticipant\n{bam.name}\t{sample}\tRD000003\n")
    cirn(home, "datasets", "register", str(bam), "--id", "reads", "--version", "1", "--kind", "bam",
         "--samples", str(mapping))
    cirn(home, "project", "create", "rare-reads", "--title", "Rare reads", "--expires", "2030-01-01")
    cirn(home, "project", "grant", "rare-reads", "reads@1")
    cirn(home, "project", "provision", "rare-reads")
    pseudo = cirn(home, "datasets", "pseudonym", "rare-reads", sample, "--namespace", "sample").stdout.strip()
    files = home / "projects" / "rare-reads" / "data" / "reads" / "files"
    assert sorted(p.name for p in files.iterdir()) == [f"{pseudo}.bam", f"{pseudo}.bam.bai"]
    target = files / f"{pseudo}.bam"
    samtools = [shutil.which("samtools") or pytest.fail("samtools is missing: run scripts/setup.sh")]
    text = subprocess.run([*samtools, "view", "--no-PG", "-H", str(target)], capture_output=True, text=True,
                          check=True).stdout
    assert f"SM:{pseudo}" in text and f"ID:{pseudo}_L001" in text
    assert "SMP000003" not in text and "RD000003" not in text and "/archive" not in text and "@CO" not in text
    # The new index is valid: a region query answers from it, with every read tagged with the new group.
    region = subprocess.run([*samtools, "view", str(target), "chr1:1000-2000"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert len(region) == 20 and all(f"RG:Z:{pseudo}_L001" in line for line in region)


def test_verify_names_a_changed_file(home, published):
    target = home / "datasets" / "cohort" / "1.0" / "table.parquet"
    target.chmod(0o644)
    with open(target, "r+b") as fh:
        fh.seek(10)
        fh.write(b"\x00\x01")
    proc = cirn(home, "datasets", "verify", "cohort@1.0", ok=False)
    assert proc.returncode == 1 and "table.parquet: content changed" in proc.stderr
