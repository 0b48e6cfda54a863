"""Inputs that once stalled the checks: each is now refused or checked in bounded time and memory.

The Parquet case runs in a child process with a 2 GiB address-space limit, so that a regression
fails this test (the reader runs out of memory) instead of exhausting the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

from cirn.egress.checks.masked import MaskedText
from cirn.egress.checks.genomic_text import sequences

from bombs import dictionary_parquet, long_parquet
from egress_testing import checks, locations

CHILD = """
import json, sys, time
from cirn.egress.checks import scan_bytes
data = sys.stdin.buffer.read()
t = time.perf_counter()
report = scan_bytes(data, "table.parquet")[0]
print(json.dumps({"seconds": time.perf_counter() - t, "checks": sorted({f.check for f in report.findings}),
                  "verdict": report.verdict.label}))
"""


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def _scan_in_child(data: bytes) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD], input=data, capture_output=True, timeout=120,
                          preexec_fn=_limited)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return json.loads(proc.stdout)


def test_parquet_that_decodes_to_gigabytes_is_refused_from_its_dictionary():
    data = dictionary_parquet()
    assert len(data) < 100_000
    result = _scan_in_child(data)
    assert result["verdict"] == "block"
    assert result["checks"] == ["size.table-expanded"]
    assert result["seconds"] < 5


def test_parquet_with_tens_of_millions_of_values_is_refused_from_its_footer():
    data = long_parquet()
    assert len(data) < 200_000
    result = _scan_in_child(data)
    assert result["checks"] == ["size.table-expanded"] and result["seconds"] < 5


def test_parquet_within_the_limits_is_read(scan):
    import io

    import polars as pl

    buf = io.BytesIO()
    pl.DataFrame({"region": ["A", "B"] * 20, "n": [12, 3] * 20, "note": ["x" * 200] * 40}).write_parquet(buf)
    report = scan("counts.parquet", buf.getvalue())
    assert "size.table-expanded" not in checks(report)
    assert "small-count.threshold" in checks(report)


def test_sequence_search_is_linear_in_a_long_run_of_one_letter(scan):
    t = time.perf_counter()
    report = scan("notes.txt", "a" * 1_000_000 + "\n" + "ACGT" * 10 + "\n")
    assert time.perf_counter() - t < 5  # was a minute: the run was re-read once per 30 bases
    assert locations(report, "genomic-file.sequence") == ["line 2, col 1"]


def test_long_runs_are_judged_once_each():
    text = "A" * 500_000 + " " + "ACGTN" * 100_000 + " " + "a" * 500_000 + "ACGT" * 8
    t = time.perf_counter()
    spans = list(sequences(MaskedText(text), 30))
    assert time.perf_counter() - t < 2
    second = 500_001
    assert spans == [(second, second + 500_000), (second + 500_001, len(text))]
