"""The reviewer sees what they approve (issue 22): archives list and draw their members,
documents show their text, truncated views say so, a table that is not CSV falls back to text,
every notebook attachment and representation is shown, and what has no preview is named."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import zipfile

from cirn.egress.review import previews
from cirn.egress.service.render import render, render_table, render_text
from cirn.policies.egress_rules import EgressPolicy

from .test_render import PNG

POLICY = EgressPolicy()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def tgz_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF whose page draws `text` in Helvetica (built here, so no fixture file)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
               b"/Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for o in offsets:
        out.write(b"%010d 00000 n \n" % o)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx_with_text(text: str) -> bytes:
    return zip_of({"[Content_Types].xml": b"<Types/>",
                   "word/document.xml": f"<w:document><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
                                        "</w:body></w:document>".encode()})


def test_a_zip_lists_its_members_and_draws_each_with_its_findings():
    data = zip_of({"out/counts.csv": b"group,count\nA,3\nB,40\n", "out/notes.txt": b"mean age 52\n",
                   "out/blob.bin": b"\x00\x01\x02\x03" * 10})
    findings = [{"check": "small-count.threshold", "severity": "block", "location": "row 1, column 'count'",
                 "message": "count 3 is below 10", "file": "res.zip!/out/counts.csv"}]
    html = render("res.zip", "archive", data, findings, "/raw", POLICY)
    assert "3 members" in html
    for name in ("out/counts.csv", "out/notes.txt", "out/blob.bin"):
        assert f"<li data-member='{name}'>" in html
    assert "<td class='cirn-flag cirn-block' title='small-count.threshold: count 3 is below 10'>3</td>" in html
    assert "mean age 52" in html
    assert "No preview for a binary file" in html  # the member that cannot be shown is named


def test_a_tar_gz_inside_a_zip_is_opened_and_its_image_drawn_inline():
    inner = tgz_of({"fig.png": PNG, "t.txt": b"hello\n"})
    html = render("all.zip", "archive", zip_of({"inner.tar.gz": inner}), [], "/raw", POLICY)
    assert "all.zip!/inner.tar.gz!/fig.png" in html and "hello" in html
    assert "src='data:image/png;base64," in html


def test_documents_show_their_text():
    html = render("report.pdf", "document", pdf_with_text("Mean age 52 in 40 patients"), [], "/raw", POLICY)
    assert "Mean age 52 in 40 patients" in html and "page 1" in html
    html = render("report.docx", "document", docx_with_text("Forty patients took part"), [], "/raw", POLICY)
    assert "Forty patients took part" in html and "word/document.xml" in html


def test_a_truncated_table_or_text_says_so():
    rows = "n\n" + "".join(f"{i}\n" for i in range(previews.MAX_ROWS + 500))
    html = render_table(rows.encode(), "big.csv", [])
    assert f"shows only the first {previews.MAX_ROWS} of its {previews.MAX_ROWS + 500} rows" in html
    assert "cirn-truncated" not in render_table(b"n\n1\n2\n", "small.csv", [])
    long = ("x" * 99 + "\n") * (previews.MAX_TEXT // 100 + 10)
    html = render_text(long.encode(), [])
    assert f"shows only the first {previews.MAX_TEXT} of its {len(long)} characters" in html


def test_a_table_that_is_not_csv_falls_back_to_its_text():
    data = b'id,note\n1,"' + b"y" * 200_000 + b'"\n2,end of file\n'
    html = render_table(data, "odd.csv", [])
    assert "cannot be read as a table" in html and "end of file" in html and "<pre class='cirn-text'>" in html


def test_every_notebook_attachment_and_hidden_representation_is_shown():
    secret = base64.b64encode(b"P-7K2M9QXW4TBN3HZD,0/1\n").decode()
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "no reference to the attachment",
         "attachments": {"fig.png": {"image/png": base64.b64encode(PNG).decode()},
                         "rows.txt": {"text/plain": "P-AAAAAAAAAAAAAAAA row"}}},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 1, "source": "show()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"text/plain": "a chart", "application/x-custom": secret,
                               "application/javascript": "alert('<b>x</b>')"}}]}]}
    html = render("a.ipynb", "notebook", json.dumps(nb).encode(), [], "/raw", POLICY)
    assert "cell 1, attachment &#x27;fig.png&#x27;" in html and "src='data:image/png;base64," in html
    assert "P-AAAAAAAAAAAAAAAA row" in html
    assert "application/x-custom" in html and secret in html
    assert "alert(&#x27;&lt;b&gt;x&lt;/b&gt;&#x27;)" in html and "<b>x</b>" not in html


def test_unseen_parts_are_named_and_hold_the_file():
    assert previews.unseen_findings(b"mean age 52\n", "a.txt", POLICY) == []
    assert previews.unseen_findings(zip_of({"a.csv": b"n\n12\n"}), "a.zip", POLICY) == []
    [f] = previews.unseen_findings(b"\x00\x01binary", "a.dat", POLICY)
    assert f["check"] == previews.NO_PREVIEW and f["severity"] == "review" and "a.dat (binary)" in f["message"]
    [f] = previews.unseen_findings(zip_of({"ok.txt": b"x\n", "t.parquet": b"PAR1" + bytes(20)}), "z.zip", POLICY)
    assert "z.zip!/t.parquet (parquet)" in f["message"] and "ok.txt" not in f["message"]
    rows = "g,n\n" + "a,12\n" * (previews.MAX_ROWS + 1)
    [f] = previews.unseen_findings(rows.encode(), "t.csv", POLICY)
    assert f["check"] == previews.TRUNCATED
    assert previews.unseen_findings(("g,n\n" + "a,12\n" * previews.MAX_ROWS).encode(), "t.csv", POLICY) == []
