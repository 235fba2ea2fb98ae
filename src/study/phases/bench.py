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
from study.core.locks import measuring
from study.core.registry import resolve
from study.core.store import ResultsStore, load_latency
from study.measure.importer import imported
from study.measure.launcher import Launcher, LocalLauncher
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


def phases_for(profile: Profile, only=None, say=print, measured: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The phases to run: those asked for that the profile configures, and those they need (unless ``measured``
    already in the same report)."""
    chosen = []
    for name in parse_phases(only):
        if not configured(profile, name):
            section = PHASES[name].section
            where = section if section in type(profile).model_fields else f"phases: {section}"
            say(f"[{profile.name}] {name}: not measured for this profile (it has no {where} section)")
        else:
            chosen.append(name)
    for name in list(chosen):
        for needed in phase(name).needs(profile):
            if needed not in chosen and needed not in measured:
                say(f"[{profile.name}] {name} needs the {needed} phase: measuring that too")
                chosen.append(needed)
    return tuple(p for p in PHASES if p in chosen)


def estimate(profile: Profile, phases: tuple[str, ...], force: bool = False) -> costs.Plan:
    """What the run will do and about how long: each phase's count, and the conversions all of them need. Each
    phase's seconds come from the constants of ``study.plan.estimate``, scaled by how the same phase's last run on
    this CPU compared with its own estimate (the run records), so a second run on a machine is estimated from it."""
    counts = {"conversions": 0}
    model_phases: dict[str, float] = {}
    model_conversions: dict[str, float] = {}  # the share of each phase's constants that is conversions
    bounds: dict[str, float] = {}
    on_disk: dict[str, int] = {}
    claimed: set[tuple] = set()
    per_conversion = costs.CONVERSION_S / max(1, os.cpu_count() or 1)
    for name in phases:  # in run order: a conversion is the work of the first phase that needs it
        part: Estimate = phase(name).estimate(profile, force)
        counts.update(part.counts)
        if part.bound_seconds:
            bounds[name] = part.bound_seconds
        pending, found = 0, 0
        for model, fmt, batch in part.artifacts:
            spec, _ = model_spec(model, log=lambda message: None)
            if spec is None or not FORMATS[fmt].exporter_for(spec.framework):
                continue
            if costs.artifact_done(model, fmt, batch or 1) is not None:
                found += 1  # checked, not made: the phase's set-up
            elif (model, fmt, batch) not in claimed:
                pending += 1
        claimed |= part.artifacts
        on_disk[name] = found
        counts["conversions"] += pending
        model_conversions[name] = pending * per_conversion
        model_phases[name] = part.seconds + pending * per_conversion
    runs, cpu = ResultsStore(profile.name).runs(), environment.cpu_id()
    calibrated = {name: costs.calibrated(runs, name, seconds, cpu, model_conversions[name], on_disk[name])
                  for name, seconds in model_phases.items()}
    races = {name: costs.expected_race(runs, name, bound, cpu) for name, bound in bounds.items()}
    per_phase = {name: round(value + races.get(name, (0.0, ""))[0], 3) for name, (value, _) in calibrated.items()}
    sources = {name: source for name, (_, source) in calibrated.items()}
    sources.update({f"{name} race": source for name, (_, source) in races.items()})
    expected = sum(seconds for seconds, _ in races.values())
    return costs.Plan(counts, sum(per_phase.values()), sum(bounds.values()) - expected, per_phase,
                      model_phases={name: round(value, 1) for name, value in model_phases.items()}, sources=sources,
                      bounds={name: round(value, 1) for name, value in bounds.items()},
                      races={name: round(value, 1) for name, (value, _) in races.items()},
                      conversions={name: round(value, 1) for name, value in model_conversions.items()},
                      on_disk=on_disk, unrecorded=costs.unrecorded(runs, phases, cpu))


def answer_first(phases: tuple[str, ...]) -> tuple[str, ...]:
    """The same phases with latency first: the picks need only it (it converts what it times on demand), so a
    report can show them before the conversion matrix and the other phases are done."""
    return tuple(sorted(phases, key=lambda name: name != "latency"))


def bench(profile_ref, force: bool = False, progress: bool = True, only=None, latency_first: bool = False,
          on_phase=None, skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """Measure what is missing in the chosen phases (all with ``force``); the latency table, if there is one.

    ``force`` re-measures; it does not re-convert, since artifacts are already keyed by their inputs
    (``python -m study convert --force`` redoes conversions). ``latency_first`` runs the latency phase before the
    others (``answer_first``); ``skip`` leaves out phases already measured in the same report (a report measures
    every profile's latency first, then the rest: energy's need of latency must not measure it twice);
    ``on_phase(profile, name, left)`` is called as each phase lands, with the estimate in seconds of each phase of
    this call still to run."""
    profile = load_profile(profile_ref)
    store = ResultsStore(profile.name)
    say = tqdm.write
    origin = imported(profile.name)
    if origin:  # measured on another machine and imported: this machine must not add its own numbers
        say(f"[{profile.name}] imported from {origin['machine']} ({origin['cpu_model']}): nothing measured here")
        return load_latency(profile.name)
    phases = tuple(name for name in phases_for(profile, only, say=say, measured=skip) if name not in skip)
    if latency_first:
        phases = answer_first(phases)
    launcher, device = launcher_for(profile, say), None
    if profile.device is not None:  # its CPUs and runtimes' versions name the cases: asked first
        from study.measure.devices.setup import describe

        device = describe(profile, launcher, say)
    for name in phases:
        phase(name).check(profile)
    keep_with_results(profile)  # only once the profile can be measured: a refused run leaves no folder
    planned = estimate(profile, phases, force)
    say(f"[{profile.name}] plan: {planned.describe()}")
    calibrated = [f"{name} from {source}" for name, source in planned.sources.items()
                  if not source.startswith("constants")]
    if calibrated:
        say(f"[{profile.name}] estimate calibrated on this machine's earlier runs: {'; '.join(calibrated)}")
    record = {"phases": {}, "plan": planned.counts, "estimate_s": planned.seconds,
              "bound_s": planned.bound_seconds, "estimate_phases": planned.phases,
              "estimate_model_phases": planned.model_phases, "estimate_sources": planned.sources,
              "estimate_bounds": planned.bounds, "estimate_races": planned.races,
              "estimate_model_conversions": planned.conversions, "estimate_on_disk": planned.on_disk,
              "started_at": environment.utc_now(), "only": list(phases)}

    run_id = new_run_id()

    def record_run(describes_results: bool = True) -> None:
        machine = environment.collect(profile.name, profile.content_hash)
        store.write_run(run_id, {**machine, "timed_on": device} if device else machine,
                        run.measured, {**record, "measured_s": sum(record["phases"].values()),
                                       "race_s": run.race_s, "conversion_s": run.conversion_s,
                                       "unmeasured": run.unmeasured},
                        describes_results=describes_results)

    run = Run(profile, store, run_id, force=force, progress=progress, say=say, record_run=record_run,
              launcher=launcher)
    try:
        with measuring(launcher_target(profile), profile.name, say=say):
            record["timing_from"] = environment.utc_now()  # the lock is ours: nothing else times there now
            _run_phases(run, phases, planned, record, on_phase)
    finally:
        launcher.close()
    record["finished_at"] = environment.utc_now()
    # A run that did work leaves a record, so the next run's estimate can be read from this one's phase times: one that
    # measured, converted, or was asked to redo everything (FORCE=1, whose convert and energy phases measure nothing but
    # still take their set-up), or ran a phase this machine has no record of yet (a first report's convert phase of a
    # profile whose artifacts another profile made: only its set-up, which its next run is estimated from). A run with
    # nothing to do leaves none: `make report` again would pile up empty records.
    measured, first = bool(run.measured or run.unmeasured), not store.environment_json.exists()
    if measured or first or force or any(run.conversion_s.values()) or planned.unrecorded:
        record_run(describes_results=measured or first)
    if run.unmeasured:
        say(f"[{profile.name}] {len(run.unmeasured)} process(es) not measured (the device could not run them): "
            f"run the same command again to measure them")
    table = load_latency(profile.name) if store.latency_csv.exists() else pd.DataFrame()
    table.attrs["unmeasured"] = len(run.unmeasured)
    return table


def launcher_for(profile: Profile, say=print) -> Launcher:
    """Where the profile's cases run: this machine, or its device over the device's transport."""
    if profile.device is None:
        return LocalLauncher()
    from study.measure.devices.launcher import DeviceLauncher

    return DeviceLauncher(profile, say=say)


def launcher_target(profile: Profile) -> str:
    """What a run of the profile times on, for the lock that keeps two runs from timing there at once."""
    return profile.device.target if profile.device is not None else "this machine"


def _seconds(value: float) -> str:
    """A phase's seconds as the log says them: whole seconds, but a phase that only checks the disk in hundredths."""
    return f"{value:.0f} s" if value >= 10 else f"{value:.2f} s"


def _run_phases(run: Run, phases: tuple[str, ...], planned, record: dict, on_phase) -> None:
    profile = run.profile
    for name in phases:
        if on_phase is not None:
            later = {other: planned.phases.get(other, 0.0) for other in phases[phases.index(name) + 1:]}
            run.milestone = lambda still, name=name, later=later: on_phase(
                profile.name, name, {f"{name} ({still})": 0.0, **later})
        started, run.phase = time.perf_counter(), name
        run.measured += phase(name).run(run)
        # in ms: a phase that only checks what is on disk takes a fraction of a second, and its estimate is judged too
        record["phases"][name] = round(time.perf_counter() - started, 3)
        run.log(f"{name}: {_seconds(record['phases'][name])} (estimated {_seconds(planned.phases.get(name, 0))})")
        if on_phase is not None:
            left = {later: planned.phases.get(later, 0.0) for later in phases[phases.index(name) + 1:]}
            on_phase(profile.name, name, left)


__all__ = ["OPTIONAL", "PHASES", "answer_first", "bench", "estimate", "launcher_for", "parse_phases", "phases_for"]
