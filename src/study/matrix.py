"""The conversion matrix: every (model, target) conversion attempted, one row each, with its verdict.

It is the measured successor of the articles' "Model Compatibility Battle" table: not what works
"well" in someone's experience, but what converted here, how long it took, how big it came out and
whether it still computes what the source model computes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from study.convert import ensure_artifact, model_spec
from study.export import SOURCE_FORMATS, conversion_targets
from study.fsutil import display_path
from study.schema import CONVERSION_COLUMNS



def verdicts(matrix: pd.DataFrame) -> pd.DataFrame:
    """Model x target verdicts, conversion targets only, in the matrix's order."""
    from study.export import conversion_targets

    targets = matrix[~matrix["is_source"].astype(bool)]
    return targets.pivot(index="model", columns="target", values="status").reindex(
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
               "reference_informative"]
    return converted[columns].reset_index(drop=True)


def _model_rows(model: str, log, force: bool) -> list[dict]:
    spec, problem = model_spec(model, log=log)
    if spec is None:  # a model that cannot even be loaded: one failed row, the others go on
        return [{**dict.fromkeys(CONVERSION_COLUMNS), "model": model, "target": "source", "is_source": True,
                 "status": "failed", "error": problem}]
    framework = spec.framework
    source = SOURCE_FORMATS[framework]
    rows = []
    for target in [source] + [f for f in conversion_targets() if f != source]:
        artifact = ensure_artifact(model, target, 1, force=force and target != source, log=log)
        record = artifact.record
        row = {column: record.get(column) for column in CONVERSION_COLUMNS}
        source_record = ensure_artifact(model, source, 1, log=log).record
        row.update(model=model, framework=framework, target=target, is_source=target == source,
                   status=record.get("status"), error=record.get("error", ""),
                   parameters=source_record.get("parameters"),
                   path=display_path(artifact.path) if artifact.ok else "")
        rows.append(row)
    return rows


def conversion_matrix(models, log=print, force: bool = False, jobs: int | None = None) -> pd.DataFrame:
    """Convert (or reuse) every model to every target at batch 1 and tabulate the records.

    Models convert side by side, one per CPU (``jobs``): a conversion is not a timing measurement, and the
    conversion phase would otherwise dominate a first run. Each model's own targets convert in order, since
    they all start from its source weights. ``seconds`` is therefore wall time on a busy machine."""
    models = list(models)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(models) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_model = list(pool.map(lambda m: _model_rows(m, log, force), models))
    return pd.DataFrame([row for rows in per_model for row in rows], columns=list(CONVERSION_COLUMNS))
