"""How the study shows a table: no pandas index column, every cell whole, a unit in every measured column's
header, and each number rounded to what its interval supports.

``install()`` (called when a notebook imports ``study.report.notebook``) makes this the HTML of every DataFrame a
notebook shows, so the report's pages and JupyterLab show the same tables.
"""

from __future__ import annotations

import html
import math
import re
from importlib import resources

import pandas as pd

# A column's unit, from how its name ends (the study's column names carry their unit: see study/schema.py).
UNITS: tuple[tuple[str, str], ...] = (
    (r"_ms$", "ms"), (r"_mib$", "MiB"), (r"_mb$", "MB"), (r"(^|_)bytes(_fp32)?$", "bytes"), (r"_pp$", "pp"),
    (r"_pct$|^pct_|_pct_", "%"), (r"mj_per_inference", "mJ"), (r"_mj$", "mJ"), (r"_watts|_w$", "W"),
    (r"_seconds$|_s$", "s"), (r"^gflops$|_gflops$", "GFLOP/s"), (r"gflop_per_inference", "GFLOP"),
    (r"_ips$", "inferences/s"), (r"inferences_per_joule", "inferences/J"), (r"speedup|_over_|_ratio$|^ratio", "×"),
)
# Columns whose numbers are plain counts or settings; others without a unit are shares or ratios of like units.
COUNTS = re.compile(r"^(n_|seeds$|threads$|batch$|cpus$|windows$)|_count$|^count|_n$|^n$")
UNITLESS = {"cv": "CV", "flip_rate": "flip rate (share)", "acc": "accuracy (share)", "acc_fp32": "fp32 accuracy (share)",
            "welch_t": "Welch t", "welch_p": "Welch p", "welch_p_worst_group": "Welch p, worst group",
            "cosine_min": "min cosine", "top1_agreement": "top-1 agreement (share)"}
LONG_TEXT = 40  # characters: a text column with longer cells wraps instead of widening the table
CSS_FILE = "study.css"


def unit(column: str) -> str | None:
    for pattern, name in UNITS:
        if re.search(pattern, column):
            return name
    return None


def header(column) -> str:
    """``p50_ms`` -> ``p50 (ms)``: the name in words, its unit in brackets."""
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if str(part))
    column = str(column)
    if column in UNITLESS:
        return UNITLESS[column]
    found = unit(column)
    words = column
    if found:
        words = re.sub(r"(_ms|_mib|_mb|_pp|_pct|_s|_ips)$", "", words)
        words = re.sub(r"^pct_", "% of ", words)
    words = words.replace("_", " ").strip()
    if found == "mJ":
        return words.replace("mj", "mJ")
    return f"{words} ({found})" if found and found not in words else words


def interval_of(column: str, columns) -> tuple[str, str] | None:
    """The columns holding ``column``'s 95% interval, by the study's naming (``x_ci_low``, ``ci_low_ms``, ...)."""
    stem = re.sub(r"_(ms|pp|mib|mb)$", "", column)
    suffix = column[len(stem):]
    pairs = [(f"{column}_ci_low", f"{column}_ci_high"), (f"{stem}_ci_low", f"{stem}_ci_high"),
             (f"{stem}_ci_low{suffix}", f"{stem}_ci_high{suffix}")]
    if stem == "p50":  # latency.csv's ci_low_ms/ci_high_ms are the p50's interval, not p90's or p99's
        pairs.append((f"ci_low{suffix}", f"ci_high{suffix}"))
    for low, high in pairs:
        if low in columns and high in columns and low != column:
            return low, high
    if stem == "delta" and "delta_ci_low" in columns:
        return "delta_ci_low", "delta_ci_high"
    return None


def decimals_for_interval(low: float, high: float) -> int | None:
    """Decimals that show an interval's half-width to two significant digits (never fewer than 0)."""
    half = (high - low) / 2
    if not (math.isfinite(half) and half > 0):
        return None
    return max(0, 1 - math.floor(math.log10(half) + 1e-9))  # 0.0999999 is 0.1


def significant_decimals(value) -> int | None:
    """Decimals that show three significant digits of a number without an interval (whole parts stay whole)."""
    if not isinstance(value, float) or not math.isfinite(value) or value == 0:
        return 0 if isinstance(value, float) else None
    return min(6, max(0, 2 - math.floor(math.log10(abs(value)))))


def _cell(value, decimals: int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and decimals is not None:
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.{decimals}f}"
    return str(value)


def _shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A meaningful index (a pivot's rows) becomes the first column; pandas' 0..N counter is dropped."""
    if isinstance(frame.index, pd.RangeIndex) or (frame.index.names == [None] and frame.index.dtype.kind in "iu"):
        return frame.reset_index(drop=True)
    return frame.reset_index()


def to_html(frame: pd.DataFrame) -> str:
    """A DataFrame as the study shows it: see the module's docstring."""
    frame = _shown_frame(frame)
    columns = list(frame.columns)
    names = [c if not isinstance(c, tuple) else "_".join(map(str, c)) for c in columns]
    numeric = {c: pd.api.types.is_float_dtype(frame[c]) for c in columns}
    text = {c: not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])) for c in columns}
    long = {c: text[c] and frame[c].astype(str).str.len().max() > LONG_TEXT for c in columns} if len(frame) else {}
    # a value and its interval's bounds share the decimals its interval supports, row by row
    bounded = {}
    for c, name in zip(columns, names):
        pair = interval_of(name, names)
        if pair and numeric[c]:
            bounded[c] = pair
            for bound in pair:
                bounded.setdefault(columns[names.index(bound)], pair)

    head = "".join(f"<th class='{'text' if text[c] else 'num'}'>{html.escape(header(c))}</th>" for c in columns)
    rows = []
    values = {c: frame[c].tolist() for c in columns}  # each column keeps its own type (iterrows would upcast)
    for i in range(len(frame)):
        row = {c: values[c][i] for c in columns}
        cells = []
        for c in columns:
            decimals = significant_decimals(row[c]) if numeric[c] else None
            if c in bounded:
                low, high = (row[columns[names.index(b)]] for b in bounded[c])
                try:
                    supported = decimals_for_interval(float(low), float(high))
                except (TypeError, ValueError):
                    supported = None
                decimals = decimals if supported is None else supported
            kind = "long" if long.get(c) else "text" if text[c] else "num"
            cells.append(f"<td class='{kind}'>{html.escape(_cell(row[c], decimals))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='table-box'><table class='study'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def css() -> str:
    return resources.files("study.report").joinpath("templates", CSS_FILE).read_text(encoding="utf-8")


def install() -> None:
    """Show every DataFrame in this IPython session as the report's tables (the notebooks' HTML, and nbval's)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, to_html)
