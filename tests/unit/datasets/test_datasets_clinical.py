"""Clinical table ingest: type inference, data dictionary, malformed input, immutability, atomic publish."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pyarrow.parquet as pq
import pytest

from cirn.datasets import clinical
from cirn.datasets.catalog import Catalog
from cirn.datasets.clinical import ingest_clinical
from cirn.datasets.errors import MalformedInput
from cirn.errors import Conflict

CSV = """participant_id,sample_id,age,sex,weight,affected,enrolment_date,note,code
RD001,S001,12,F,40.5,yes,2021-01-02,first,007
RD002,S002,34,M,,no,2022-03-04,,012
RD003,S003,,F,61.0,yes,2020-12-31,third,100
"""


def _nothing_published(state):
    root = state.datasets
    return not any(p for p in root.rglob("*") if p.is_file())


def test_types_and_dictionary_are_inferred(state, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(CSV)
    dv = ingest_clinical(state, src, "clin", "1.0", source_project="pilot")
    m = dv.manifest
    types = {c["name"]: c["type"] for c in m["dictionary"]}
    assert types == {"participant_id": "string", "sample_id": "string", "age": "integer", "sex": "string",
                     "weight": "float", "affected": "boolean", "enrolment_date": "date", "note": "string",
                     "code": "string"}  # leading zeros keep codes textual
    roles = {c["name"]: (c["role"], c["namespace"]) for c in m["dictionary"]}
    assert roles["participant_id"] == ("identifier", "participant")
    assert roles["sample_id"] == ("identifier", "sample")
    assert roles["age"][0] == "quasi-identifier"
    assert m["participant_column"] == "participant_id" and m["sample_column"] == "sample_id"
    t = pq.read_table(dv.path / "table.parquet").to_pydict()
    assert t["age"] == [12, 34, None]
    assert t["enrolment_date"][0] == dt.date(2021, 1, 2)
    assert t["affected"] == [True, False, True]
    assert t["code"] == ["007", "012", "100"]
    prov = m["provenance"]
    assert prov["source_project"] == "pilot" and prov["inputs"][0]["name"] == "c.csv"
    assert len(prov["inputs"][0]["sha256"]) == 64 and prov["tool_version"].startswith("cirn")


def test_tsv_and_dictionary_file(state, tmp_path):
    src = tmp_path / "c.tsv"
    src.write_text(CSV.replace(",", "\t"))
    dic = tmp_path / "dict.csv"
    dic.write_text("column,description,role\nnote,Free text note,quasi-identifier\nage,Age at enrolment,\n")
    dv = ingest_clinical(state, src, "clin", "1.0", dictionary_file=dic)
    d = {c["name"]: c for c in dv.manifest["dictionary"]}
    assert d["note"]["role"] == "quasi-identifier" and d["note"]["description"] == "Free text note"
    assert d["age"]["description"] == "Age at enrolment" and d["age"]["role"] == "quasi-identifier"


def test_excel(state, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["participant_id", "age", "visit"])
    sheet.append(["RD1", 5, dt.datetime(2020, 5, 1)])
    sheet.append(["RD2", 7.0, dt.datetime(2021, 6, 2)])
    src = tmp_path / "c.xlsx"
    book.save(src)
    dv = ingest_clinical(state, src, "xl", "1")
    t = pq.read_table(dv.path / "table.parquet").to_pydict()
    assert t["age"] == [5, 7] and t["visit"] == [dt.date(2020, 5, 1), dt.date(2021, 6, 2)]


def test_ragged_row_names_file_line_reason_and_publishes_nothing(state, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(MalformedInput) as err:
        ingest_clinical(state, src, "bad", "1.0")
    assert err.value.line == 3 and "bad.csv" in str(err.value) and "2 fields but the header has 3" in str(err.value)
    assert _nothing_published(state)
    assert Catalog(state).versions("bad") == []


@pytest.mark.parametrize("text,line,reason", [
    ("a,a\n1,2\n", 1, "duplicate column"),
    ("a,,c\n1,2,3\n", 1, "has no name"),
    ('a,b\n1,"2\n', 2, "not valid CSV"),
])
def test_bad_headers_and_quotes(state, tmp_path, text, line, reason):
    src = tmp_path / "bad.csv"
    src.write_text(text)
    with pytest.raises(MalformedInput) as err:
        ingest_clinical(state, src, "bad", "1.0")
    assert reason in str(err.value) and err.value.line == line


def test_reingest_of_same_version_is_refused(state, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(CSV)
    dv = ingest_clinical(state, src, "clin", "1.0")
    before = (dv.path / "manifest.json").read_bytes()
    with pytest.raises(Conflict, match="immutable"):
        ingest_clinical(state, src, "clin", "1.0")
    assert (dv.path / "manifest.json").read_bytes() == before
    ingest_clinical(state, src, "clin", "1.1")
    assert [v.version for v in Catalog(state).versions("clin")] == ["1.0", "1.1"]


def test_failure_during_publish_leaves_nothing(state, tmp_path, monkeypatch):
    src = tmp_path / "c.csv"
    src.write_text(CSV)

    def broken(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(clinical.pl.DataFrame, "write_parquet", broken)
    with pytest.raises(OSError):
        ingest_clinical(state, src, "clin", "1.0")
    assert list((state.datasets / "clin").iterdir()) == []


def test_published_files_are_read_only(state, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(CSV)
    dv = ingest_clinical(state, src, "clin", "1.0")
    assert (dv.path / "table.parquet").stat().st_mode & 0o777 == 0o444
    assert dv.path.stat().st_mode & 0o777 == 0o555


def test_invalid_version_and_id(state, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(CSV)
    with pytest.raises(ValueError, match="version"):
        ingest_clinical(state, src, "clin", "../x")
    with pytest.raises(ValueError, match="dataset id"):
        ingest_clinical(state, src, "Bad Id", "1")
