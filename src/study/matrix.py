"""The conversion matrix: every (model, target) conversion attempted, one row each, with its verdict.

It is the measured successor of the articles' "Model Compatibility Battle" table: not what works
"well" in someone's experience, but what converted here, how long it took, how big it came out and
whether it still computes what the source model computes.
"""

from __future__ import annotations

import pandas as pd

from study.convert import ensure_artifact, model_spec
from study.export import SOURCE_FORMATS, conversion_targets

CONVERSION_COLUMNS: dict[str, str] = {
    "model": "model name",
    "framework": "source framework (torch or keras)",
    "target": "artifact format (a source format row holds the source weights)",
    "is_source": "True for the source weights themselves",
    "status": "ok, mismatch (outputs differ beyond the thresholds), failed, or n/a (no route from this framework)",
    "error": "first line of the error, or the threshold a mismatch broke",
    "exporter": "which exporter produced it (e.g. dynamo or legacy for ONNX)",
    "note": "anything the exporter had to work around",
    "seconds": "conversion wall time (s)",
    "bytes": "artifact size on disk (bytes; a directory's files summed)",
    "compressed_bytes": "artifact size after DEFLATE level 6, roughly what an update downloads (bytes)",
    "parameters": "parameter count of the source model",
    "validated_with": "runtime that ran the artifact on the validation inputs",
    "max_abs_diff": "largest absolute output difference from the source model",
    "max_rel_diff": "max_abs_diff divided by the largest absolute reference output",
    "cosine_min": "worst per-sample cosine similarity of outputs",
    "top1_agreement": "share of validation samples with the same arg-max class",
    "reference_informative": "whether the source outputs vary with the input enough to catch a wrong conversion",
    "path": "artifact path",
}


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


def conversion_matrix(models, log=print, force: bool = False) -> pd.DataFrame:
    """Convert (or reuse) every model to every target at batch 1 and tabulate the records."""
    rows = []
    for model in models:
        spec, problem = model_spec(model, log=log)
        if spec is None:  # a model that cannot even be loaded: one failed row, the others go on
            rows.append({**dict.fromkeys(CONVERSION_COLUMNS), "model": model, "target": "source", "is_source": True,
                         "status": "failed", "error": problem})
            continue
        framework = spec.framework
        source = SOURCE_FORMATS[framework]
        for target in [source] + [f for f in conversion_targets() if f != source]:
            artifact = ensure_artifact(model, target, 1, force=force and target != source, log=log)
            record = artifact.record
            row = {column: record.get(column) for column in CONVERSION_COLUMNS}
            source_record = ensure_artifact(model, source, 1, log=log).record
            row.update(model=model, framework=framework, target=target, is_source=target == source,
                       status=record.get("status"), error=record.get("error", ""),
                       parameters=source_record.get("parameters"),
                       path=str(artifact.path) if artifact.ok else "")
            rows.append(row)
    return pd.DataFrame(rows, columns=list(CONVERSION_COLUMNS))
