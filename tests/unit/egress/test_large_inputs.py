"""The paths a large input takes (tables profiled in polars, text checked in segments, character
offsets from block counts) find the same things, at the same locations, as the plain paths."""

from __future__ import annotations

import random

import polars as pl
import pytest

from cirn.egress.checks import masked as masked_module
from cirn.egress.checks import text as text_module
from cirn.egress.checks.locations import LineIndex
from cirn.egress.checks.masked import MaskedText
from cirn.egress.checks.tables import TableChecker, TableView
from cirn.policies.egress_rules import EgressPolicy

from egress_testing import locations


def _big_table(rows: int) -> str:
    lines = ["region,n,total_n,comment"]
    for i in range(1, rows + 1):
        n = 3 if i == rows - 5 else (0 if i == 7 else 100 + i)
        total = f"\"{1000 + i:,}\"" if i % 2 else str(1000 + i)  # '1,001' needs the cleaning cast
        lines.append(f"R{i % 9},{n},{total},stable follow up {i}")
    return "\n".join(lines) + "\n"


def test_large_table_small_counts_located_by_row(scan):
    rows = TableView.SMALL + 500
    report = scan("big.csv", _big_table(rows))
    assert locations(report, "small-count.threshold") == [f"row {rows - 5}, column 'n'"]
    assert locations(report, "small-count.zero") == ["row 7, column 'n'"]


def test_large_table_reads_numbers_with_thousands_separators():
    rows = TableView.SMALL + 10
    df = pl.DataFrame({"group": [f"g{i}" for i in range(rows)],
                       "count": [f"{1000 + i:,}" if i else " 4 " for i in range(rows)]})
    view = TableView(df)
    assert view.is_numeric("count", 1.0) and view.is_integer_counts("count")
    assert view.numeric("count").to_list()[:2] == [4.0, 1001.0]
    findings = TableChecker(EgressPolicy()).check(df)
    assert [(f.check, f.location) for f in findings] == [("small-count.threshold", "row 1, column 'count'")]


def test_large_and_small_tables_agree():
    rng = random.Random(7)
    rows = [[f"g{i}", str(rng.choice([0, 2, 5, 15, 40, 500])), f"{rng.uniform(0, 100):.1f}"] for i in range(300)]
    small = pl.DataFrame({"group": [r[0] for r in rows], "n": [r[1] for r in rows], "pct": [r[2] for r in rows]})
    big = pl.concat([small] * 10)  # over TableView.SMALL rows: the polars path
    checker = TableChecker(EgressPolicy())
    small_found = [(f.check, f.location) for f in checker.check(small)]
    big_found = [(f.check, f.location) for f in checker.check(big)]
    assert small_found and big_found[:len(small_found)] == small_found


@pytest.mark.parametrize("alphabet", ["ab\n한글é😀 ", "ab\n한글\ud800é "])
def test_character_offsets_from_block_counts(monkeypatch, alphabet):
    monkeypatch.setattr(masked_module, "BLOCK", 16)
    monkeypatch.setattr(masked_module, "SMALL", 0)
    rng = random.Random(11)
    for _ in range(100):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
        masked = MaskedText(text)
        starts = [len(text[:i].encode("utf-8", "surrogatepass")) for i in range(len(text) + 1)]
        shuffled = rng.sample(range(len(starts)), len(starts))
        assert masked.char_offsets([starts[i] for i in shuffled]) == shuffled


def test_text_in_segments_finds_the_same_at_the_same_places(ctx, monkeypatch):
    rng = random.Random(5)
    planted = ["연락처 010-2345-6789", "주민등록번호 850312-1234567", "mail: kim@example.org", "P0001234 visit",
               "S0001 rs12345 0/1", "ACGTTGCAACGTTGCAACGTTGCAACGTTGCAAGT", "run 202403151230 done"]
    lines = []
    for i in range(3000):
        words = " ".join(rng.choice(["환자", "stable", "검사", "dose", "12.5"]) for _ in range(8))
        lines.append(f"{i},{words} {planted[i % len(planted)] if i % 37 == 0 else ''}")
    text = "\n".join(lines)

    def scan(segment_chars, raw=None):
        monkeypatch.setattr(text_module, "SEGMENT_CHARS", segment_chars)
        return [f.to_dict() for f in text_module.scan_text(text, ctx, LineIndex(text).text_location, raw)]

    whole = scan(10 ** 9)
    assert {f["check"] for f in whole} >= {"pii.kr-phone", "pii.kr-rrn", "pii.email", "identifier.exact",
                                           "genotype.per-person-line", "genomic-file.sequence"}
    assert scan(4096) == whole
    assert scan(4096, text.encode("utf-8")) == whole  # pieces cut in the file's bytes


def test_prefilter_in_polars_finds_the_lines_of_the_plain_search(monkeypatch):
    from cirn.egress.checks import pii

    rng = random.Random(9)
    tokens = ["010-1234-5678", "02) 312 4567", "환자", "word", " ", "\n", "1234567890123", "a@b.c", "성명: 홍길동",
              "M123A4567", ":", "0", "12", "rs1234567"]
    text = "".join(rng.choice(tokens) for _ in range(20000))
    prefilter = pii.Prefilter(["성명", "Name"])
    masked = MaskedText(text)
    monkeypatch.setattr(pii, "POLARS_MIN_BYTES", 0)
    in_polars = prefilter.byte_offsets(masked)
    monkeypatch.setattr(pii, "POLARS_MIN_BYTES", 10 ** 12)
    plain = prefilter.byte_offsets(masked)
    assert len(plain) > 100 and in_polars == plain
