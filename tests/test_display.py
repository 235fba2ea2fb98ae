"""How every table is shown: no index column, whole cells, a unit in each measured header, numbers rounded to
what their interval supports."""

import re
from html import unescape

import pandas as pd

from study.report import display
from study.core.schema import ENERGY_COLUMNS
from study.measure.trackers import latency_columns


def _cells(html: str) -> list[str]:
    return [unescape(c) for c in re.findall(r"<td(?: [^>]*)?>(.*?)</td>", html)]


def _headers(html: str) -> list[str]:
    return re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)


def test_every_measured_column_of_the_schema_has_its_unit_in_the_header():
    for columns in (latency_columns(), ENERGY_COLUMNS):
        for name, meaning in columns.items():
            stated = re.search(r"\((ms|MiB|MB|bytes|GFLOP/s|GFLOP|mJ|W|s)[;,)]", meaning)
            if stated:
                assert f"({stated.group(1)})" in display.header(name) or stated.group(1) in display.header(name), \
                    (name, display.header(name))
    assert display.header("p50_ms") == "p50 (ms)"
    assert display.header("rss_peak_mib") == "rss peak (MiB)"
    assert display.header("size_reduction_pct") == "size reduction (%)"
    assert display.header("gross_mj_per_inference") == "gross mJ per inference"


def test_no_index_column_and_no_cell_cut_short():
    reason = "no runtime meets every constraint; closest litert tflite-fp32: p50 25.00 ms > 20 ms " * 2
    html = display.to_html(pd.DataFrame({"model": ["m"], "reason": [reason]}))
    assert _headers(html) == ["model", "reason"]  # pandas' 0..N counter is gone
    assert _cells(html)[1] == reason  # whole (the page wraps it), never cut
    assert "class='long'" in html
    pivot = pd.DataFrame({"model": ["a", "b"], "onnx": [1.5, 2.5]}).set_index("model")
    assert _headers(display.to_html(pivot))[0] == "model"  # a meaningful index becomes the first column


def test_numbers_are_rounded_to_what_their_interval_supports():
    table = pd.DataFrame({"p50_ms": [10.54321, 10.54321], "ci_low_ms": [10.45, 8.0], "ci_high_ms": [10.66, 14.0],
                          "threads": [1, 2], "cv": [0.0123456, 0.5]})
    rows = [_cells(display.to_html(table.iloc[[i]])) for i in range(2)]
    assert rows[0][:3] == ["10.54", "10.45", "10.66"]  # half-width 0.105: two significant digits, two decimals
    assert rows[1][:3] == ["10.5", "8.0", "14.0"]  # half-width 3.0: one decimal
    assert rows[0][3] == "1" and rows[1][3] == "2"  # counts stay whole in a frame of floats
    assert rows[0][4] == "0.0123"  # no interval: three significant digits


def test_only_the_p50_takes_the_latency_interval():
    columns = ["p50_ms", "ci_low_ms", "ci_high_ms", "p90_ms", "delta_pp", "delta_ci_low", "delta_ci_high"]
    assert display.interval_of("p50_ms", columns) == ("ci_low_ms", "ci_high_ms")
    assert display.interval_of("p90_ms", columns) is None
    assert display.interval_of("delta_pp", columns) == ("delta_ci_low", "delta_ci_high")


def test_a_number_never_loses_its_whole_part():
    assert display._cell(1234.5678, display.significant_decimals(1234.5678)) == "1235"
    assert display._cell(float("nan"), 2) == "–"
