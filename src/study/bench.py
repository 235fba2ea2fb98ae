"""Measure a profile, phase by phase: convert, latency, energy, quantization (any subset with ``only``).

Every timed thing is a ``Case`` measured in a fresh subprocess by the one engine (``study.engine``). A
case's id hashes everything that determines its measurement; a case whose record exists is not measured
again unless ``force``. Records are written one by one as cases finish and the tables are rebuilt after
each, so an interrupted run resumes where it stopped. Before measuring, the plan is printed with an
estimate of its duration; the run record keeps how long each phase took.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from tqdm import tqdm

from study import environment, estimate, paths
from study.convert import Artifact, artifact_batch, conversion_matrix, ensure_artifact, model_spec, not_applicable
from study.errors import StudyError
from study.flops import model_costs
from study.fsutil import write_json_atomic
from study.importer import imported
from study.isolate import run_isolated
from study.measure import HARNESS_VERSION, contended, summarize
from study.peak import BANDWIDTH_METHOD, METHOD as PEAK_METHOD
from study.profiles import Profile, keep_with_results, load_profile
from study.results import ResultsStore, load_latency
from study.runtimes import RUNTIMES

PHASES = ("convert", "latency", "energy", "operators", "sustained", "quantization")
OPTIONAL = ("energy", "operators", "sustained", "quantization")  # measured only where the profile has the section
# Generous: a case is bounded by its timing budget; this only catches a hung runtime.
CASE_TIMEOUT_PADDING_S = 300


@dataclass(frozen=True)
class Case:
    model: str
    runtime: str
    threads: int
    batch: int
    cpus: tuple[int, ...]
    artifact: Artifact
    timing: dict
    runtime_version: str
    inputs: dict = field(hash=False)
    case_id: str = ""
    precision: str = ""                   # the artifact format's own, unless a quantized variant says otherwise
    scheme: str = ""                      # quantization scheme of a quantization-study variant
    dataset: str = ""                     # the data a quantization-study variant was trained on (its input shape)
    model_input: dict | None = field(default=None, hash=False)  # framework and shape, for a model not in the zoo

    @property
    def label(self) -> str:
        what = f"{self.model} {self.scheme}" if self.scheme else self.model
        return f"{what} / {self.runtime} / {self.threads}t / batch {self.batch}"

    @property
    def variant(self) -> str:
        return f"{self.artifact.format}-{self.scheme or self.precision or self.artifact.precision}"


def runtime_version(runtime: str) -> str:
    found = environment.versions(RUNTIMES[runtime].packages)
    return " ".join(f"{name}=={version}" for name, version in found.items())


def timing_of(profile: Profile) -> dict:
    return {key: getattr(profile.timing, key) for key in
            ("warmup_runs", "warmup_seconds", "min_runs", "min_seconds", "max_seconds", "target_ci", "processes")}


def make_case(model: str, runtime: str, threads: int, batch: int, cpus: tuple[int, ...], artifact: Artifact,
              timing: dict, **extra) -> Case:
    """A case whose id hashes every input that determines its measurement."""
    version = runtime_version(runtime)
    inputs = {"model": model, "runtime": runtime, "runtime_version": version, "threads": threads, "batch": batch,
              "cpus": list(cpus), "timing": timing, "harness": HARNESS_VERSION,
              "artifact": artifact.record.get("sha256") or f"unavailable:{artifact.record.get('inputs_key')}"}
    for key in ("scheme", "dataset"):
        if extra.get(key):
            inputs[key] = extra[key]
    case_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return Case(model, runtime, threads, batch, cpus, artifact, timing, version, inputs, case_id, **extra)


def settings(profile: Profile, log=print):
    """(model, runtime, format, batch, threads) of every latency case, without converting anything."""
    for model in profile.models:
        spec = model_spec(model, log=log)[0]
        if spec is None:
            continue  # it failed to load: the conversion matrix records why
        for runtime in profile.runtimes:
            fmt = RUNTIMES[runtime].artifact_format
            if not_applicable(model, fmt):
                continue  # e.g. PyTorch eager for a Keras model: not a case, not a failure
            for batch in profile.batch_sizes:
                if batch != 1 and spec.runs_at_batch_one_only:
                    continue  # its graph or its inputs fix batch 1: not a case, not a failure
                for threads in profile.resolved_threads():
                    yield model, runtime, fmt, batch, threads


def plan(profile: Profile, log=print) -> list[Case]:
    """Every latency case of the profile, converting the artifacts they need first (each once)."""
    cpus, timing = profile.allowed_cpus(), timing_of(profile)
    artifacts: dict[tuple, Artifact] = {}
    cases = []
    for model, runtime, fmt, batch, threads in settings(profile, log=log):
        key = (model, fmt, artifact_batch(fmt, batch))
        if key not in artifacts:
            artifacts[key] = ensure_artifact(model, fmt, batch, log=log)
        cases.append(make_case(model, runtime, threads, batch, cpus, artifacts[key], timing))
    return cases


CEILINGS = {  # what the machine can do at most, measured once per machine and thread setting
    "gemm": ("peak.json", "GEMM peak", PEAK_METHOD, "gflops"),
    "bandwidth": ("bandwidth.json", "memory bandwidth", BANDWIDTH_METHOD, "gb_per_s"),
}


def machine_ceiling(kind: str, store: ResultsStore, threads: int, cpus: tuple[int, ...], log=print) -> float | None:
    """The fp32 GEMM's GFLOP/s (``gemm``) or the streaming kernel's GB/s (``bandwidth``) with ``threads`` threads
    on ``cpus``: measured once per machine and setting in a pinned process (kept in the machine cache, shared by
    every profile and checkout), copied into the profile's results folder beside the cases it serves."""
    filename, what, method, field_name = CEILINGS[kind]
    key = f"{threads} threads on CPUs {' '.join(map(str, cpus))}, {method}"
    cache = paths.machine_cache_dir() / filename
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in cached:
        log(f"measuring the machine's {what} with {key}")
        result = run_isolated({"kind": kind, "cpus": list(cpus), "threads": threads}, 600, threads=threads)
        if result["status"] != "ok":
            log(f"{what} FAILED: {result['error']}")
            return None
        cached[key] = {**result, "machine": environment.machine_name(), "cpu_model": environment.cpu_model(),
                       "measured_at": environment.utc_now()}
        write_json_atomic(cache, cached)
    path = store.directory / filename
    kept = json.loads(path.read_text()) if path.exists() else {}
    if kept.get(key) != cached[key]:
        write_json_atomic(path, {**kept, key: cached[key]})
    return cached[key][field_name]


NAIVE_RUNTIME = {"torch": "torch_eager", "keras": "tensorflow"}  # the runtime whose p50 the naive call is set beside


def naive_timings(profile: Profile, store: ResultsStore, log=print) -> pd.DataFrame:
    """The article's single-call timing of every PyTorch and Keras model of the profile, measured once each."""
    from study.export import SOURCE_FORMATS

    path = store.directory / "naive.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    threads = max(profile.resolved_threads())
    for model in profile.models:
        spec, _ = model_spec(model, log=log)
        if spec is None or spec.framework not in NAIVE_RUNTIME:
            continue
        source = ensure_artifact(model, SOURCE_FORMATS[spec.framework], log=log)
        key = f"{model} {source.record.get('sha256')} {threads} {HARNESS_VERSION}"
        if key in {entry.get("key") for entry in done.values()} or not source.ok:
            continue
        log(f"timing one naive call of {model}, as the first article does")
        result = run_isolated({"kind": "naive", "model": model, "framework": spec.framework, "threads": threads,
                               "source": str(source.path), "cpus": list(profile.allowed_cpus())}, 600,
                              threads=threads)
        done[model] = {**result, "key": key, "model": model, "framework": spec.framework, "threads": threads,
                       "steady_runtime": NAIVE_RUNTIME[spec.framework], "measured_at": environment.utc_now()}
        write_json_atomic(path, done)
    return pd.DataFrame(list(done.values()))


def pooled(replicates: list[dict]) -> dict:
    """One case's result from its processes: samples pooled (and kept per process for the CI), cold-start times
    as the median process's, memory and contention as the worst process's (a flag in any process flags the case)."""
    ok = [r for r in replicates if r.get("status") == "ok"]
    failed = [r for r in replicates if r.get("status") != "ok"]
    if failed or not ok:
        return {"status": "failed", "error": (failed or [{}])[0].get("error", "no process finished")}

    def values(key):
        return [r[key] for r in ok if r.get(key) is not None]

    def median(key):
        found = values(key)
        return float(np.median(found)) if found else None

    def worst(key):
        found = values(key)
        return max(found) if found else None

    result = {"status": "ok", "processes": [r["samples_ms"] for r in ok],
              "samples_ms": [v for r in ok for v in r["samples_ms"]],
              "warmup_ms": [v for r in ok for v in r.get("warmup_ms") or []],
              "native_libs": ok[0].get("native_libs"), "native_lib_mib": ok[0].get("native_lib_mib")}
    for key in ("import_ms", "load_ms", "first_ms", "harness_overhead_ms", "involuntary_switches_per_s"):
        result[key] = median(key)
    for key in ("rss_import_mib", "rss_load_mib", "rss_peak_mib", "steal_pct", "others_pct", "loadavg_1m"):
        result[key] = worst(key)
    flags = [contended(r.get("steal_pct"), r.get("others_pct")) for r in ok]
    result["contended"] = None if all(f is None for f in flags) else any(bool(f) for f in flags)
    return result


def latency_row(profile: str, case: Case, result: dict, run_id: str, costs: dict | None = None) -> dict:
    """One row of latency.csv (or of the quantized variants' table: the same columns), from ``pooled``."""
    row = {
        "profile": profile, "case_id": case.case_id, "model": case.model, "format": case.artifact.format,
        "precision": case.precision or case.artifact.precision, "variant": case.variant,
        "artifact_status": case.artifact.record.get("status"),
        "runtime": case.runtime, "runtime_version": case.runtime_version,
        "threads": case.threads, "cpus": " ".join(map(str, case.cpus)), "batch": case.batch,
        "status": result["status"], "error": result.get("error", ""),
        "artifact_bytes": case.artifact.record.get("bytes"), "artifact_sha256": case.artifact.record.get("sha256"),
        "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now(),
        "measurement": "measured",
    }
    if result["status"] == "ok":
        row.update(summarize(result["samples_ms"], batch=case.batch, processes=result.get("processes")))
        row["n_warmup"] = len(result["warmup_ms"])
        for key in ("import_ms", "load_ms", "first_ms", "rss_import_mib", "rss_load_mib", "rss_peak_mib",
                    "native_lib_mib", "harness_overhead_ms", "steal_pct", "others_pct", "involuntary_switches_per_s",
                    "loadavg_1m"):
            row[key] = result.get(key)
        row["contended"] = result.get("contended", contended(result.get("steal_pct"), result.get("others_pct")))
        if costs and costs.get("flops"):
            row["gflop_per_inference"] = costs["flops"] / 1e9
            row["gflops"] = costs["flops"] * case.batch / (row["p50_ms"] / 1e3) / 1e9
            row["arithmetic_intensity"] = costs["flops"] / costs["bytes"] if costs.get("bytes") else None
    return row


def measure_case(case: Case, log_dir=None) -> dict:
    """One process of a case."""
    if not case.artifact.ok:
        return {"status": "failed",
                "error": f"no {case.artifact.format} artifact: conversion failed: {case.artifact.record.get('error')}"}
    spec = {"kind": "measure", "scenario": "latency", "model": case.model, "runtime": case.runtime,
            "artifact": str(case.artifact.path), "threads": case.threads, "batch": case.batch,
            "cpus": list(case.cpus), "timing": case.timing, "model_input": case.model_input}
    timeout = 2 * case.timing["max_seconds"] + CASE_TIMEOUT_PADDING_S
    log_path = log_dir / f"{case.case_id}.log" if log_dir else None
    return run_isolated(spec, timeout, threads=case.threads, log_path=log_path)


REPLICATE_KEYS = ("status", "error", "samples_ms", "warmup_ms", "cpu_checkpoints", "cpus", "device_cpus", "import_ms",
                  "load_ms", "first_ms", "rss_import_mib", "rss_load_mib", "rss_peak_mib", "native_lib_mib",
                  "native_libs", "harness_overhead_ms", "steal_pct", "others_pct", "involuntary_switches_per_s",
                  "loadavg_1m")


def processes_of(case: Case) -> int:
    return int(case.timing.get("processes", 1))


def replicates_done(record: dict | None) -> list[dict]:
    return list((record or {}).get("replicates") or [])


def complete(record: dict | None, case: Case) -> bool:
    """Measured in all its processes, or failed in one (a failing runtime is not run again)."""
    done = replicates_done(record)
    return bool(done) and (len(done) >= processes_of(case) or any(r.get("status") != "ok" for r in done))


def interleaved(cases: list[Case], done: dict[str, int], seed: int = 0) -> list[tuple[Case, int]]:
    """(case, process index) in rounds: round k measures the k-th process of every case that lacks it, in a
    seeded shuffled order, and no round starts with the case the previous one ended with. So a case's processes
    are spread over the run and never back to back (unless it is the only case)."""
    rng = np.random.default_rng(seed)
    order: list[tuple[Case, int]] = []
    for round_index in range(max((processes_of(c) for c in cases), default=0)):
        due = [c for c in cases if done.get(c.case_id, 0) <= round_index < processes_of(c)]
        shuffled = [due[i] for i in rng.permutation(len(due))]
        if order and len(shuffled) > 1 and shuffled[0].case_id == order[-1][0].case_id:
            shuffled.append(shuffled.pop(0))
        order += [(c, round_index) for c in shuffled]
    return order


def measure_cases(name: str, store: ResultsStore, cases: list[Case], run_id: str, force: bool, progress: bool,
                  say, after_each=None, costs: dict | None = None, desc: str = "measuring") -> list[str]:
    """Measure every case not measured yet, each in its profile's number of fresh processes, interleaved across
    cases (``interleaved``). The case's record is rewritten after each of its processes, so an interrupted run
    resumes with the processes still missing, and its row always pools the processes measured so far."""
    records = {c.case_id: (None if force else store.get(c.case_id)) for c in cases}
    pending = [c for c in cases if not complete(records[c.case_id], c)]
    done = {c.case_id: len(replicates_done(records[c.case_id])) for c in pending}
    for case, index in tqdm(interleaved(pending, done), desc=f"{name}: {desc}", unit="process",
                            disable=None if progress else True):
        replicates = replicates_done(records[case.case_id])
        if complete(records[case.case_id], case):
            continue  # failed in an earlier process
        say(f"[{name}] measuring {case.label} (process {index + 1} of {processes_of(case)})")
        result = measure_case(case, log_dir=store.directory / "logs")
        replicates = replicates[:index] + [{k: result.get(k) for k in REPLICATE_KEYS if k in result}]
        combined = pooled(replicates)
        row = latency_row(name, case, combined, run_id, (costs or {}).get(case.model))
        records[case.case_id] = {"case_id": case.case_id, "status": combined["status"], "inputs": case.inputs,
                                 "row": row, "replicates": replicates}
        store.put(records[case.case_id])
        if after_each:
            after_each()
        if result["status"] != "ok":
            say(f"[{name}]   FAILED: {result.get('error')}")
        elif len(replicates) == processes_of(case):
            say(f"[{name}]   p50 {row['p50_ms']:.3f} ms [{row['ci_low_ms']:.3f}, {row['ci_high_ms']:.3f}] over "
                f"{row['n_runs']} runs in {row['n_processes']} processes (their p50s {row['process_spread_pct']:.1f}% "
                f"apart), peak RSS {row['rss_peak_mib']:.0f} MiB"
                + ("  (high dispersion: CV > 10%)" if row["high_dispersion"] else ""))
    return [c.case_id for c in pending]


def convert_profile(profile_ref, log=None) -> pd.DataFrame:
    """The conversion matrix of a profile's models, written to results/<profile>/conversions.csv."""
    profile = load_profile(profile_ref)
    log = log or (lambda m: tqdm.write(f"[{profile.name}] {m}"))
    models = list(dict.fromkeys(profile.conversion_models + profile.models))
    log(f"conversion matrix of {len(models)} model(s)")
    matrix = conversion_matrix(models, log=log)
    ResultsStore(profile.name).write_conversions(matrix)
    return matrix


def parse_phases(only: str | list | tuple | None) -> tuple[str, ...]:
    """``convert,latency`` or a list of phase names; every phase when empty. One clear error for a typo."""
    if not only:
        return PHASES
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    unknown = [n for n in names if n not in PHASES]
    if unknown or not names:
        raise StudyError(f"--only: unknown phase {', '.join(map(repr, unknown)) or 'none given'}. Fix: name one or "
                         f"more of {','.join(PHASES)}, separated by commas")
    return tuple(p for p in PHASES if p in names)


def phases_for(profile: Profile, only=None, say=print) -> tuple[str, ...]:
    """The phases to run: those asked for that the profile configures; modelled energy needs the latency cases."""
    asked = parse_phases(only)
    chosen = []
    for phase in asked:
        if phase in OPTIONAL and getattr(profile, phase) is None:
            say(f"[{profile.name}] {phase}: not measured for this profile (it has no {phase} section)")
        else:
            chosen.append(phase)
    if "energy" in chosen and profile.energy.source == "model" and "latency" not in chosen:
        say(f"[{profile.name}] modelled energy is computed from the latency cases' CPU time: measuring those too")
        chosen.append("latency")
    return tuple(p for p in PHASES if p in chosen)


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def bench(profile_ref, force: bool = False, progress: bool = True, only=None) -> pd.DataFrame:
    """Measure what is missing in the chosen phases (all with ``force``); the latency table, if there is one.

    ``force`` re-measures; it does not re-convert, since artifacts are already keyed by their inputs
    (``python -m study convert --force`` redoes conversions)."""
    from study.energy_bench import bench_energy, check_energy_source
    from study.operators_bench import bench_operators
    from study.sustained_bench import bench_sustained
    from study.quant.run import bench_quantization

    profile = load_profile(profile_ref)
    store = ResultsStore(profile.name)
    say = tqdm.write
    origin = imported(profile.name)
    if origin:  # measured on another machine and imported: this machine must not add its own numbers
        say(f"[{profile.name}] imported from {origin['machine']} ({origin['cpu_model']}): nothing measured here")
        return load_latency(profile.name)
    phases = phases_for(profile, only, say=say)
    if "energy" in phases:
        check_energy_source(profile)
    keep_with_results(profile)  # only once the profile can be measured: a refused run leaves no folder
    log = lambda m: say(f"[{profile.name}] {m}")  # noqa: E731
    planned = estimate.plan(profile, phases, force)
    say(f"[{profile.name}] plan: {planned.describe()}")
    run_id = new_run_id()
    run = {"phases": {}, "plan": planned.counts, "estimate_s": planned.seconds, "started_at": environment.utc_now(),
           "only": list(phases)}
    measured: list[str] = []
    cases: list[Case] = []
    table = None

    def record_run() -> None:
        store.write_run(run_id, environment.collect(profile.name, profile.content_hash),
                        measured, {**run, "measured_s": sum(run["phases"].values())})

    for phase in phases:
        started = time.perf_counter()
        if phase == "convert":
            convert_profile(profile, log=log)
        elif phase == "latency":
            log("planning cases (converting artifacts where needed)")
            cases = plan(profile, log=log)
            thread_counts = sorted({c.threads for c in cases})
            for kind in CEILINGS:  # kept in the results folder, where the tables read them
                for threads in thread_counts:
                    machine_ceiling(kind, store, threads, profile.allowed_cpus(), log=log)
            pending = [c for c in cases if force or store.get(c.case_id) is None]
            log(f"{len(cases)} cases, {len(cases) - len(pending)} already measured, {len(pending)} to measure")
            if pending:
                record_run()
            costs = {model: model_costs(model) for model in sorted({c.model for c in pending})}
            ids = [c.case_id for c in cases]
            measured += measure_cases(profile.name, store, cases, run_id, force, progress, say,
                                      after_each=lambda: store.write_tables(ids), costs=costs)
            naive_timings(profile, store, log=log)
            table = store.write_tables(ids)
        elif phase == "energy":
            cases = cases or plan(profile, log=log)
            measured += bench_energy(profile, cases, run_id, force=force, progress=progress)
        elif phase == "operators":
            cases = cases or plan(profile, log=log)
            measured += bench_operators(profile, cases, run_id, force=force, progress=progress)
        elif phase == "sustained":
            cases = cases or plan(profile, log=log)
            latency = load_latency(profile.name) if store.latency_csv.exists() else pd.DataFrame()
            if latency.empty:
                log("sustained: needs the latency cases to pick the fastest runtime per model. Fix: python -m study "
                    f"bench --profile {profile.name} --only latency,sustained")
            measured += bench_sustained(profile, cases, latency, run_id, force=force, progress=progress)
        elif phase == "quantization":
            measured += bench_quantization(profile, run_id, force=force, progress=progress)
        run["phases"][phase] = round(time.perf_counter() - started, 1)
        log(f"{phase}: {run['phases'][phase]:.0f} s")
    run["finished_at"] = environment.utc_now()
    if measured or not store.environment_json.exists():
        record_run()
    if table is None:
        table = load_latency(profile.name) if store.latency_csv.exists() else pd.DataFrame()
    return table
