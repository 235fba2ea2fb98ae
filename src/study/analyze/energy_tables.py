"""Energy tables, rebuilt from records (never measured here): ``energy.csv`` and ``energy_windows.csv``, and
the views the energy notebook shows.

- ``model`` (the power model): the latency case's process recorded wall and CPU time along its timed runs
  (``study.measure.trackers.cpu_time.CpuTime``); they are cut into ``windows`` active windows and the power model is applied to
  them. Idle power is the model's own at zero utilisation.
- ``rapl`` and ``meter``: the windows ``study.phases.energy`` measured in a process of their own.

Joules are computed when the tables are written, so a corrected power model or a meter CSV that arrives later
never needs anything measured again.
"""

from __future__ import annotations


import pandas as pd

from study.measure.energy import MODEL_FORMULA, read_meter_csv, summarize_windows, windows_from_checkpoints
from study.core.errors import StudyError
from study.core.ids import content_id
from study.core.fsutil import display_path, write_rows_atomic
from study.plan.profiles import Profile
from study.core.store import ResultsStore, processes_of
from study.core.schema import ENERGY_COLUMNS, WINDOW_COLUMNS

ENERGY_VERSION = 2  # bump when the windowing changes: every energy case is measured again


def energy_batches(profile: Profile) -> list[int]:
    """The batch sizes whose latency cases get an energy case."""
    return list(profile.energy.batch_sizes or profile.batch_sizes)


def energy_cases(profile: Profile, cases: list) -> list[tuple]:
    """(latency case, energy case id, inputs) for every case at the profile's energy batch sizes."""
    batches = energy_batches(profile)
    planned = []
    for case in cases:
        if case.batch not in batches:
            continue
        inputs = {**{k: v for k, v in case.inputs.items() if k not in ("timing", "harness")},
                  "warmup": {k: case.timing[k] for k in ("warmup_runs", "warmup_seconds", "max_seconds")},
                  "energy": profile.energy.settings(), "energy_version": ENERGY_VERSION}
        planned.append((case, content_id(inputs), inputs))
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
            record["windows"] = []
            for process in processes_of(measured):  # each process's timed runs, cut into windows
                cut = windows_from_checkpoints(process.get("cpu_checkpoints") or [], profile.energy.windows,
                                               process.get("cpus") or len(case.cpus),
                                               process.get("device_cpus") or len(case.cpus))
                record["windows"] += [{**w, "index": len(record["windows"]) + i + 1} for i, w in enumerate(cut)]
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
    modelled = f"{MODEL_FORMULA}; " + " | ".join(
        f"idle_W={pm.idle_watts}, active_W={pm.active_watts}, scope {pm.scope}: {pm.source}"
        for pm in energy.power_models)
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
                if energy.source == "model":
                    row.update(modelled_range(record["windows"], record["label"]["batch"], energy))
            except StudyError as problem:  # e.g. the meter's log does not cover this case's windows
                row.update(status="failed", error=str(problem))
                joules = {}
            window_rows += [{**{k: w.get(k) for k in WINDOW_COLUMNS}, "case_id": record["case_id"],
                             "joules": joules.get(w["index"])} for w in record["windows"]]
        rows.append(row)
    write_rows_atomic(store.directory / "energy_windows.csv", window_rows, WINDOW_COLUMNS)
    return write_rows_atomic(store.directory / "energy.csv", rows, ENERGY_COLUMNS)


MODELLED_WITHOUT_CI = ("gross_mj_per_inference", "net_mj_per_inference", "inferences_per_joule", "avg_watts")


def modelled_range(windows: list[dict], batch: int, energy) -> dict:
    """The power model's joules under every coefficient set of the profile, as a range (lowest, highest). No
    interval: an interval across windows would measure timing noise, while the model's own error (which set of
    coefficients is right for this CPU) is far larger and is what the range shows. The first set's values stay
    in the main columns; the measured CPU time per inference keeps its interval."""
    by_model = [summarize_windows(windows, batch, "model", vars(pm)) for pm in energy.power_models]
    row = {f"{name}_{end}": None for name in MODELLED_WITHOUT_CI for end in ("ci_low", "ci_high")}
    for name in ("gross_mj_per_inference", "net_mj_per_inference"):
        values = [summary[name] for summary in by_model]
        row[f"{name}_model_low"], row[f"{name}_model_high"] = min(values), max(values)
    row["power_models"] = len(by_model)
    return row


def load_energy(profile: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / "energy.csv"
    if not path.exists():
        raise StudyError(f"{display_path(path)}: no energy results yet. Fix: python -m study bench --profile {profile} "
                         "--only energy")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def load_windows(profile: str) -> pd.DataFrame:
    return pd.read_csv(ResultsStore(profile).directory / "energy_windows.csv")


def energy_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model, runtime, precision and setting, most frugal first: the measured CPU time per inference (95% CI),
    then energy: a range across power models where modelled, mJ with a 95% CI across windows where measured."""
    ok = table[table["status"] == "ok"].copy()
    ok["precision"] = ok["variant"].str.split("-").str[-1]
    key = ["model", "runtime", "precision", "threads", "batch", "measurement"]
    cpu = ["cpu_ms_per_inference", "cpu_ms_per_inference_ci_low", "cpu_ms_per_inference_ci_high"]
    if (ok["measurement"] == "modelled").all():
        energy = ["gross_mj_per_inference_model_low", "gross_mj_per_inference_model_high",
                  "net_mj_per_inference_model_low", "net_mj_per_inference_model_high"]
    else:
        energy = ["gross_mj_per_inference", "gross_mj_per_inference_ci_low", "gross_mj_per_inference_ci_high",
                  "net_mj_per_inference", "net_mj_per_inference_ci_low", "net_mj_per_inference_ci_high",
                  "inferences_per_joule", "avg_watts"]
    return ok[key + cpu + energy + ["cpu_utilisation"]].sort_values(["model", "threads", "batch", cpu[0]]) \
        .round(4).reset_index(drop=True)


def source_statement(table: pd.DataFrame, profile: Profile) -> str:
    """One plain paragraph saying where every energy number of this profile came from."""
    energy = profile.energy
    sources = sorted(set(table["energy_source"])) if len(table) else [energy.source]
    if sources == ["model"]:
        sets = "; ".join(f"({index}) idle {pm.idle_watts} W, active {pm.active_watts} W, scope {pm.scope}, from "
                         f"{pm.source}" for index, pm in enumerate(energy.power_models, start=1))
        return (f"No energy was measured for profile '{profile.name}': this machine has no energy counter and no "
                f"meter. What is MEASURED is CPU time per inference (the latency cases' own processes, along their "
                f"timed runs). Joules are MODELLED from it with {MODEL_FORMULA}, under {len(energy.power_models)} "
                f"published coefficient set(s): {sets}. The energy is shown as the range those sets give, without "
                "a confidence interval: which coefficients fit this CPU is the uncertainty, not timing noise. With a "
                "power model, energy is latency times utilisation rescaled, so no energy-against-latency figure is "
                "drawn.")
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


