"""Measuring sustained load: per model, the runtime with the best p50 in the profile's latency cases runs back to
back for the profile's ``sustained.seconds`` in a process of its own (the engine's ``sustained`` scenario)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
from tqdm import tqdm

from study import environment
from study.isolate import run_isolated
from study.profiles import Profile
from study.results import ResultsStore
from study.sustained import SUSTAINED_VERSION, write_sustained_tables


def sustained_cases(profile: Profile, cases: list, latency: pd.DataFrame) -> list[tuple]:
    """(latency case, record id, inputs): per model, the fastest runtime's case at the most threads, batch 1 (or the
    smallest batch)."""
    if profile.sustained is None or latency.empty:
        return []
    by_id = {c.case_id: c for c in cases}
    ok = latency[(latency["status"] == "ok") & latency["case_id"].isin(by_id)]
    ok = ok[(ok["threads"] == ok["threads"].max()) & (ok["batch"] == ok["batch"].min())]
    chosen = []
    for model in profile.sustained.models or profile.models:
        part = ok[ok["model"] == model]
        if part.empty:
            continue
        case = by_id[part.loc[part["p50_ms"].idxmin(), "case_id"]]
        inputs = {"latency_case": case.case_id, "seconds": profile.sustained.seconds, "version": SUSTAINED_VERSION}
        chosen.append((case, hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16], inputs))
    return chosen


def bench_sustained(profile: Profile, cases: list, latency: pd.DataFrame, run_id: str, force: bool = False,
                    progress: bool = True, say=tqdm.write) -> list[str]:
    store = ResultsStore(profile.name, records="sustained")
    planned = sustained_cases(profile, cases, latency)
    pending = [p for p in planned if force or store.get(p[1]) is None]
    say(f"[{profile.name}] sustained load: {len(planned)} runs of {profile.sustained.seconds:g} s, {len(pending)} to "
        "measure")
    for case, record_id, inputs in tqdm(pending, desc=f"{profile.name}: sustained", unit="run",
                                        disable=None if progress else True):
        say(f"[{profile.name}] sustained load of {case.label} for {profile.sustained.seconds:g} s")
        spec = {"kind": "measure", "scenario": "sustained", "trackers": ["contention"], "model": case.model,
                "runtime": case.runtime, "artifact": str(case.artifact.path), "threads": case.threads,
                "batch": case.batch, "cpus": list(case.cpus), "timing": case.timing,
                "model_input": case.model_input, "seconds": profile.sustained.seconds}
        result = run_isolated(spec, 2 * profile.sustained.seconds + 300, threads=case.threads,
                              log_path=store.directory / "logs" / f"sustained-{record_id}.log")
        store.put({"case_id": record_id, "status": result["status"], "inputs": inputs, "error": result.get("error", ""),
                   "samples_ms": result.get("samples_ms"), "offsets_s": result.get("offsets_s"),
                   "steal_pct": result.get("steal_pct"), "others_pct": result.get("others_pct"),
                   "label": {"model": case.model, "runtime": case.runtime, "threads": case.threads,
                             "batch": case.batch, "latency_case_id": case.case_id},
                   "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now()})
        if result["status"] != "ok":
            say(f"[{profile.name}]   FAILED: {result.get('error')}")
    write_sustained_tables(profile, [p[1] for p in planned])
    return [p[1] for p in pending]
