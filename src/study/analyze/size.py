"""Model size and runtime footprint: what a deployment has to ship and download."""

from __future__ import annotations

import pandas as pd

from study.core.runtimes import RUNTIMES


def artifact_sizes(matrix: pd.DataFrame) -> pd.DataFrame:
    """Bytes on disk and compressed per model and format, with parameters and bytes per parameter."""
    usable = matrix[matrix["status"].isin(["ok", "mismatch"])].copy()
    usable["precision"] = "fp32"
    usable["mb"] = usable["bytes"].astype(float) / 1e6
    usable["compressed_mb"] = usable["compressed_bytes"].astype(float) / 1e6
    usable["compression_ratio"] = usable["bytes"].astype(float) / usable["compressed_bytes"].astype(float)
    usable["bytes_per_parameter"] = usable["bytes"].astype(float) / usable["parameters"].astype(float)
    columns = ["model", "framework", "target", "precision", "mb", "compressed_mb", "compression_ratio",
               "parameters", "bytes_per_parameter"]
    return usable[columns].round(3).reset_index(drop=True)


def by_format(sizes: pd.DataFrame, value: str) -> pd.DataFrame:
    """One number per model and format, models as rows: the compact view of ``artifact_sizes``."""
    return sizes.pivot(index="model", columns="target", values=value).reindex(
        index=list(dict.fromkeys(sizes["model"]))).round(3)


def source_files(sizes: pd.DataFrame) -> pd.DataFrame:
    """The first article's comparison: a Keras model file against a PyTorch state_dict of the same network."""
    sources = sizes[sizes["target"].isin(["keras", "torch"])]
    return sources[["model", "target", "mb", "compressed_mb", "parameters", "bytes_per_parameter"]].reset_index(drop=True)


def reading(footprint: pd.DataFrame) -> str:
    """What the footprint table says, runtime by runtime, against the article's '300KB' TFLite binary."""
    lines = []
    for row in footprint.itertuples():
        loaded = getattr(row, "native_libs_loaded_mib", float("nan"))
        loaded_text = f"{loaded:.1f} MiB of native libraries mapped to run the model" if loaded == loaded else \
            "not measured in this profile"
        lines.append(f"{row.runtime}: {row.installed_mib:.1f} MiB installed ({row.distributions}); {loaded_text}.")
    lines.append("An article says TFLite's binary is 'as small as 300KB': that is a minimal Android build of the "
                 "interpreter; the Python wheels measured here ship far more (converters, delegates, bindings).")
    return "\n".join(lines)


def runtime_footprint(profile: str, latency: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per runtime: installed size of its distributions, and the native libraries it mapped to run a model.

    The first is recorded with the profile's environment when it was measured (environment.json); the
    second is measured in each case process (/proc/self/maps after the first inference, minus what was
    mapped before the runtime was imported); the median over the profile's cases is shown.
    """
    import json

    from study.core.store import ResultsStore

    env_file = ResultsStore(profile).environment_json
    recorded = json.loads(env_file.read_text()).get("installed_bytes", {}) if env_file.exists() else {}
    rows = []
    for name, entry in RUNTIMES.items():
        installed = {dist: recorded.get(dist) for dist in entry.packages}
        row = {"runtime": name, "distributions": " + ".join(entry.packages),
               "installed_mib": sum(v or 0 for v in installed.values()) / 2**20}
        if latency is not None and "native_lib_mib" in latency:
            measured = latency.loc[(latency["runtime"] == name) & (latency["status"] == "ok"), "native_lib_mib"]
            row["native_libs_loaded_mib"] = float(measured.median()) if len(measured) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).round(2)
