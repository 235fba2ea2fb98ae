"""The summary: every profile side by side, and "which runtime should I ship" computed from the measurements
for the reader's constraints (latency budget, size budget, largest accepted accuracy drop overall and per group).
"""

from __future__ import annotations

import pandas as pd

from study import paths
from study.results import ResultsStore


def profiles_with_results() -> list[str]:
    root = paths.root() / "results"
    return sorted(p.parent.name for p in root.glob("*/latency.csv")) if root.exists() else []


def _read(profile: str, name: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / name
    return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else pd.DataFrame()


def _machine(profile: str) -> str:
    from study.plots import machine_of

    return machine_of(profile)


def cross_profile(profiles: list[str]) -> pd.DataFrame:
    """p50 at batch 1 (fewest and most threads), peak memory and energy, per profile, model and runtime."""
    rows = []
    for profile in profiles:
        latency = _read(profile, "latency.csv")
        if latency.empty:
            continue
        ok = latency[(latency["status"] == "ok") & (latency["batch"] == 1)]
        energy = _read(profile, "energy.csv")
        for (model, runtime), part in ok.groupby(["model", "runtime"]):
            low, high = part.loc[part["threads"].idxmin()], part.loc[part["threads"].idxmax()]
            row = {"profile": profile, "machine": _machine(profile), "model": model, "runtime": runtime,
                   "p50_ms_min_threads": low["p50_ms"], "min_threads": int(low["threads"]),
                   "p50_ms_max_threads": high["p50_ms"], "max_threads": int(high["threads"]),
                   "rss_peak_mib": low["rss_peak_mib"], "artifact_mb": low["artifact_bytes"] / 1e6}
            if len(energy):
                e = energy[(energy["latency_case_id"] == low["case_id"]) & (energy["status"] == "ok")]
                if len(e):
                    row["mj_per_inference"] = float(e["gross_mj_per_inference"].iloc[0])
                    row["energy"] = e["measurement"].iloc[0]
            rows.append(row)
    return pd.DataFrame(rows).round(2)


def recommend(profile: str, latency_budget_ms: float, size_budget_mb: float, max_accuracy_drop_pp: float,
              max_group_drop_pp: float) -> pd.DataFrame:
    """For each model: the runtime to ship (fastest meeting every constraint), with the reason, or why none does.

    Zoo models run fp32, whose accuracy drop is checked by the validation suite (parity with the source model);
    quantized variants come from the quantization study, whose accuracy is measured overall and per group.
    """
    rows = []
    latency = _read(profile, "latency.csv")
    conversions = _read(profile, "conversions.csv")
    if len(latency):
        ok = latency[(latency["status"] == "ok") & (latency["batch"] == 1)]
        ok = ok[ok["threads"] == ok["threads"].max()]
        parity = {}
        if len(conversions):
            for r in conversions.itertuples():
                parity[(r.model, r.target)] = r.status
        for model, part in ok.groupby("model"):
            rows.append(pick_runtime(model, "fp32 (zoo model, validated against its source)", [
                {"runtime": r.runtime, "variant": r.variant, "p50_ms": r.p50_ms, "size_mb": r.artifact_bytes / 1e6,
                 "drop_pp": 0.0 if r.artifact_status == "ok" else float("inf"), "group_drop_pp": 0.0,
                 "rss_mib": r.rss_peak_mib} for r in part.itertuples()],
                latency_budget_ms, size_budget_mb, max_accuracy_drop_pp, max_group_drop_pp))
    quant = _read(profile, "quant_summary.csv")
    if len(quant):
        good = quant[(quant["status"] == "ok") & quant["p50_ms"].notna()] if "p50_ms" in quant else quant.iloc[0:0]
        for (dataset, model), part in good.groupby(["dataset", "model"]):
            rows.append(pick_runtime(f"{model} on {dataset}", "quantization study (accuracy measured, mean over seeds)", [
                {"runtime": r.runtime, "variant": r.scheme, "p50_ms": r.p50_ms, "size_mb": r.bytes / 1e6,
                 "drop_pp": -r.delta_pp, "group_drop_pp": -r.worst_group_delta_pp, "rss_mib": float("nan")}
                for r in part.itertuples()], latency_budget_ms, size_budget_mb, max_accuracy_drop_pp,
                max_group_drop_pp))
    return pd.DataFrame(rows)


def _no_gain(drop_pp: float) -> float:
    """A drop, with gains shown as 0 (and never as -0.00)."""
    return max(drop_pp, 0.0) + 0.0


def pick_runtime(model: str, basis: str, candidates: list[dict], latency_budget: float, size_budget: float,
          max_drop: float, max_group_drop: float) -> dict:
    def problems(c):
        found = []
        if c["p50_ms"] > latency_budget:
            found.append(f"p50 {c['p50_ms']:.2f} ms > {latency_budget:g} ms")
        if c["size_mb"] > size_budget:
            found.append(f"{c['size_mb']:.2f} MB > {size_budget:g} MB")
        if c["drop_pp"] > max_drop:
            found.append(f"accuracy -{c['drop_pp']:.2f} pp > {max_drop:g} pp")
        if c["group_drop_pp"] > max_group_drop:
            found.append(f"worst group -{c['group_drop_pp']:.2f} pp > {max_group_drop:g} pp")
        return found

    passing = sorted((c for c in candidates if not problems(c)), key=lambda c: (c["p50_ms"], c["size_mb"]))
    if not passing:
        # fewest broken constraints, then the fastest and smallest: the one a reader would try to make fit
        nearest = min(candidates, key=lambda c: (len(problems(c)), c["p50_ms"], c["size_mb"]))
        return {"model": model, "ship": "none", "variant": "", "p50_ms": None, "size_mb": None, "basis": basis,
                "reason": f"no runtime meets every constraint; closest {nearest['runtime']} {nearest['variant']}: "
                          + "; ".join(problems(nearest))}
    best = passing[0]
    runner = passing[1] if len(passing) > 1 else None
    reason = (f"fastest of {len(passing)} of {len(candidates)} candidates meeting every constraint: p50 "
              f"{best['p50_ms']:.2f} ms, {best['size_mb']:.2f} MB, accuracy drop {_no_gain(best['drop_pp']):.2f} pp "
              f"(worst group {_no_gain(best['group_drop_pp']):.2f} pp)")
    if runner:
        reason += f"; next {runner['runtime']} {runner['variant']} at {runner['p50_ms']:.2f} ms"
    return {"model": model, "ship": best["runtime"], "variant": best["variant"], "p50_ms": round(best["p50_ms"], 3),
            "size_mb": round(best["size_mb"], 3), "basis": basis, "reason": reason}
