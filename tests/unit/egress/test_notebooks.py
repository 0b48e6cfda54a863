"""Notebooks: every channel is read; findings in channels a reader would not see get an extra
hidden-content finding; locations name the cell, the output and the MIME type."""

from __future__ import annotations

import base64

import nbformat

from egress_testing import checks, locations, only

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
HTML_TABLE = ("<table border='1' class='dataframe'><thead><tr><th></th><th>M</th><th>F</th></tr></thead>"
              "<tbody><tr><th>A</th><td>20</td><td>30</td></tr><tr><th>B</th><td>25</td><td>12</td></tr>"
              "<tr><th>C</th><td>40</td><td>3</td></tr></tbody></table>")


def _nb(*cells, metadata=None) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nb.metadata.update(metadata or {})
    return nbformat.writes(nb)


def _code(source="x = 1", outputs=(), metadata=None):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    cell.metadata.update(metadata or {})
    return cell


def _result(data):
    return nbformat.v4.new_output("execute_result", data=data, execution_count=1)


def test_html_table_output_located_by_cell_output_mime_row(scan):
    nb = _nb(_code(), _code("df", [_result({"text/html": HTML_TABLE, "text/plain": "..."})]))
    report = scan("analysis.ipynb", nb)
    assert report.kind == "notebook" and report.verdict.label == "block"
    assert locations(report, "small-count.threshold") == ["cell 2, output 1, text/html, row 3, column 'F'"]


def test_clean_notebook_passes(scan):
    table = HTML_TABLE.replace("<td>3</td>", "<td>33</td>").replace("<td>12</td>", "<td>42</td>")
    nb = _nb(nbformat.v4.new_markdown_cell("# Results"), _code("df", [_result({"text/html": table})]))
    report = scan("clean.ipynb", nb)
    assert report.findings == [] and report.verdict.label == "pass"


def test_printed_value_counts_are_a_table(scan):
    text = "sex\nF     4\nM    25\nName: count, dtype: int64\n"
    nb = _nb(_code("print(df.sex.value_counts())", [nbformat.v4.new_output("stream", name="stdout", text=text)]))
    assert locations(scan("vc.ipynb", nb), "small-count.threshold") == ["cell 1, output 1, stdout, row 1, column 'count'"]


def test_hidden_source_cell_gets_hidden_content_finding(scan):
    nb = _nb(_code("rrn = '850312-1234568'", metadata={"jupyter": {"source_hidden": True}}))
    report = scan("hidden.ipynb", nb)
    assert locations(report, "pii.kr-rrn") == ["cell 1, source, line 1, col 8"]
    assert locations(report, "hidden-content.hidden-source") == ["cell 1, source, line 1, col 8"]
    visible = scan("visible.ipynb", _nb(_code("rrn = '850312-1234568'")))
    assert only(visible, "pii.kr-rrn") and not only(visible, "hidden-content.")


def test_papermill_parameters_in_metadata(scan):
    nb = _nb(_code(), metadata={"papermill": {"parameters": {"subject": "P0001234"}}})
    report = scan("pm.ipynb", nb)
    assert only(report, "identifier.exact")[0].location.startswith("notebook metadata, line ")
    assert only(report, "hidden-content.notebook-metadata")


def test_plain_text_behind_html_is_hidden_content(scan):
    nb = _nb(_code("df", [_result({"text/html": "<p>summary</p>", "text/plain": "contact 010-1234-5678"})]))
    report = scan("alt.ipynb", nb)
    assert locations(report, "pii.kr-phone") == ["cell 1, output 1, text/plain, line 1, col 9"]
    assert locations(report, "hidden-content.alternate-mime") == ["cell 1, output 1, text/plain, line 1, col 9"]


def test_chart_data_and_widget_state(scan):
    plot = {"data": [{"x": ["SMP000777"], "y": [1]}]}
    nb = _nb(_code("fig", [_result({"application/vnd.plotly.v1+json": plot})]),
             metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"m": {"value": "P0001234"}}}}})
    report = scan("chart.ipynb", nb)
    assert "hidden-content.chart-data" in checks(report)
    assert "hidden-content.widget-state" in checks(report)
    assert len(only(report, "identifier.exact")) >= 2


def test_error_traceback_is_read(scan):
    err = nbformat.v4.new_output("error", ename="KeyError", evalue="'P0001234'", traceback=["\x1b[31mKeyError\x1b[0m: 'P0001234'"])
    report = scan("err.ipynb", _nb(_code("d[k]", [err])))
    assert locations(report, "identifier.exact")[0].startswith("cell 1, output 1, error, line 1")


def test_images_need_review_and_svg_blocks(scan):
    nb = _nb(_code("plot()", [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]))
    report = scan("fig.ipynb", nb)
    assert report.verdict.label == "review"
    assert locations(report, "image.raster") == ["cell 1, output 1, image/png"]
    svg = _nb(_code("plot()", [nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg></svg>"})]))
    assert locations(scan("svg.ipynb", svg), "image.vector-coordinates") == ["cell 1, output 1, image/svg+xml"]


def test_markdown_attachment_image(scan):
    cell = nbformat.v4.new_markdown_cell("![x](attachment:x.png)")
    cell.attachments = {"x.png": {"image/png": PNG}}
    report = scan("att.ipynb", _nb(cell))
    assert locations(report, "image.raster") == ["cell 1, attachment 'x.png', image/png"]


def test_collapsed_outputs_are_hidden(scan):
    out = nbformat.v4.new_output("stream", name="stdout", text="SMP000777 done\n")
    report = scan("collapsed.ipynb", _nb(_code("run()", [out], metadata={"jupyter": {"outputs_hidden": True}})))
    assert locations(report, "hidden-content.hidden-output") == ["cell 1, output 1, stdout, line 1, col 1"]


def test_regression_summary_with_few_residual_dof(scan):
    summary = "                 OLS Regression Results\nDep. Variable:    y   R-squared: 0.5\nDf Residuals:                   5   BIC: 1\n"
    nb = _nb(_code("print(model.summary())", [nbformat.v4.new_output("stream", name="stdout", text=summary)]))
    assert locations(scan("ols.ipynb", nb), "small-count.residual-dof") == ["cell 1, output 1, stdout, line 3, col 1"]
    ok = summary.replace("   5   BIC", " 250   BIC")
    nb_ok = _nb(_code("print(model.summary())", [nbformat.v4.new_output("stream", name="stdout", text=ok)]))
    assert not only(scan("ols_ok.ipynb", nb_ok), "small-count.residual-dof")
