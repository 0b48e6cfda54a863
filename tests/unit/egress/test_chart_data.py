"""Charts in notebook outputs carry the data they plot: plotly traces and vega / vega-lite data
are read as tables and checked like any table, located by trace or data set, row and column."""

from __future__ import annotations

import base64

import nbformat
import numpy as np

from cirn.egress.checks.chart_data import chart_tables

from egress_testing import checks, locations, only

PLOTLY = "application/vnd.plotly.v1+json"
VEGALITE = "application/vnd.vegalite.v5+json"
VEGA = "application/vnd.vega.v5+json"


def _chart_nb(mime: str, spec: dict) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={mime: spec, "text/plain": "<Figure>"}, execution_count=1)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Counts"), cell]
    return nbformat.writes(nb)


def _bar(counts: list[int]) -> dict:
    return {"data": [{"type": "bar", "x": ["Seoul", "Busan", "Jeju"], "y": counts}], "layout": {"title": {"text": "cases"}}}


def test_plotly_bar_of_small_counts_blocks(scan):
    report = scan("bar.ipynb", _chart_nb(PLOTLY, _bar([120, 4, 57])))
    where = f"cell 2, output 1, {PLOTLY}, trace 0, row 2, column 'y'"
    assert report.verdict.label == "block"
    assert locations(report, "small-count.threshold") == [where]
    assert where in locations(report, "hidden-content.chart-data")


def test_plotly_bar_of_large_counts_passes_the_table_checks(scan):
    report = scan("bar_ok.ipynb", _chart_nb(PLOTLY, _bar([120, 40, 57])))
    assert not only(report, "small-count.") and report.verdict.label == "pass"


def test_plotly_typed_arrays_are_decoded(scan):
    typed = {"dtype": "i4", "bdata": base64.b64encode(np.array([33, 2, 90], dtype="<i4").tobytes()).decode()}
    spec = {"data": [{"type": "bar", "x": ["A", "B", "C"], "y": typed}]}
    report = scan("typed.ipynb", _chart_nb(PLOTLY, spec))
    assert locations(report, "small-count.threshold") == [f"cell 2, output 1, {PLOTLY}, trace 0, row 2, column 'y'"]


def test_plotly_heatmap_is_a_cross_table(scan):
    spec = {"data": [{"type": "heatmap", "x": ["F", "M"], "y": ["20-39", "40-59"], "z": [[40, 33], [25, 3]]}]}
    report = scan("heat.ipynb", _chart_nb(PLOTLY, spec))
    assert locations(report, "small-count.threshold") == [f"cell 2, output 1, {PLOTLY}, trace 0, z, row 2, column 'M'"]
    fine = {"data": [{"type": "heatmap", "x": ["F", "M"], "y": ["20-39", "40-59"], "z": [[40, 33], [25, 30]]}]}
    assert not only(scan("heat_ok.ipynb", _chart_nb(PLOTLY, fine)), "small-count.")


def test_plotly_genotypes_in_chart_labels(scan):
    spec = {"data": [{"type": "scatter", "x": [1.5, 2.5, 3.5, 4.5], "y": [0.1, 0.4, 0.2, 0.9],
                      "text": ["0/1", "1/1", "0/0", "0/1"]}]}
    report = scan("gt.ipynb", _chart_nb(PLOTLY, spec))
    assert locations(report, "genotype.column") == [f"cell 2, output 1, {PLOTLY}, trace 0, column 'text'"]


def test_plotly_scatter_of_measurements_is_not_a_count_table(scan):
    spec = {"data": [{"type": "scatter", "x": [1.5, 2.5, 3.5], "y": [3, 4, 5], "customdata": [[1.2, 0.5], [2.4, 0.7], [3.1, 0.2]]}]}
    report = scan("scatter.ipynb", _chart_nb(PLOTLY, spec))
    assert not only(report, "small-count.") and not only(report, "genotype.")


def test_vegalite_inline_values_and_named_datasets(scan):
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"name": "counts"}, "mark": "bar",
            "datasets": {"counts": [{"region": "Seoul", "n": 120}, {"region": "Jeju", "n": 6}]},
            "layer": [{"data": {"values": [{"group": "A", "count": 0}, {"group": "B", "count": 40}]}, "mark": "rule"}]}
    report = scan("vl.ipynb", _chart_nb(VEGALITE, spec))
    prefix = f"cell 2, output 1, {VEGALITE}"
    assert locations(report, "small-count.threshold") == [f"{prefix}, dataset 'counts', row 2, column 'n'"]
    assert locations(report, "small-count.zero") == [f"{prefix}, layer 0, data, row 1, column 'count'"]


def test_vegalite_with_large_counts_passes(scan):
    spec = {"data": {"values": [{"region": "Seoul", "n": 120}, {"region": "Jeju", "n": 60}]}, "mark": "bar"}
    report = scan("vl_ok.ipynb", _chart_nb(VEGALITE, spec))
    assert not only(report, "small-count.") and report.verdict.label == "pass"


def test_vega_data_list(scan):
    spec = {"data": [{"name": "table", "values": [{"category": "A", "amount": 28}, {"category": "B", "amount": 2}]}]}
    report = scan("vega.ipynb", _chart_nb(VEGA, spec))
    assert locations(report, "small-count.threshold") == [f"cell 2, output 1, {VEGA}, dataset 'table', row 2, column 'amount'"]


def test_chart_json_that_is_no_chart_gives_no_table():
    assert list(chart_tables(PLOTLY, "not json {")) == []
    assert list(chart_tables(PLOTLY, '{"layout": {}}')) == []
    assert list(chart_tables(VEGALITE, '{"mark": "bar", "data": {"url": "data.csv"}}')) == []
    assert list(chart_tables("application/json", '{"data": [{"x": [1]}]}')) == []


def test_chart_text_is_still_scanned(scan):
    spec = {"data": [{"type": "bar", "x": ["P0001234", "other"], "y": [40, 50]}]}
    report = scan("ids.ipynb", _chart_nb(PLOTLY, spec))
    assert "identifier.exact" in checks(report) and "hidden-content.chart-data" in checks(report)
