"""Measuring sustained load: per model, the runtime with the best p50 in the profile's latency cases runs back to
back for the profile's ``sustained.seconds`` in a process of its own (the engine's ``sustained`` scenario)."""

from __future__ import annotations

import pandas as pd
from tqdm import tqdm

from study.isolate import run_isolated
from study.profiles import Profile
from study.results import ResultsStore
from study.side_cases import record_id, side_record, spec_for
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
        chosen.append((case, record_id(inputs), inputs))
    return chosen


def bench_sustained(profile: Profile, cases: list, latency: pd.DataFrame, run_id: str, force: bool = False,
                    progress: bool = True, say=tqdm.write) -> list[str]:
    store = ResultsStore(profile.name, records="sustained")
    planned = sustained_cases(profile, cases, latency)
    pending = [p for p in planned if force or store.get(p[1]) is None]
    say(f"[{profile.name}] sustained load: {len(planned)} runs of {profile.sustained.seconds:g} s, {len(pending)} to "
        "measure")
    for case, identifier, inputs in tqdm(pending, desc=f"{profile.name}: sustained", unit="run",
                                         disable=None if progress else True):
        say(f"[{profile.name}] sustained load of {case.label} for {profile.sustained.seconds:g} s")
        spec = spec_for(case, "sustained", trackers=["contention"], seconds=profile.sustained.seconds)
        result = run_isolated(spec, 2 * profile.sustained.seconds + 300, threads=case.threads,
                              log_path=store.directory / "logs" / f"sustained-{identifier}.log")
        kept = {key: result.get(key) for key in ("samples_ms", "offsets_s", "steal_pct", "others_pct")}
        store.put(side_record(identifier, inputs, case, result, run_id, **kept))
        if result["status"] != "ok":
            say(f"[{profile.name}]   FAILED: {result.get('error')}")
    write_sustained_tables(profile, [p[1] for p in planned])
    return [p[1] for p in pending]
