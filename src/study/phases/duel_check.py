"""Is the duel right on this machine? Two checks of ``study.phases.duel``, on one model's group of a profile.

- **A/A**: the same artifact (the group's fastest runtime's) in two workers, duelled ``aa`` times as the profile
  duels: the share of duels whose interval covers 1, and of those called equivalent.
- **Bare loops**: every contender's ratio to the reference runtime from long loops (``loop_seconds`` each, the
  contenders alternated ``loops`` times, kept loaded), a t interval over the alternations, beside the same ratio
  from a duel: a duel that switches every 50 ms must agree with loops that hardly switch.

Not a phase of the report: ``python -m study duel-check --profile P`` measures it on the machine it runs on and
writes ``results/<profile>/duel_check.json`` (every set's raw record kept in it)."""

from __future__ import annotations

import math

import numpy as np

from study.analyze.duels import judge, set_log_ratio
from study.build.convert import artifact_batch, ensure_artifact
from study.core import environment
from study.core.fsutil import write_json_atomic
from study.core.statistics import mean_t_interval
from study.measure.duel import DuelSettings, run_set
from study.measure.launcher import LocalLauncher
from study.phases.duel import RUNTIMES_DUEL, duel_spec, set_settings, settings_for
from study.plan.cases import make_case, settings as planned, timing_of
from study.plan.device import device_versions


def _cases(profile, model: str, runtimes: list[str] | None, log=print) -> list:
    threads = min(profile.resolved_threads())
    found = []
    for s in planned(profile, log=log):
        if s.model == model and s.batch == 1 and s.threads == threads and (not runtimes or s.runtime in runtimes):
            artifact = ensure_artifact(model, s.format, artifact_batch(s.format, 1), log=log)
            if artifact.ok:
                found.append(make_case(model, s.runtime, threads, 1, profile.allowed_cpus(), artifact,
                                       timing_of(profile), device_versions(profile)))
    return found


def _record(sets: list[dict], looks) -> dict:
    return {"sets": sets, "inputs": {"settings": {"looks": list(looks)}}}


def a_a(case, profile, duels: int, log=print) -> dict:
    """``duels`` A/A duels of ``case``'s artifact, each run as the profile's duels run (looks, precision, bound)."""
    import time

    settings = settings_for(profile, RUNTIMES_DUEL)
    how = set_settings(settings)
    spec = duel_spec(case)
    found = []
    for index in range(duels):
        sets, started = [], time.perf_counter()
        while len(sets) < max(settings.looks):
            began = time.perf_counter()
            sets.append(run_set(LocalLauncher(), {"first": spec, "second": spec}, how, seed=1000 * index + len(sets)))
            judged = judge(_record(sets, settings.looks), "first", "second")
            width = 100 * (math.sqrt(judged.high / judged.low) - 1) if judged.rounds >= 2 else math.inf
            if (len(sets) in settings.looks and width <= settings.precision_pct) or \
                    time.perf_counter() - started + (time.perf_counter() - began) > settings.max_seconds:
                break
        found.append({"ratio": judged.ratio, "low": judged.low, "high": judged.high, "outcome": judged.outcome,
                      "sets": judged.rounds, "covers_1": bool(judged.low <= 1 <= judged.high)})
        log(f"A/A duel {index + 1} of {duels}: {judged.sentence()}")
    return {"runtime": case.runtime, "duels": found,
            "covers_1_share": float(np.mean([d["covers_1"] for d in found])),
            "equivalent_share": float(np.mean([d["outcome"] == "equivalent" for d in found]))}


def bare_loops(cases: list, reference: str, loops: int, loop_seconds: float, log=print) -> dict:
    """Each contender's ratio to ``reference`` from long loops alternated ``loops`` times, beside one duel's."""
    specs = {c.runtime: duel_spec(c) for c in cases}
    long = run_set(LocalLauncher(), specs, DuelSettings(burst_ms=1e3 * loop_seconds, min_calls=3,
                                                        set_seconds=(loops - 0.5) * loop_seconds * len(specs)),
                   seed=7)
    found = {}
    for runtime in specs:
        if runtime == reference:
            continue
        logs = []
        for cycle in long["cycles"]:
            if not cycle.get("warm") and runtime in cycle["bursts"] and reference in cycle["bursts"]:
                one = {"cycles": [cycle]}
                logs.append(set_log_ratio(one, runtime, reference)[0])
        mean, low, high = mean_t_interval(logs)
        found[runtime] = {"loops": len(logs), "ratio": math.exp(mean), "low": math.exp(low), "high": math.exp(high)}
        log(f"bare loops: {runtime}/{reference} {math.exp(mean):.3f} [{math.exp(low):.3f}, {math.exp(high):.3f}] "
            f"over {len(logs)} alternations of {loop_seconds:g} s")
    return {"reference": reference, "loop_seconds": loop_seconds, "by_runtime": found, "record": long}


def duel_check(profile, model: str, runtimes: list[str] | None, aa: int, loops: int, loop_seconds: float,
               log=print) -> dict:
    """Both checks; the duel they are set beside is the group's own (run here once more, as the profile runs it)."""
    from study.core.store import ResultsStore

    cases = _cases(profile, model, runtimes, log=log)
    if len(cases) < 2:
        from study.core.errors import StudyError

        raise StudyError(f"{model}: fewer than two runtimes of profile {profile.name} reach it. Fix: name a model "
                         "two of its runtimes run")
    reference = next((c.runtime for c in cases if c.runtime == "litert"), cases[0].runtime)
    settings = settings_for(profile, RUNTIMES_DUEL)
    how = set_settings(settings)
    specs = {c.runtime: duel_spec(c) for c in cases}
    sets = [run_set(LocalLauncher(), specs, how, seed=s) for s in range(max(settings.looks))]
    duelled = {r: judge(_record(sets, settings.looks), r, reference) for r in specs if r != reference}
    loops_found = bare_loops(cases, reference, loops, loop_seconds, log=log)
    agreement = {}
    for runtime, judged in duelled.items():
        loop = loops_found["by_runtime"].get(runtime)
        agreement[runtime] = {"duel_ratio": judged.ratio, "duel_low": judged.low, "duel_high": judged.high,
                              "inside_loops_interval": bool(loop and loop["low"] <= judged.ratio <= loop["high"]),
                              **({f"loops_{k}": v for k, v in loop.items()} if loop else {})}
        log(f"duel: {runtime}/{reference} {judged.ratio:.3f} [{judged.low:.3f}, {judged.high:.3f}]; inside the "
            f"loops' interval: {agreement[runtime]['inside_loops_interval']}")
    reference_case = next(c for c in cases if c.runtime == reference)
    result = {"model": model, "profile": profile.name, "cpu_model": environment.cpu_model(),
              "measured_at": environment.utc_now(), "reference": reference, "agreement": agreement,
              "a_a": a_a(reference_case, profile, aa, log=log), "bare_loops": loops_found, "duel_sets": sets}
    write_json_atomic(ResultsStore(profile.name).directory / "duel_check.json", result)
    return result
