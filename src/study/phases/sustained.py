"""Sustained load: per model, the runtime with the best p50 in the profile's latency cases runs back to back for the
profile's ``sustained.seconds`` in a process of its own (the engine's ``sustained`` scenario); ``sustained.csv``."""

from __future__ import annotations

import pandas as pd
from tqdm import tqdm

from study.core.ids import content_id
from study.core.store import ResultsStore, load_latency
from study.measure.sustained import SUSTAINED_VERSION, write_sustained_tables
from study.phases.base import Estimate, Phase, Run
from study.phases.side_cases import lost, measure_side, side_record
from study.plan import estimate as costs
from study.plan.profiles import Profile


def sustained_models(profile: Profile) -> list[str]:
    return list(profile.sustained.models or profile.models)


def sustained_cases(profile: Profile, cases: list, latency: pd.DataFrame) -> list[tuple]:
    """(latency case, record id, inputs): per model, the fastest runtime's case at the most threads, batch 1 (or the
    smallest batch)."""
    if profile.sustained is None or latency.empty:
        return []
    by_id = {c.case_id: c for c in cases}
    ok = latency[(latency["status"] == "ok") & latency["case_id"].isin(by_id)]
    ok = ok[(ok["threads"] == ok["threads"].max()) & (ok["batch"] == ok["batch"].min())]
    chosen = []
    for model in sustained_models(profile):
        part = ok[ok["model"] == model]
        if part.empty:
            continue
        case = by_id[part.loc[part["p50_ms"].idxmin(), "case_id"]]
        inputs = {"latency_case": case.case_id, "seconds": profile.sustained.seconds, "version": SUSTAINED_VERSION}
        chosen.append((case, content_id(inputs), inputs))
    return chosen


class Sustained(Phase):
    name = "sustained"

    def estimate(self, profile: Profile, force: bool) -> Estimate:
        done = ResultsStore(profile.name, records="sustained").cases_dir
        recorded = len(list(done.glob("*.json"))) if done.exists() else 0
        runs = len(sustained_models(profile))
        count = runs if force else max(0, runs - recorded)
        return Estimate({"sustained runs": count}, count * (costs.PROCESS_S + profile.sustained.seconds))

    def run(self, run: Run) -> list[str]:
        profile = run.profile
        cases = run.cases()
        latency = load_latency(profile.name) if run.store.latency_csv.exists() else pd.DataFrame()
        if latency.empty:
            run.log("sustained: needs the latency cases to pick the fastest runtime per model. Fix: python -m study "
                    f"bench --profile {profile.name} --only latency,sustained")
        store = ResultsStore(profile.name, records="sustained")
        planned = sustained_cases(profile, cases, latency)
        pending = [p for p in planned if run.force or store.get(p[1]) is None]
        run.log(f"sustained load: {len(planned)} runs of {profile.sustained.seconds:g} s, {len(pending)} to measure")
        for case, identifier, inputs in tqdm(pending, desc=f"{profile.name}: sustained", unit="run",
                                             disable=None if run.progress else True):
            run.log(f"sustained load of {case.label} for {profile.sustained.seconds:g} s")
            result = measure_side(run.launcher, case, "sustained", 2 * profile.sustained.seconds + 300,
                                  store.logs_dir / f"sustained-{identifier}.log", trackers=["contention"],
                                  seconds=profile.sustained.seconds)
            if lost(run, result, case.label):
                continue
            kept = {key: result.get(key) for key in ("samples_ms", "offsets_s", "steal_pct", "others_pct")}
            store.put(side_record(identifier, inputs, case, result, run.run_id, run.launcher.machine, **kept))
            if not result.ok:
                run.log(f"  FAILED: {result.error}")
        write_sustained_tables(profile, [p[1] for p in planned])
        return [p[1] for p in pending]


PHASE = Sustained()
