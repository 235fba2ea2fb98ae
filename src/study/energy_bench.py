"""Energy per inference of every case of a profile: one subprocess per case, after its latency.

Each case's process loads the artifact, warms up, then measures an idle window and repeated active
windows (``study.energy.measure_windows``); its raw windows are the record (``results/<p>/energy/``).
Joules are computed from the records when the tables are written, so a corrected power model or a
meter CSV that arrives later never needs anything measured again.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
from tqdm import tqdm

from study import environment
from study.energy import MODEL_FORMULA, read_meter_csv, summarize_windows
from study.errors import StudyError
from study.fsutil import write_text_atomic
from study.isolate import run_isolated
from study.profiles import Profile
from study.results import ResultsStore, _display, _to_csv

ENERGY_VERSION = 1  # bump when the windowing changes: every energy case is measured again

ENERGY_COLUMNS: dict[str, str] = {
    "profile": "device profile",
    "case_id": "hash of every input of the energy measurement (the latency case's inputs, the window settings)",
    "latency_case_id": "the same setting's row in latency.csv",
    "model": "model name",
    "variant": "format and precision of the artifact",
    "runtime": "inference runtime",
    "threads": "intra-op threads",
    "cpus": "CPU ids the case process was pinned to",
    "batch": "inputs per inference call",
    "status": "ok, or failed (see error)",
    "error": "first line of the error of a failed case",
    "energy_source": "rapl (powercap counters), meter (external meter CSV) or model (the profile's power model)",
    "measurement": "measured (rapl, meter) or modelled (model): never pooled in one statistic",
    "windows": "active windows measured (plus one idle window of the same length)",
    "window_seconds": "minimum length of each window (s)",
    "inferences": "inputs processed over all active windows",
    "ms_per_call": "mean wall time per call during the active windows (ms)",
    "cpu_utilisation": "process CPU time / (wall time x CPUs the power model counts), mean over active windows",
    "avg_watts": "mean power over the active windows (W)",
    "avg_watts_ci_low": "lower bound of the 95% t-interval of avg_watts across windows (W)",
    "avg_watts_ci_high": "upper bound of the 95% t-interval of avg_watts across windows (W)",
    "idle_watts": "power in the idle window (W)",
    "gross_mj_per_inference": "energy of the active window per input, mean across windows (mJ)",
    "gross_mj_per_inference_ci_low": "lower bound of its 95% t-interval across windows (mJ)",
    "gross_mj_per_inference_ci_high": "upper bound of its 95% t-interval across windows (mJ)",
    "net_mj_per_inference": "(active energy - idle power x active time) per input: what inference adds (mJ)",
    "net_mj_per_inference_ci_low": "lower bound of its 95% t-interval across windows (mJ)",
    "net_mj_per_inference_ci_high": "upper bound of its 95% t-interval across windows (mJ)",
    "inferences_per_joule": "inputs per joule of gross energy, mean across windows",
    "inferences_per_joule_ci_low": "lower bound of its 95% t-interval across windows",
    "inferences_per_joule_ci_high": "upper bound of its 95% t-interval across windows",
    "power_model": "the formula and cited source of a modelled number; empty when measured",
    "machine": "host name of the machine that measured the case",
    "run_id": "the run that measured the case",
    "measured_at": "UTC time the case finished (ISO 8601)",
}
WINDOW_COLUMNS: dict[str, str] = {
    "case_id": "the energy case, as in energy.csv",
    "phase": "idle or active",
    "index": "window number within the case (0 is the idle window)",
    "calls": "inference calls completed in the window",
    "wall_s": "window length (s)",
    "cpu_s": "process CPU time in the window, all threads (s)",
    "start_epoch": "window start, host clock (Unix epoch s): cut a meter's log here",
    "end_epoch": "window end, host clock (Unix epoch s)",
    "rapl_j": "joules between the RAPL readings at the window's bounds (rapl source only)",
    "joules": "the window's energy from the profile's source (J)",
}


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


def measure_energy_case(profile: Profile, case, log_path) -> dict:
    if not case.artifact.ok:
        return {"status": "failed", "error": f"no {case.artifact.format} artifact: "
                                             f"conversion failed: {case.artifact.record.get('error')}"}
    spec = {"kind": "energy", "model": case.model, "runtime": case.runtime, "artifact": str(case.artifact.path),
            "threads": case.threads, "batch": case.batch, "cpus": list(case.cpus), "timing": case.timing,
            "energy": {**profile.energy.settings(), "rapl_root": profile.energy.rapl_root}}
    budget = (profile.energy.windows + 1) * profile.energy.window_seconds + case.timing["max_seconds"]
    return run_isolated(spec, 2 * budget + 300, threads=case.threads, log_path=log_path)


def bench_energy(profile: Profile, cases: list, run_id: str, force: bool = False, progress: bool = True,
                 say=tqdm.write) -> list[str]:
    """Measure the energy of every planned case not measured yet, rewriting energy.csv after each; their ids."""
    store = ResultsStore(profile.name, records="energy")
    planned = energy_cases(profile, cases)
    pending = [p for p in planned if force or store.get(p[1]) is None]
    label = f"{profile.energy.source} ({profile.energy.measurement})"
    say(f"[{profile.name}] energy, source {label}: {len(planned)} cases, {len(pending)} to measure, "
        f"{profile.energy.windows} x {profile.energy.window_seconds:g} s windows + 1 idle each")
    for case, case_id, inputs in tqdm(pending, desc=f"{profile.name}: energy", unit="case",
                                      disable=None if progress else True):
        say(f"[{profile.name}] energy of {case.label}")
        result = measure_energy_case(profile, case, store.directory / "logs" / f"energy-{case_id}.log")
        store.put({"case_id": case_id, "status": result["status"], "inputs": inputs,
                   "latency_case_id": case.case_id, "error": result.get("error", ""),
                   "windows": result.get("windows"), "warmup_ms": result.get("warmup_ms"),
                   "label": {"model": case.model, "variant": f"{case.artifact.format}-{case.artifact.precision}",
                             "runtime": case.runtime, "threads": case.threads, "batch": case.batch,
                             "cpus": " ".join(map(str, case.cpus))},
                   "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now()})
        table = write_energy_tables(profile, [p[1] for p in planned])
        row = table[table["case_id"] == case_id].iloc[0]
        if row["status"] == "ok":
            say(f"[{profile.name}]   {row['gross_mj_per_inference']:.3f} mJ/inference gross, "
                f"{row['net_mj_per_inference']:.3f} net, {row['avg_watts']:.2f} W ({row['measurement']})")
        else:
            say(f"[{profile.name}]   FAILED: {row['error']}")
    write_energy_tables(profile, [p[1] for p in planned])
    return [p[1] for p in pending]


def _meter(profile: Profile):
    if profile.energy.source != "meter":
        return None, ""
    try:
        return read_meter_csv(profile.energy.meter_csv), ""
    except StudyError as problem:
        return None, str(problem)


def write_energy_tables(profile: Profile, case_ids: list[str]) -> pd.DataFrame:
    """energy.csv (one row per case) and energy_windows.csv (every raw window), rebuilt from the records."""
    store = ResultsStore(profile.name, records="energy")
    energy = profile.energy
    power_model = vars(energy.power_model)
    meter, meter_error = _meter(profile)
    modelled = f"{MODEL_FORMULA}; idle_W={energy.power_model.idle_watts}, active_W=" \
               f"{energy.power_model.active_watts}, scope {energy.power_model.scope}; {energy.power_model.source}"
    rows, window_rows = [], []
    for record in store.records(case_ids):
        row = {"profile": profile.name, "case_id": record["case_id"], "latency_case_id": record["latency_case_id"],
               **record["label"], "status": record["status"], "error": record.get("error", ""),
               "energy_source": energy.source, "measurement": energy.measurement, "windows": energy.windows,
               "window_seconds": energy.window_seconds,
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
    write_text_atomic(store.directory / "energy.csv", _to_csv(table))
    write_text_atomic(store.directory / "energy_windows.csv",
                      _to_csv(pd.DataFrame(window_rows, columns=list(WINDOW_COLUMNS))))
    return table


def load_energy(profile: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / "energy.csv"
    if not path.exists():
        raise StudyError(f"{_display(path)}: no energy results yet. Fix: python -m study bench --profile {profile}")
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
                f"(idle {pm.idle_watts} W, active {pm.active_watts} W, scope {pm.scope}) applied to the CPU time each "
                f"case's process used in its windows. Formula: {MODEL_FORMULA}. Source of the power model: {pm.source}")
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
