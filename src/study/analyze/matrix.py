"""Views of the conversion matrix (``conversions.csv``, made by ``study.build.convert.conversion_matrix``): every
(model, target) conversion attempted, one row each, with its verdict.

It is the measured successor of the articles' "Model Compatibility Battle" table: not what works
"well" in someone's experience, but what converted here, how long it took, how big it came out and
whether it still computes what the source model computes.
"""

from __future__ import annotations

import pandas as pd



def verdicts(matrix: pd.DataFrame) -> pd.DataFrame:
    """Model x target verdicts in the matrix's order; a model's own format (its source) reads ``source``."""
    from study.build.export import conversion_targets

    cells = matrix.assign(status=matrix["status"].where(~matrix["is_source"].astype(bool) |
                                                         (matrix["status"] == "failed"), "source"))
    return cells.pivot(index="model", columns="target", values="status").reindex(
        index=list(dict.fromkeys(matrix["model"])), columns=conversion_targets()).fillna("")


def workarounds(matrix: pd.DataFrame) -> pd.DataFrame:
    """Conversions that succeeded only by a second route: the legacy ONNX exporter, or a skipped optimisation."""
    notes = matrix["note"].fillna("").astype(str).str.len() > 0
    legacy = matrix["exporter"].fillna("").astype(str).eq("legacy")
    return matrix.loc[notes | legacy, ["model", "target", "exporter", "note"]].reset_index(drop=True)


def parity_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """How close every converted artifact comes to its source model, with conversion time and size."""
    converted = matrix[~matrix["is_source"].astype(bool) & matrix["status"].isin(["ok", "mismatch"])].copy()
    converted["mb"] = converted["bytes"].astype(float) / 1e6
    columns = ["model", "target", "status", "seconds", "mb", "max_rel_diff", "cosine_min", "top1_agreement",
               "reference_informative", "delegated_share"]
    return converted.reindex(columns=columns).reset_index(drop=True)  # matrices from before a column lack it


def failed_cells(matrix: pd.DataFrame) -> pd.DataFrame:
    """Every conversion that failed, with the first line of what stopped it (for a PyTorch route from an ONNX file,
    the node: its op type and name, and what would get past it)."""
    failed = matrix[matrix["status"] == "failed"]
    return failed[["model", "target", "error"]].rename(columns={"error": "what stopped it"}).reset_index(drop=True)
