"""Statistical disclosure checks on tables: a positive and a negative case for each, with the
verdict, the check id and the location."""

from __future__ import annotations

import io

import openpyxl
import polars as pl

from egress_testing import checks, locations, only


def test_small_count_blocks_with_row_and_column(scan):
    report = scan("out/table.csv", "group,M,F\nA,12,30\nB,25,3\nC,40,11\n")
    assert report.kind == "table" and report.verdict.label == "block"
    assert locations(report, "small-count.threshold") == ["row 2, column 'F'"]
    assert only(report, "small-count.threshold")[0].message == "count 3 is below 10"


def test_counts_at_or_above_threshold_pass(scan):
    report = scan("ok.csv", "group,M,F\nA,12,30\nB,25,10\n")
    assert report.verdict.label == "pass" and report.findings == []


def test_zero_is_review_not_block(scan):
    report = scan("zeros.csv", "group,n\nA,0\nB,25\n")
    assert report.verdict.label == "review"
    assert locations(report, "small-count.zero") == ["row 1, column 'n'"]


def test_non_count_columns_are_not_counts(scan):
    # trap: ages, years, means and p-values are small numbers but not counts of people
    report = scan("means.csv", "group,age,year,mean_bmi,p_value,n\nA,3,2019,2.5,0.01,120\nB,7,2020,3.1,0.20,95\n")
    assert report.verdict.label == "pass", report.findings


def test_rounded_to_five_is_accepted_as_mitigation(scan):
    rounded = scan("rounded.csv", "group,n\nA,5\nB,15\nC,20\nD,35\n")
    assert not only(rounded, "small-count.threshold")
    unrounded = scan("unrounded.csv", "group,n\nA,5\nB,16\nC,20\nD,35\n")
    assert locations(unrounded, "small-count.threshold") == ["row 1, column 'n'"]


def test_n_percent_cells_are_counts(scan):
    report = scan("table1.csv", "characteristic,Cases\nMale,4 (2.0%)\nFemale,196 (98.0%)\n")
    assert locations(report, "small-count.threshold") == ["row 1, column 'Cases'"]
    assert not only(scan("table1ok.csv", "characteristic,Cases\nMale,40 (20.0%)\nFemale,160 (80.0%)\n"), "small-count.")


def test_count_recovered_from_percent_and_header_n(scan):
    report = scan("pct.csv", "group,Smokers % (N=200)\nA,1.5\nB,50\n")
    assert locations(report, "small-count.percent") == ["row 1, column 'Smokers % (N=200)'"]
    assert "count of 3" in only(report, "small-count.percent")[0].message
    ok = scan("pctok.csv", "group,Smokers % (N=2000)\nA,1.5\nB,50\n")
    assert not only(ok, "small-count.percent")


def test_dominance_nk_and_p_ratio(scan):
    report = scan("magnitude.csv", "region,total,top1,top2\nA,1000,850,100\nB,1000,500,300\nC,1000,300,200\n")
    assert locations(report, "dominance.nk-rule") == ["row 1, column 'total'"]
    assert not only(report, "small-count.")
    p_report = scan("pratio.csv", "region,total,top1,top2\nA,1000,600,250\nB,1000,700,250\n")
    # row 2: 700+250 = 95% -> nk; row 1: 85% and rest 150 = 25% of largest -> passes both
    assert locations(p_report, "dominance.nk-rule") == ["row 2, column 'total'"]
    assert scan("nodominance.csv", "region,total,top1,top2\nA,1000,300,200\n").verdict.label == "pass"


def test_p_ratio_with_a_stricter_policy():
    # with n=2, k=90% and p=10% every p-ratio failure is also an N-K failure; a stricter p shows it alone
    from cirn.egress.checks.tables import TableChecker
    from cirn.policies.egress_rules import Dominance, EgressPolicy
    checker = TableChecker(EgressPolicy(dominance=Dominance(p_ratio=0.5)))
    df = pl.DataFrame({"region": ["A", "B"], "total": ["1000", "1000"], "top1": ["600", "300"], "top2": ["200", "200"]})
    found = checker.check(df)
    assert [(f.check, f.location) for f in found] == [("dominance.p-ratio", "row 1, column 'total'")]


def test_survival_at_risk_counts(scan):
    report = scan("km.csv", "time,n.risk,n.event,surv\n0,120,0,1.0\n12,40,12,0.8\n24,6,2,0.6\n")
    assert locations(report, "small-count.survival") == ["row 3, column 'n.risk'", "row 3, column 'n.event'"]
    ok = scan("kmok.csv", "time,n.risk,n.event,surv\n0,120,10,1.0\n12,40,12,0.8\n")
    assert not only(ok, "small-count.")


def test_identifier_column_is_individual_level(scan):
    report = scan("rows.csv", "patient_id,sbp\nX1,120\nX2,130\nX3,125\n")
    assert locations(report, "individual-level.identifier-column") == ["column 'patient_id'"]
    assert report.verdict.label == "block"
    # trap: a variant id column is not a person id
    assert not only(scan("variants.csv", "variant_id,beta\n1:100:A:G,0.1\n1:200:C:T,0.2\n"), "individual-level.")


def test_unique_quasi_identifier_combinations(scan):
    report = scan("qi.csv", "age,sex,region,diagnosis,sbp\n34,M,Seoul,C50,120\n51,F,Busan,E11,130\n34,M,Seoul,C50,125\n")
    assert locations(report, "individual-level.quasi-identifiers") == ["row 2"]
    # an aggregate table (it has counts) is unique on its categories by construction
    agg = scan("agg.csv", "age_group,sex,region,n\n30-39,M,Seoul,120\n40-49,F,Busan,130\n")
    assert not only(agg, "individual-level.")


def test_genotype_column(scan):
    report = scan("gt.csv", "sample,rs123,rs456\nA,0/1,1|1\nB,0/0,0/1\nC,1/1,0|0\n")
    assert locations(report, "genotype.column") == ["column 'rs123'", "column 'rs456'"]
    # trap: ratios that look like fractions are not genotypes
    assert not only(scan("ratios.csv", "group,ratio\nA,3/4\nB,5/8\nC,7/9\n"), "genotype.")


def test_rare_variant_allele_counts(scan):
    report = scan("freq.csv", "rsid,chrom,pos,ac,an\nrs1,1,100,3,2000\nrs2,1,200,400,2000\n")
    assert locations(report, "rare-variant.allele-count") == ["row 1, column 'ac'"]
    assert not only(report, "small-count.")  # pos and an are not counts; ac is checked once
    from_af = scan("freq_af.csv", "rsid,af,an\nrs1,0.002,2000\nrs2,0.2,2000\n")
    assert locations(from_af, "rare-variant.allele-count") == ["row 1, column 'af'"]
    assert not only(scan("common.csv", "rsid,ac\nrs1,30\nrs2,400\n"), "rare-variant.")


def test_name_column_holds_person_names(scan):
    report = scan("names.csv", "환자명,score\n홍길동,3.5\n이순신,2.1\n")
    assert locations(report, "pii.person-name") == ["row 1, column '환자명'", "row 2, column '환자명'"]
    # trap: a 'name' column of drugs or genes is not people
    assert not only(scan("drugs.csv", "drug_name,dose\nmetformin,500\naspirin,100\n"), "pii.person-name")


def test_parquet_and_excel_tables(scan, tmp_path):
    buf = io.BytesIO()
    pl.DataFrame({"group": ["A", "B"], "n": [4, 25]}).write_parquet(buf)
    report = scan("t.parquet", buf.getvalue())
    assert report.kind == "table" and locations(report, "small-count.threshold") == ["row 1, column 'n'"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "counts"
    ws.append(["group", "n"])
    ws.append(["A", 30])
    hidden = wb.create_sheet("raw")
    hidden.append(["group", "n"])
    hidden.append(["B", 2])
    hidden.sheet_state = "hidden"
    xbuf = io.BytesIO()
    wb.save(xbuf)
    xreport = scan("book.xlsx", xbuf.getvalue())
    assert xreport.kind == "table"
    assert locations(xreport, "small-count.threshold") == ["sheet 'raw', row 1, column 'n'"]
    assert locations(xreport, "hidden-content.hidden-sheet") == ["sheet 'raw', row 1, column 'n'"]


def test_html_table(scan):
    html = "<html><body><table><tr><th>group</th><th>n</th></tr><tr><td>A</td><td>2</td></tr><tr><td>B</td><td>50</td></tr></table></body></html>"
    report = scan("t.html", html)
    assert locations(report, "small-count.threshold") == ["table 1, row 1, column 'n'"]


def test_table_checks_do_not_fire_on_large_aggregate(scan):
    rows = "\n".join(f"g{i},{100 + i},{200 + i}" for i in range(200))
    assert checks(scan("big.csv", "group,M,F\n" + rows + "\n")) == set()


def test_ragged_csv_is_still_checked_as_a_table(scan):
    report = scan("ragged.csv", "group,n\nA,3,extra\nB\n")
    assert report.kind == "table" and locations(report, "small-count.threshold") == ["row 1, column 'n'"]
