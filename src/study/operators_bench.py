"""Measuring where the time goes: each runtime's operator profiler, in a process of its own per (model, runtime)
(the engine's ``operators`` scenario), after load and warm-up like every case. Records in
``results/<profile>/operators/``; ``study.operators`` builds the tables from them."""

from __future__ import annotations

from tqdm import tqdm

from study.isolate import run_isolated
from study.operators import OPERATORS_VERSION, write_operator_tables
from study.profiles import Profile
from study.results import ResultsStore
from study.side_cases import record_id, side_record, spec_for


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
            chosen.append((case, record_id(inputs), inputs))
    return chosen


def bench_operators(profile: Profile, cases: list, run_id: str, force: bool = False, progress: bool = True,
                    say=tqdm.write) -> list[str]:
    store = ResultsStore(profile.name, records="operators")
    planned = operator_cases(profile, cases)
    pending = [p for p in planned if force or store.get(p[1]) is None]
    say(f"[{profile.name}] operator profiles: {len(planned)} (model, runtime) pairs, {len(pending)} to measure, "
        f"{profile.operators.runs} profiled runs each")
    for case, identifier, inputs in tqdm(pending, desc=f"{profile.name}: operators", unit="case",
                                         disable=None if progress else True):
        say(f"[{profile.name}] profiling the operators of {case.label}")
        if case.artifact.ok:
            spec = spec_for(case, "operators", trackers=[], runs=profile.operators.runs)
            result = run_isolated(spec, 600, threads=case.threads,
                                  log_path=store.directory / "logs" / f"operators-{identifier}.log")
        else:
            result = {"status": "failed", "error": f"no {case.artifact.format} artifact"}
        store.put(side_record(identifier, inputs, case, result, run_id, operators=result.get("operators")))
        if result["status"] != "ok":
            say(f"[{profile.name}]   {result.get('error')}")
    write_operator_tables(profile, [p[1] for p in planned])
    return [p[1] for p in pending]
