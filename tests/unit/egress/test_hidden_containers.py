"""Every stream, member, part, comment, header and metadata field of a container is checked, or
the file is held: each test builds a file that hides a per-person line where the scan used to
look past it."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import nbformat
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl.comments import Comment
from openpyxl.workbook.defined_name import DefinedName

from egress_testing import checks, locations, only

PERSON = "S-4KQ2M7Z3XW9D5HTA"  # in the conftest's identifier list
LINE = f"{PERSON} rs429358 C/T\n"
CLEAN = "group,n\nA,40\nB,55\n"


def _all_checks(reports) -> set[str]:
    return {f.check for r in reports for f in r.findings}


def _verdict(reports) -> str:
    return max((r.verdict for r in reports)).label


def test_every_stream_of_a_multi_stream_file_is_read(scan):
    for name, compress in (("summary.csv.gz", gzip.compress), ("summary.csv.bz2", bz2.compress), ("summary.csv.xz", lzma.compress)):
        reports = scan.all(name, compress(CLEAN.encode()) + compress(LINE.encode()))
        assert {"identifier.exact", "genotype.per-person-line"} <= _all_checks(reports), name
        assert _verdict(reports) == "block"


def test_a_later_stream_that_is_a_raw_genomic_file_is_named(scan):
    vcf = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
    reports = scan.all("summary.txt.gz", gzip.compress(b"fine\n") + gzip.compress(vcf))
    assert locations(reports[0], "genomic-file.vcf") == ["member 'summary.txt', stream 2"]


def test_bytes_after_the_last_stream_are_blocked(scan):
    for name, compress in (("a.txt.gz", gzip.compress), ("a.txt.bz2", bz2.compress), ("a.txt.xz", lzma.compress)):
        reports = scan.all(name, compress(b"fine\n") + LINE.encode())
        assert locations(reports[0], "archive.trailing-data") == ["file"], name
    padded = scan.all("p.txt.gz", gzip.compress(b"fine\n") + bytes(512))  # zero padding is not data
    assert not only(padded[0], "archive.trailing-data")


def _zip(members: dict[str, str], comment: bytes = b"", member_comment: bytes = b"", extra: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.comment = comment
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.comment, info.extra = member_comment, extra
            zf.writestr(info, data)
    return buf.getvalue()


def test_zip_archive_and_member_comments_and_extra_fields_are_scanned(scan):
    for kwargs, where in (({"comment": LINE.encode()}, "archive comment, line 1, col 1"),
                          ({"member_comment": LINE.encode()}, "member 'table.csv', comment, line 1, col 1"),
                          ({"extra": b"\x34\x12" + len(LINE).to_bytes(2, "little") + LINE.encode()},
                           "member 'table.csv', extra field, line 1, col 1")):
        report = scan.all("out.zip", _zip({"table.csv": CLEAN}, **kwargs))[0]
        assert locations(report, "identifier.exact") == [where]
        assert locations(report, "hidden-content.metadata") == [where, where]  # identifier and genotype line
        assert report.verdict.label == "block"


def test_member_names_are_scanned(scan):
    report = scan.all("out.zip", _zip({f"by-person/{PERSON}.csv": CLEAN}))[0]
    assert locations(report, "identifier.exact") == ["member names, line 1, col 11"]


def test_zip_folder_entry_that_carries_data_is_caught(scan):
    data = _zip({"table.csv": CLEAN, "secretX": LINE}).replace(b"secretX", b"secret/")  # both headers
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("secret/").is_dir()
    reports = scan.all("out.zip", data)
    assert locations(reports[0], "archive.folder-with-data") == ["member 'secret/'"]
    assert {"identifier.exact", "genotype.per-person-line"} <= checks(reports[-1])


def test_bytes_outside_every_zip_member_are_blocked(scan):
    report = scan.all("out.zip", _zip({"table.csv": CLEAN}) + LINE.encode())[0]
    assert locations(report, "archive.hidden-data") == ["file"]
    clean = scan.all("clean.zip", _zip({"table.csv": CLEAN}))[0]
    assert clean.verdict.label == "pass"


def _tar(info_changes: dict, pax: dict | None = None, trailing: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers=pax or {}) as tf:
        info = tarfile.TarInfo("table.csv")
        info.size = len(CLEAN)
        for k, v in info_changes.items():
            setattr(info, k, v)
        tf.addfile(info, io.BytesIO(CLEAN.encode()))
    return buf.getvalue() + trailing


def test_tar_pax_and_other_headers_are_scanned(scan):
    for data, where in ((_tar({"pax_headers": {"comment": LINE}}), "member 'table.csv', PAX header, line 1, col 10"),
                        (_tar({"uname": PERSON}), "member 'table.csv', header, line 1, col 8"),
                        (_tar({}, pax={"CIRN.note": LINE}), "archive PAX header, line 1, col 12")):
        report = scan.all("out.tar", data)[0]
        assert locations(report, "identifier.exact") == [where]
        assert only(report, "hidden-content.metadata")


def test_bytes_after_the_end_of_a_tar_archive_are_blocked(scan):
    plain = _tar({})
    report = scan.all("out.tar", plain + LINE.encode() * 40)[0]
    assert locations(report, "archive.trailing-data") == ["file"]
    assert scan.all("clean.tar", plain)[0].verdict.label == "pass"


def _workbook(change=None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "counts"
    for row in (["group", "n"], ["A", 40], ["B", 55]):
        ws.append(row)
    if change:
        change(wb, ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_cell_comments_defined_names_and_formulas_are_scanned(scan):
    def comment(wb, ws):
        ws["A2"].comment = Comment(f"excluded: {PERSON}", "analyst")

    def name(wb, ws):
        wb.defined_names["who"] = DefinedName("who", attr_text=f'"{PERSON}"')

    def formula(wb, ws):
        ws["C2"] = f'=IF(FALSE,"{PERSON}",1)'  # the cell shows 1

    for change, part in ((comment, "xl/comments/comment1.xml"), (name, "xl/workbook.xml"),
                         (formula, "xl/worksheets/sheet1.xml', formulas")):
        report = scan("book.xlsx", _workbook(change))
        assert [loc for loc in locations(report, "identifier.exact") if f"part '{part}" in loc], part
        assert only(report, "hidden-content.metadata")
        assert report.verdict.label == "block"
    assert scan("clean.xlsx", _workbook()).verdict.label == "pass"


def _with_part(data: bytes, name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr(name, content)
    return buf.getvalue()


def test_unknown_office_parts_are_held_and_scanned(scan):
    report = scan("book.xlsx", _with_part(_workbook(), "xl/extra/notes.txt", LINE.encode()))
    assert locations(report, "hidden-content.unknown-part") == ["part 'xl/extra/notes.txt'"]
    assert locations(report, "genotype.per-person-line") == ["part 'xl/extra/notes.txt', line 1, col 1"]
    quiet = scan("book.xlsx", _with_part(_workbook(), "customXml/blob.bin", b"\x00\x01 nothing to read"))
    assert quiet.verdict.label == "review" and checks(quiet) == {"hidden-content.unknown-part"}


def test_shared_strings_that_no_cell_shows_are_scanned(scan):
    data = _workbook(lambda wb, ws: ws.append(["C", 60]))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
    assert "xl/sharedStrings.xml" not in names  # openpyxl writes inline strings only when asked; build one
    strings = (b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               + f"<si><t>{PERSON}</t></si>".encode() + b"</sst>")
    report = scan("book.xlsx", _with_part(data, "xl/sharedStrings.xml", strings))
    assert locations(report, "identifier.exact") == ["part 'xl/sharedStrings.xml', strings no cell shows, line 1, col 1"]


def test_docx_text_split_over_runs_and_its_other_parts_are_scanned(scan):
    from test_identifiers_and_text import _docx
    split = f"Subject {PERSON[:6]}</w:t></w:r><w:r><w:t>{PERSON[6:]} left"
    report = scan("report.docx", _docx(split))
    assert locations(report, "identifier.exact") == ["word/document.xml, line 1, col 9"]
    props = _with_part(_docx("fine"), "docProps/custom.xml", f"<Properties><p>{LINE}</p></Properties>".encode())
    report = scan("report.docx", props)
    assert locations(report, "genotype.per-person-line") == ["part 'docProps/custom.xml', line 1, col 1"]


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_parquet_file_and_field_metadata_and_schema_are_scanned(scan):
    table = pa.table({"group": ["A", "B"], "n": [40, 55]})
    file_meta = _parquet(table.replace_schema_metadata({"note": LINE}))
    report = scan("t.parquet", file_meta)
    assert locations(report, "genotype.per-person-line") == ["file metadata 'note', line 2, col 1"]
    field = pa.schema([pa.field("group", pa.string(), metadata={"source": PERSON}), pa.field("n", pa.int64())])
    report = scan("t.parquet", _parquet(pa.table({"group": ["A", "B"], "n": [40, 55]}, schema=field)))
    assert locations(report, "identifier.exact") == ["metadata of field 'group', line 2, col 1"]
    nested = pa.schema([pa.field("s", pa.struct([pa.field(PERSON, pa.int64())]))])
    report = scan("t.parquet", _parquet(pa.table({"s": [{PERSON: 1}]}, schema=nested)))
    assert "field names, line 2, col 3" in locations(report, "identifier.exact")
    assert scan("clean.parquet", _parquet(table)).verdict.label == "pass"


def test_notebook_output_of_an_unknown_mime_type_is_held_and_its_base64_checked(scan):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    payload = base64.b64encode(gzip.compress(LINE.encode())).decode()
    cell.outputs = [nbformat.v4.new_output("display_data", data={"application/x-custom": payload, "text/plain": "<Figure>"})]
    nb.cells.append(cell)
    report = scan("analysis.ipynb", nbformat.writes(nb))
    assert locations(report, "hidden-content.unknown-mime") == ["cell 1, output 1, application/x-custom"]
    assert only(report, "genotype.per-person-line") and report.verdict.label == "block"
    harmless = nbformat.v4.new_notebook()
    harmless.cells.append(nbformat.v4.new_code_cell("x"))
    harmless.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"application/x-custom": "{}"})]
    assert scan("plain.ipynb", nbformat.writes(harmless)).verdict.label == "review"


def test_long_base64_hex_and_uuencoded_runs_are_held(scan):
    import binascii
    import random
    noise = random.Random(22).randbytes(300)  # fixed: a digit run in random hex can look like a phone number
    for text in (base64.b64encode(noise).decode(), noise.hex(),
                 "begin 644 x\n" + "".join(binascii.b2a_uu(noise[i:i + 45]).decode() for i in range(0, 270, 45))):
        report = scan("notes.txt", f"appendix\n{text}\nend\n")
        assert report.verdict.label == "review" and only(report, "hidden-content.encoded-run"), text[:20]
    hexed = scan("notes.txt", f"blob {LINE.encode().hex()}\n")
    assert only(hexed, "identifier.exact") and hexed.verdict.label == "block"
    uu = "".join(binascii.b2a_uu((LINE * 4).encode()[i:i + 45]).decode() for i in (0, 45))
    assert only(scan("notes.txt", uu), "identifier.exact")
    # traps: a SHA-256 and a git commit id are not held
    assert scan("notes.txt", f"sha256 {'ab' * 32}\ncommit {'c0ffee' * 6}1234\n").verdict.label == "pass"


def test_gzip_header_name_comment_and_extra_field_are_scanned(scan):
    body = gzip.compress(b"fine\n")
    flags = 0x08 | 0x10  # FNAME, FCOMMENT
    data = body[:3] + bytes([flags]) + body[4:10] + f"{PERSON}.txt".encode() + b"\0" + LINE.encode() + b"\0" + body[10:]
    reports = scan.all("a.txt.gz", data)
    assert locations(reports[0], "identifier.exact") == ["stream 1, gzip header, line 1, col 7", "stream 1, gzip header, line 2, col 10"]
    assert reports[1].verdict.label == "pass"


def test_plotly_typed_arrays_are_read_as_numbers_not_held_but_text_in_them_is(scan):
    import numpy as np

    def chart(array: bytes) -> str:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("fig")
        figure = {"data": [{"type": "bar", "x": ["A", "B"], "y": {"dtype": "f8", "bdata": base64.b64encode(array).decode()}}]}
        cell.outputs = [nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": figure})]
        nb.cells.append(cell)
        return nbformat.writes(nb)

    assert scan("chart.ipynb", chart(np.arange(100, 200, dtype="<f8").tobytes())).verdict.label == "pass"
    hidden = scan("chart.ipynb", chart((LINE * 8).encode()))
    assert only(hidden, "genotype.per-person-line") and only(hidden, "hidden-content.encoded-run")
