"""Energy tables, rebuilt from records (never measured here): ``energy.csv`` and ``energy_windows.csv``, and
the views the energy notebook shows.

- ``model`` (the power model): the latency case's process recorded wall and CPU time along its timed runs
  (``study.engine.CpuTime``); they are cut into ``windows`` active windows and the power model is applied to
  them. Idle power is the model's own at zero utilisation.
- ``rapl`` and ``meter``: the windows ``study.energy_bench`` measured in a process of their own.

Joules are computed when the tables are written, so a corrected power model or a meter CSV that arrives later
never needs anything measured again.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from study.energy import MODEL_FORMULA, read_meter_csv, summarize_windows, windows_from_checkpoints
from study.errors import StudyError
from study.fsutil import csv_text, display_path, write_text_atomic
from study.profiles import Profile
from study.results import ResultsStore
from study.schema import ENERGY_COLUMNS, WINDOW_COLUMNS

ENERGY_VERSION = 2  # bump when the windowing changes: every energy case is measured again


def energy_cases(profile: Profile, cases: list) -> list[tuple]:
    """(latency case, energy case id, inputs) for every case at the profile's energy batch sizes."""
    batches = profile.energy.batch_sizes or profile.batch_sizes
    planned = []
    for case in cases:
        if case.batch not in batches:
            continue
        inputs = {**{k: v for k, v in case.inputs.items() if k not in ("timing", "harness")},
                  "warmup": {k: case.timing[k] for k in ("warmup_runs", "warmup_seconds", "max_seconds")},
                  "energy": profile.energy.settings(), "energy_version": ENERGY_VERSION}
        case_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
        planned.append((case, case_id, inputs))
    return planned


def _meter(profile: Profile):
    if profile.energy.source != "meter":
        return None, ""
    try:
        return read_meter_csv(profile.energy.meter_csv), ""
    except StudyError as problem:
        return None, str(problem)


def modelled_records(profile: Profile, cases: list) -> list[dict]:
    """Energy records of the power model, made from the latency cases' CPU checkpoints (nothing is run)."""
    latency = ResultsStore(profile.name)
    records = []
    for case, case_id, _ in energy_cases(profile, cases):
        measured = latency.get(case.case_id)
        if measured is None:
            continue
        record = {"case_id": case_id, "latency_case_id": case.case_id, "status": measured["status"],
                  "error": measured["row"].get("error", ""),
                  "label": {"model": case.model, "variant": case.variant, "runtime": case.runtime,
                            "threads": case.threads, "batch": case.batch, "cpus": " ".join(map(str, case.cpus))},
                  "machine": measured["row"]["machine"], "run_id": measured["row"]["run_id"],
                  "measured_at": measured["row"]["measured_at"]}
        if measured["status"] == "ok":
            record["windows"] = windows_from_checkpoints(measured.get("cpu_checkpoints") or [],
                                                         profile.energy.windows, measured.get("cpus") or len(case.cpus),
                                                         measured.get("device_cpus") or len(case.cpus))
            if not record["windows"]:
                record.update(status="failed", error=f"the latency case recorded too few CPU-time checkpoints to "
                                                     f"cut {profile.energy.windows} windows. Fix: python -m study "
                                                     "bench --only latency --force, with a longer timing budget")
        records.append(record)
    return records


def write_energy_tables(profile: Profile, case_ids: list[str], cases: list | None = None) -> pd.DataFrame:
    """energy.csv (one row per case) and energy_windows.csv (every raw window), rebuilt from the records."""
    store = ResultsStore(profile.name, records="energy")
    energy = profile.energy
    power_model = vars(energy.power_model)
    meter, meter_error = _meter(profile)
    modelled = f"{MODEL_FORMULA}; idle_W={energy.power_model.idle_watts}, active_W=" \
               f"{energy.power_model.active_watts}, scope {energy.power_model.scope}; {energy.power_model.source}"
    rows, window_rows = [], []
    records = modelled_records(profile, cases or []) if energy.source == "model" else store.records(case_ids)
    for record in records:
        row = {"profile": profile.name, "case_id": record["case_id"], "latency_case_id": record["latency_case_id"],
               **record["label"], "status": record["status"], "error": record.get("error", ""),
               "energy_source": energy.source, "measurement": energy.measurement, "windows": energy.windows,
               "window_seconds": energy.window_seconds if energy.source != "model" else None,
               "power_model": modelled if energy.source == "model" else "",
               "machine": record["machine"], "run_id": record["run_id"], "measured_at": record["measured_at"]}
        if record["status"] == "ok":
            try:
                if meter_error:
                    raise StudyError(meter_error)
                summary = summarize_windows(record["windows"], record["label"]["batch"], energy.source,
                                            power_model, meter, energy.meter_clock_offset_s)
                joules = summary.pop("window_joules")
                row.update(summary)
            except StudyError as problem:  # e.g. the meter's log does not cover this case's windows
                row.update(status="failed", error=str(problem))
                joules = {}
            window_rows += [{**{k: w.get(k) for k in WINDOW_COLUMNS}, "case_id": record["case_id"],
                             "joules": joules.get(w["index"])} for w in record["windows"]]
        rows.append(row)
    table = pd.DataFrame([{c: r.get(c) for c in ENERGY_COLUMNS} for r in rows], columns=list(ENERGY_COLUMNS))
    write_text_atomic(store.directory / "energy.csv", csv_text(table))
    write_text_atomic(store.directory / "energy_windows.csv",
                      csv_text(pd.DataFrame(window_rows, columns=list(WINDOW_COLUMNS))))
    return table


def load_energy(profile: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / "energy.csv"
    if not path.exists():
        raise StudyError(f"{display_path(path)}: no energy results yet. Fix: python -m study bench --profile {profile} "
                         "--only energy")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def load_windows(profile: str) -> pd.DataFrame:
    return pd.read_csv(ResultsStore(profile).directory / "energy_windows.csv")


def energy_summary(table: pd.DataFrame) -> pd.DataFrame:
    """mJ per inference with 95% CIs, per model, runtime, precision and setting; most efficient first."""
    ok = table[table["status"] == "ok"].copy()
    ok["precision"] = ok["variant"].str.split("-").str[-1]
    columns = ["model", "runtime", "precision", "threads", "batch", "measurement", "gross_mj_per_inference",
               "gross_mj_per_inference_ci_low", "gross_mj_per_inference_ci_high", "net_mj_per_inference",
               "net_mj_per_inference_ci_low", "net_mj_per_inference_ci_high", "inferences_per_joule", "avg_watts",
               "cpu_utilisation"]
    return ok[columns].sort_values(["model", "threads", "batch", "gross_mj_per_inference"]).round(4) \
        .reset_index(drop=True)


def source_statement(table: pd.DataFrame, profile: Profile) -> str:
    """One plain paragraph saying where every energy number of this profile came from."""
    energy = profile.energy
    sources = sorted(set(table["energy_source"])) if len(table) else [energy.source]
    if sources == ["model"]:
        pm = energy.power_model
        return (f"Every energy number for profile '{profile.name}' is MODELLED, not measured: the profile's power model "
                f"(idle {pm.idle_watts} W, active {pm.active_watts} W, scope {pm.scope}) applied to the wall and CPU time "
                f"each latency case's process recorded along its timed runs, cut into {energy.windows} windows. Formula: {MODEL_FORMULA}. Source of the power model: {pm.source}")
    if sources == ["rapl"]:
        return (f"Every energy number for profile '{profile.name}' is MEASURED with the Linux powercap (RAPL) counters "
                f"under {energy.rapl_root}: package domains plus DRAM where present, read at each window's bounds.")
    if sources == ["meter"]:
        return (f"Every energy number for profile '{profile.name}' is MEASURED with an external meter: "
                f"{energy.meter_csv}, integrated (trapezoid rule) over each window's timestamps after a clock offset "
                f"of {energy.meter_clock_offset_s} s.")
    return f"Profile '{profile.name}' mixes energy sources {sources}: each row's energy_source says which."


def with_latency(energy: pd.DataFrame, latency: pd.DataFrame) -> pd.DataFrame:
    """Energy rows joined to the p50 of the same setting's latency case."""
    return energy.merge(latency[["case_id", "p50_ms", "ci_low_ms", "ci_high_ms"]],
                        left_on="latency_case_id", right_on="case_id", suffixes=("", "_latency"), how="left")


