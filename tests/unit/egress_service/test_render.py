"""Per-file views: notebooks sanitised with findings marked at their cell, flagged table cells and
text spans highlighted, and nothing a file contains can run in the reviewer's browser."""

from __future__ import annotations

import json

from cirn.egress.service.render import render, render_table, render_text

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)  # a raster image is known by its bytes, not its name

NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Results <script>alert(1)</script>"},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 1, "source": "df.head()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"text/html": "<b onclick='steal()'>3 patients</b><script>evil()</script>",
                               "application/javascript": "evil()", "text/plain": "3 patients"}}]},
    ],
}


def test_notebook_is_sanitised_and_findings_are_marked_at_their_cell():
    findings = [{"check": "small-count.threshold", "severity": "block", "location": "cell 2, output 1, text/html",
                 "message": "count 3 is below 10"}]
    html = render("analysis.ipynb", "notebook", json.dumps(NOTEBOOK).encode(), findings, "raw")
    lower = html.lower()
    assert "<script" not in lower and "onclick" not in lower  # scripts only ever appear escaped, as text
    assert "<b>3 patients</b>" in html  # the HTML output is shown, not its script alternative
    assert "findings in cell 2" in lower and "count 3 is below 10" in html
    assert html.index("Findings in cell 2") < html.index("3 patients")


def test_table_cells_named_by_findings_are_highlighted_and_escaped():
    data = b"group,count\n<b>A</b>,3\nB,40\n"
    html = render_table(data, "t.csv", [{"check": "small-count.threshold", "severity": "block",
                                         "location": "row 1, column 'count'", "message": "count 3 is below 10"}])
    assert "<td class='cirn-flag cirn-block' title='small-count.threshold: count 3 is below 10'>3</td>" in html
    assert "&lt;b&gt;A&lt;/b&gt;" in html and "<b>A</b>" not in html


def test_text_spans_of_findings_are_marked():
    html = render_text(b"call me on 010-1234-5678 today\n<script>x</script>\n",
                       [{"check": "pii.kr-phone", "severity": "block", "location": "line 1, col 12", "message": "phone"}])
    assert "<mark class='cirn-block' title='pii.kr-phone: phone'>010-1234-5678</mark>" in html
    assert "&lt;script&gt;" in html


def test_images_are_shown_from_the_raw_view_and_svg_is_not_inlined():
    assert "<img" in render("fig.png", "image", PNG, [], "/raw")
    assert "<img" not in render("fig.svg", "image", b"<svg onload='x()'/>", [], "/raw")
