"""Where the time goes: each runtime's operator profiler, in a process of its own per (model, runtime) (the
engine's ``operators`` scenario), after load and warm-up like every case. Records in
``results/<profile>/operators/``; ``study.measure.operators`` builds ``operators.csv`` and ``operator_types.csv``."""

from __future__ import annotations

from tqdm import tqdm

from study.core.ids import content_id
from study.core.store import ResultsStore
from study.measure.operators import OPERATORS_VERSION, write_operator_tables
from study.phases.base import Estimate, Phase, Run
from study.phases.side_cases import lost, measure_side, side_record
from study.plan import estimate as costs
from study.plan.cases import settings
from study.plan.profiles import Profile


def profiled(profile: Profile, cases: list) -> list:
    """The cases (or settings) whose operators are profiled: the profile's chosen models at its most threads and
    smallest batch. The plan and the estimate both count with this rule."""
    if profile.operators is None or not cases:
        return []
    threads, batch = max(c.threads for c in cases), min(c.batch for c in cases)
    return [c for c in cases if c.model in profile.operators.models and c.threads == threads and c.batch == batch]


def operator_cases(profile: Profile, cases: list) -> list[tuple]:
    """(latency case, record id, inputs) for each profiled model and runtime."""
    chosen = []
    for case in profiled(profile, cases):
        inputs = {"latency_case": case.case_id, "runs": profile.operators.runs, "version": OPERATORS_VERSION}
        chosen.append((case, content_id(inputs), inputs))
    return chosen


class Operators(Phase):
    name = "operators"

    def estimate(self, profile: Profile, force: bool) -> Estimate:
        done = ResultsStore(profile.name, records="operators").cases_dir
        recorded = len(list(done.glob("*.json"))) if done.exists() else 0
        pairs = len(profiled(profile, list(settings(profile, log=lambda message: None))))
        count = pairs if force else max(0, pairs - recorded)
        return Estimate({"operator profiles": count}, count * costs.OPERATOR_PROFILE_S)

    def run(self, run: Run) -> list[str]:
        profile = run.profile
        store = ResultsStore(profile.name, records="operators")
        planned = operator_cases(profile, run.cases())
        pending = [p for p in planned if run.force or store.get(p[1]) is None]
        run.log(f"operator profiles: {len(planned)} (model, runtime) pairs, {len(pending)} to measure, "
                f"{profile.operators.runs} profiled runs each")
        for case, identifier, inputs in tqdm(pending, desc=f"{profile.name}: operators", unit="case",
                                             disable=None if run.progress else True):
            run.log(f"profiling the operators of {case.label}")
            result = measure_side(run.launcher, case, "operators", 600,
                                  store.logs_dir / f"operators-{identifier}.log", trackers=[],
                                  runs=profile.operators.runs)
            if lost(run, result, case.label):
                continue
            store.put(side_record(identifier, inputs, case, result, run.run_id, run.launcher.machine,
                                  operators=result.get("operators")))
            if not result.ok:
                run.log(f"  {result.error}")
        write_operator_tables(profile, [p[1] for p in planned])
        return [p[1] for p in pending]


PHASE = Operators()
