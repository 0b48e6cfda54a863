"""The datasets commands end to end: the real `cirn` CLI in a subprocess, real files, DuckDB reading the extract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

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


def test_provision_and_read_back_with_duckdb(home, published):
    cirn(home, "project", "create", "rare-kids", "--title", "Rare kids", "--expires", "2030-01-01")
    cirn(home, "project", "grant", "rare-kids", "cohort", "--columns", "sample_id,diagnosis,sex")
    cirn(home, "project", "grant", "rare-kids", "cohort-vcf@1.0")
    out = cirn(home, "project", "provision", "rare-kids").stdout
    assert "provisioned with 2 extract(s)" in out
    data = home / "projects" / "rare-kids" / "data"
    con = duckdb.connect()
    cols = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{data}/cohort/table.parquet'").fetchall()]
    assert cols == ["sample_id", "sex", "diagnosis"] or sorted(cols) == ["diagnosis", "sample_id", "sex"]
    rows = con.sql(f"""
        SELECT c.diagnosis, sum(g.dosage) AS ac, 2 * count(g.dosage) AS an
        FROM read_parquet('{data}/cohort-vcf/genotypes/*/*.parquet', hive_partitioning = true) g
        JOIN '{data}/cohort/table.parquet' c ON c.sample_id = g.sample
        WHERE g.chrom = 'chr1' GROUP BY 1""").fetchall()
    assert rows and all(an > 0 for _, _, an in rows)
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


def test_verify_names_a_changed_file(home, published):
    target = home / "datasets" / "cohort" / "1.0" / "table.parquet"
    target.chmod(0o644)
    with open(target, "r+b") as fh:
        fh.seek(10)
        fh.write(b"\x00\x01")
    proc = cirn(home, "datasets", "verify", "cohort@1.0", ok=False)
    assert proc.returncode == 1 and "table.parquet: content changed" in proc.stderr
