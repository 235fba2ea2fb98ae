"""Measure a profile, phase by phase (any subset with ``only``): the phases of ``study.phases``, in their order.

Every timed thing is a case measured in a fresh process by the one engine; a case whose record exists is not
measured again unless ``force``. Records are written one by one as cases finish and the tables are rebuilt after
each, so an interrupted run resumes where it stopped. Before measuring, the plan is printed with an estimate of
its duration; the run record keeps it beside how long each phase took.
"""

from __future__ import annotations

import os
import time

import pandas as pd
from tqdm import tqdm

from study.build.convert import model_spec
from study.build.export import FORMATS
from study.core import environment
from study.core.errors import StudyError
from study.core.registry import resolve
from study.core.store import ResultsStore, load_latency
from study.measure.importer import imported
from study.phases import OPTIONAL, PHASES, configured
from study.phases.base import Estimate, Phase, Run
from study.plan import estimate as costs
from study.plan.cases import new_run_id
from study.plan.profiles import Profile, keep_with_results, load_profile


def phase(name: str) -> Phase:
    """The implementation of a registered phase."""
    return resolve(PHASES[name].implementation)


def parse_phases(only: str | list | tuple | None) -> tuple[str, ...]:
    """``convert,latency`` or a list of phase names; every phase when empty. One clear error for a typo."""
    if not only:
        return tuple(PHASES)
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    unknown = [n for n in names if n not in PHASES]
    if unknown or not names:
        raise StudyError(f"--only: unknown phase {', '.join(map(repr, unknown)) or 'none given'}. Fix: name one or "
                         f"more of {','.join(PHASES)}, separated by commas")
    return tuple(p for p in PHASES if p in names)


def phases_for(profile: Profile, only=None, say=print) -> tuple[str, ...]:
    """The phases to run: those asked for that the profile configures, and those they need."""
    chosen = []
    for name in parse_phases(only):
        if not configured(profile, name):
            say(f"[{profile.name}] {name}: not measured for this profile (it has no {PHASES[name].section} section)")
        else:
            chosen.append(name)
    for name in list(chosen):
        for needed in phase(name).needs(profile):
            if needed not in chosen:
                say(f"[{profile.name}] {name} needs the {needed} phase: measuring that too")
                chosen.append(needed)
    return tuple(p for p in PHASES if p in chosen)


def estimate(profile: Profile, phases: tuple[str, ...], force: bool = False) -> costs.Plan:
    """What the run will do and about how long: each phase's count, and the conversions all of them need."""
    counts = {"conversions": 0}
    seconds = bound = 0.0
    artifacts: set[tuple] = set()
    for name in phases:
        part: Estimate = phase(name).estimate(profile, force)
        counts.update(part.counts)
        seconds += part.seconds
        bound += part.bound_seconds
        artifacts |= part.artifacts
    for model, fmt, batch in artifacts:
        spec, _ = model_spec(model, log=lambda message: None)
        if spec is not None and FORMATS[fmt].exporter_for(spec.framework) \
                and costs.artifact_done(model, fmt, batch or 1) is None:
            counts["conversions"] += 1
    seconds += counts["conversions"] * costs.CONVERSION_S / max(1, os.cpu_count() or 1)
    return costs.Plan(counts, seconds, bound)


def bench(profile_ref, force: bool = False, progress: bool = True, only=None) -> pd.DataFrame:
    """Measure what is missing in the chosen phases (all with ``force``); the latency table, if there is one.

    ``force`` re-measures; it does not re-convert, since artifacts are already keyed by their inputs
    (``python -m study convert --force`` redoes conversions)."""
    profile = load_profile(profile_ref)
    store = ResultsStore(profile.name)
    say = tqdm.write
    origin = imported(profile.name)
    if origin:  # measured on another machine and imported: this machine must not add its own numbers
        say(f"[{profile.name}] imported from {origin['machine']} ({origin['cpu_model']}): nothing measured here")
        return load_latency(profile.name)
    phases = phases_for(profile, only, say=say)
    for name in phases:
        phase(name).check(profile)
    keep_with_results(profile)  # only once the profile can be measured: a refused run leaves no folder
    planned = estimate(profile, phases, force)
    say(f"[{profile.name}] plan: {planned.describe()}")
    record = {"phases": {}, "plan": planned.counts, "estimate_s": planned.seconds,
              "bound_s": planned.bound_seconds, "started_at": environment.utc_now(), "only": list(phases)}

    run_id = new_run_id()

    def record_run() -> None:
        store.write_run(run_id, environment.collect(profile.name, profile.content_hash),
                        run.measured, {**record, "measured_s": sum(record["phases"].values())})

    run = Run(profile, store, run_id, force=force, progress=progress, say=say, record_run=record_run)

    for name in phases:
        started = time.perf_counter()
        run.measured += phase(name).run(run)
        record["phases"][name] = round(time.perf_counter() - started, 1)
        run.log(f"{name}: {record['phases'][name]:.0f} s")
    record["finished_at"] = environment.utc_now()
    if run.measured or not store.environment_json.exists():
        record_run()
    return load_latency(profile.name) if store.latency_csv.exists() else pd.DataFrame()


__all__ = ["OPTIONAL", "PHASES", "bench", "estimate", "parse_phases", "phases_for"]
