"""The latency cases: every (model, runtime, threads, batch) of the profile timed in its number of fresh
processes, round by round (``study.measure.cases``), beside the machine's ceilings (GEMM GFLOP/s, streaming
GB/s) and the article's naive single-call timing; written to ``latency.csv`` and ``samples.csv``."""

from __future__ import annotations

import json
import time

import pandas as pd

from study.build.convert import Artifact, artifact_batch, ensure_artifact, model_spec
from study.build.flops import model_costs
from study.core import environment, paths
from study.core.fsutil import write_json_atomic
from study.core.ids import HARNESS_VERSION
from study.core.store import ResultsStore
from study.measure.cases import measure_cases
from study.measure.launcher import Launcher, LocalLauncher, MachineJob
from study.measure.trackers import latency_columns
from study.measure.peak import BANDWIDTH_METHOD, METHOD as PEAK_METHOD
from study.phases.base import Estimate, Phase, Run
from study.phases.duel import duel
from study.plan import estimate as costs
from study.plan.device import device_versions
from study.plan.cases import make_case, settings, timing_of
from study.plan.profiles import Profile

CEILINGS = {  # what the machine can do at most, measured once per machine and thread setting
    "gemm": ("peak.json", "GEMM peak", PEAK_METHOD, "gflops"),
    "bandwidth": ("bandwidth.json", "memory bandwidth", BANDWIDTH_METHOD, "gb_per_s"),
}


def machine_ceiling(kind: str, store: ResultsStore, threads: int, cpus: tuple[int, ...], log=print,
                    launcher: Launcher | None = None, device: str | None = None) -> float | None:
    """The fp32 GEMM's GFLOP/s (``gemm``) or the streaming kernel's GB/s (``bandwidth``) with ``threads`` threads
    on ``cpus``: measured once per machine and setting in a pinned process (kept in the machine cache, shared by
    every profile and checkout), copied into the profile's results folder beside the cases it serves. ``device``:
    the device the launcher times on (its ceilings are its own, kept apart from this machine's)."""
    filename, what, method, field_name = CEILINGS[kind]
    key = f"{threads} threads on CPUs {' '.join(map(str, cpus))}, {method}" + (f", on {device}" if device else "")
    cache = paths.machine_cache_dir() / filename
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in cached:
        log(f"measuring the machine's {what} with {key}")
        launcher = launcher or LocalLauncher()
        result = launcher.run_job(MachineJob(kind, threads, tuple(cpus)), 600)
        if result["status"] != "ok":
            log(f"{what} FAILED: {result['error']}")
            return None
        cached[key] = {**result, "machine": launcher.machine,
                       "cpu_model": environment.cpu_model() if device is None else f"the CPU of {device}",
                       "measured_at": environment.utc_now()}
        write_json_atomic(cache, cached)
    path = store.directory / filename
    kept = json.loads(path.read_text()) if path.exists() else {}
    if kept.get(key) != cached[key]:
        write_json_atomic(path, {**kept, key: cached[key]})
    return cached[key][field_name]


NAIVE_RUNTIME = {"torch": "torch_eager", "keras": "tensorflow"}  # the runtime whose p50 the naive call is set beside


def naive_timings(profile: Profile, store: ResultsStore, log=print, launcher: Launcher | None = None) -> pd.DataFrame:
    """The article's single-call timing of every PyTorch and Keras model of the profile, measured once each."""
    from study.build.export import SOURCE_FORMATS

    path = store.directory / "naive.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    threads = max(profile.resolved_threads())
    for model in profile.models:
        spec, _ = model_spec(model, log=log)
        if spec is None or NAIVE_RUNTIME.get(spec.framework) not in profile.runtimes:
            continue  # the naive call is set beside its framework's steady p50: nothing to set it beside
        source = ensure_artifact(model, SOURCE_FORMATS[spec.framework], log=log)
        key = f"{model} {source.record.get('sha256')} {threads} {HARNESS_VERSION}"
        if key in {entry.get("key") for entry in done.values()} or not source.ok:
            continue
        log(f"timing one naive call of {model}, as the first article does")
        job = MachineJob("naive", threads, tuple(profile.allowed_cpus()),
                         {"model": model, "framework": spec.framework, "source": str(source.path)})
        result = (launcher or LocalLauncher()).run_job(job, 600)
        done[model] = {**result, "key": key, "model": model, "framework": spec.framework, "threads": threads,
                       "steady_runtime": NAIVE_RUNTIME[spec.framework], "measured_at": environment.utc_now()}
        write_json_atomic(path, done)
    return pd.DataFrame(list(done.values()))


class Latency(Phase):
    name = "latency"

    def estimate(self, profile: Profile, force: bool) -> Estimate:
        quiet = lambda message: None  # noqa: E731
        store, cpus, timing = ResultsStore(profile.name), profile.allowed_cpus(), timing_of(profile)
        found = Estimate()
        cases = 0
        for model, runtime, fmt, batch, threads in settings(profile, log=quiet):
            found.artifacts.add((model, fmt, artifact_batch(fmt, batch)))
            record = costs.artifact_done(model, fmt, batch)
            if record is not None and not force:
                case = make_case(model, runtime, threads, batch, cpus, Artifact(model, fmt, batch, None, record),
                                 timing, device_versions(profile))
                if store.get(case.case_id) is not None:
                    continue
            cases += 1
        found.counts["latency cases"] = cases
        found.seconds = cases * timing["processes"] * costs.latency_case_seconds(timing) \
            + (costs.NAIVE_S * len(profile.models) if cases else 0)
        # each group's duel: at most its time bound (the share it is expected to use is the estimate's, as a race's)
        groups = {(s.model, s.threads, s.batch) for s in settings(profile, log=quiet)} if cases else set()
        found.counts["duels"] = len(groups)
        found.bound_seconds = len(groups) * profile.duel_settings.max_seconds
        return found

    def run(self, run: Run) -> list[str]:
        profile, store = run.profile, run.store
        cases = run.cases()
        for kind in CEILINGS:  # kept in the results folder, where the tables read them
            for threads in sorted({c.threads for c in cases}):
                machine_ceiling(kind, store, threads, profile.allowed_cpus(), log=run.log, launcher=run.launcher,
                                device=profile.device.target if profile.device else None)
        pending = [c for c in cases if run.force or store.get(c.case_id) is None]
        run.log(f"{len(cases)} cases, {len(cases) - len(pending)} already measured, {len(pending)} to measure")
        if pending:
            run.record_run()
        flops = {model: model_costs(model) for model in sorted({c.model for c in pending})}
        ids, columns = [c.case_id for c in cases], latency_columns()
        measured = measure_cases(profile.name, store, cases, run.run_id, run.force, run.progress, run.say,
                                 after_each=lambda: store.write_tables(ids, columns), costs=flops,
                                 launcher=run.launcher, unmeasured=run.unmeasured)

        run.milestone("judging each pick in a duel")  # every group's rounds are in: a first pick can be shown
        started = time.perf_counter()
        duelled = duel(cases, store, profile, run.launcher, log=run.log, force=run.force)
        run.race_s[self.name] = round(time.perf_counter() - started, 1)
        measured += duelled
        naive_timings(profile, store, log=run.log, launcher=run.launcher)
        store.write_tables(ids, columns)
        return measured


PHASE = Latency()
