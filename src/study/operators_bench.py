"""Measuring where the time goes: each runtime's operator profiler, in a process of its own per (model, runtime)
(the engine's ``operators`` scenario), after load and warm-up like every case. Records in
``results/<profile>/operators/``; ``study.operators`` builds the tables from them."""

from __future__ import annotations

import hashlib
import json

from tqdm import tqdm

from study import environment
from study.isolate import run_isolated
from study.operators import OPERATORS_VERSION, write_operator_tables
from study.profiles import Profile
from study.results import ResultsStore


def operator_cases(profile: Profile, cases: list) -> list[tuple]:
    """(latency case, record id, inputs) for each profiled model and runtime: the profile's most threads, its
    smallest batch."""
    if profile.operators is None:
        return []
    threads, batch = max(c.threads for c in cases), min(c.batch for c in cases)
    chosen = []
    for case in cases:
        if case.model in profile.operators.models and case.threads == threads and case.batch == batch:
            inputs = {"latency_case": case.case_id, "runs": profile.operators.runs, "version": OPERATORS_VERSION}
            record_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
            chosen.append((case, record_id, inputs))
    return chosen


def bench_operators(profile: Profile, cases: list, run_id: str, force: bool = False, progress: bool = True,
                    say=tqdm.write) -> list[str]:
    store = ResultsStore(profile.name, records="operators")
    planned = operator_cases(profile, cases)
    pending = [p for p in planned if force or store.get(p[1]) is None]
    say(f"[{profile.name}] operator profiles: {len(planned)} (model, runtime) pairs, {len(pending)} to measure, "
        f"{profile.operators.runs} profiled runs each")
    for case, record_id, inputs in tqdm(pending, desc=f"{profile.name}: operators", unit="case",
                                        disable=None if progress else True):
        say(f"[{profile.name}] profiling the operators of {case.label}")
        if case.artifact.ok:
            spec = {"kind": "measure", "scenario": "operators", "trackers": [], "model": case.model,
                    "runtime": case.runtime, "artifact": str(case.artifact.path), "threads": case.threads,
                    "batch": case.batch, "cpus": list(case.cpus), "timing": case.timing,
                    "model_input": case.model_input, "runs": profile.operators.runs}
            result = run_isolated(spec, 600, threads=case.threads,
                                  log_path=store.directory / "logs" / f"operators-{record_id}.log")
        else:
            result = {"status": "failed", "error": f"no {case.artifact.format} artifact"}
        store.put({"case_id": record_id, "status": result["status"], "inputs": inputs, "error": result.get("error", ""),
                   "operators": result.get("operators"),
                   "label": {"model": case.model, "runtime": case.runtime, "threads": case.threads,
                             "batch": case.batch, "latency_case_id": case.case_id},
                   "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now()})
        if result["status"] != "ok":
            say(f"[{profile.name}]   {result.get('error')}")
    write_operator_tables(profile, [p[1] for p in planned])
    return [p[1] for p in pending]
