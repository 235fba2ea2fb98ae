"""Running the quantization study of a profile: the builds, then every variant's latency, then the tables.

- ``results/<p>/quant/<id>.json``: one (dataset, model, seed): the trained model's test predictions and
  those of every variant in its runtime (or the variant's error). A build is cached beside its artifacts
  (``artifacts/quant/<id>/build.json``), so the profiles of one machine share it. Builds are not timed, so
  they run side by side, one per CPU.
- ``results/<p>/quant_latency/<id>.json``: one variant (first dataset, seed 0) timed as a latency case by
  the one measurement engine: the same fields and columns as ``latency.csv``.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from study.core import environment, paths
from study.core.fsutil import write_json_atomic, write_text_atomic
from study.core.ids import code_digest
from study.core.isolate import run_isolated
from study.plan.profiles import Profile
from study.plan.quant import jobs, zoo_jobs
from study.core.store import ResultsStore
from study.measure.cases import measure_cases
from study.phases.duel import VARIANTS_DUEL, duel, settings_for
from study.measure.launcher import Launcher, LocalLauncher
from study.phases.base import Estimate, Phase, Run
from study.plan import estimate as costs
from study.plan.cases import make_case, timing_of
from study.plan.device import device_versions

BUILD_TIMEOUT_S = 3600


def _build(profile: Profile, job: dict, force: bool, store: ResultsStore) -> dict:
    i = job["inputs"]
    directory = paths.artifacts_dir() / "quant" / job["id"]
    cached = directory / "build.json"
    if cached.exists() and not force:  # built for another profile of this machine: same inputs, same record
        return json.loads(cached.read_text())
    spec = {"kind": "quant_build", "dataset": i["dataset"], "model": i["model"], "seed": i["seed"],
            "epochs": i["epochs"], "threads": 1, "directory": str(directory)}
    result = run_isolated(spec, BUILD_TIMEOUT_S, threads=1,
                          log_path=store.logs_dir / f"quant-{job['id']}.log")
    if result["status"] == "ok":
        write_json_atomic(cached, result)
    return result


def run_builds(profile: Profile, planned: list[dict], force: bool, progress: bool, say) -> list[str]:
    """Train, quantize and evaluate every build not recorded yet, one per CPU at a time."""
    store = ResultsStore(profile.name, records="quant")
    pending = [j for j in planned if force or store.get(j["id"]) is None]
    say(f"[{profile.name}] quantization: {len(planned)} (dataset, model, seed) builds, {len(pending)} to run")
    bar = tqdm(total=len(pending), desc=f"{profile.name}: quantization builds", unit="build",
               disable=None if progress else True)

    def one(job: dict) -> None:
        i = job["inputs"]
        say(f"[{profile.name}] training {i['model']} on {i['dataset']} (seed {i['seed']}), then every variant")
        result = _build(profile, job, force, store)
        store.put({"case_id": job["id"], "status": result["status"], "inputs": i, "error": result.get("error", ""),
                   "build": result.get("record"), "machine": environment.machine_name(),
                   "measured_at": environment.utc_now()})
        built = result.get("record") or {}
        failed = [k for k, v in built.get("variants", {}).items() if v["status"] != "ok"]
        say(f"[{profile.name}]   {i['model']} on {i['dataset']} (seed {i['seed']}): {result['status']}"
            + (f": {result.get('error')}" if result["status"] != "ok" else
               f", {len(built.get('variants', {})) - len(failed)} variants ok" + (f", failed: {failed}" if failed else "")))
        bar.update()

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(one, pending))
    bar.close()
    return [j["id"] for j in pending]


def run_zoo_builds(profile: Profile, planned: list[dict], force: bool, progress: bool, say) -> list[str]:
    """Quantize every full-size zoo model not recorded yet (one process each, one per CPU, cached per machine)."""
    store = ResultsStore(profile.name, records="quant_zoo")
    pending = [j for j in planned if force or store.get(j["id"]) is None]
    if planned:
        say(f"[{profile.name}] quantization: {len(planned)} full-size zoo and shipped models, {len(pending)} to quantize")
    bar = tqdm(total=len(pending), desc=f"{profile.name}: zoo quantization", unit="model",
               disable=None if progress else True)

    def one(job: dict) -> None:
        model = job["inputs"]["model"]
        say(f"[{profile.name}] quantizing {model} (and a Keras twin, if it has one) with every scheme, then checking "
            "fidelity")
        directory = paths.artifacts_dir() / "quant" / job["id"]
        cached = directory / "build.json"
        if cached.exists() and not force:
            result = json.loads(cached.read_text())
        else:
            spec = {"kind": "zoo_quant_build", "model": model, "threads": 1, "directory": str(directory)}
            result = run_isolated(spec, BUILD_TIMEOUT_S, threads=1,
                                  log_path=store.logs_dir / f"quant-{job['id']}.log")
            if result["status"] == "ok":
                write_json_atomic(cached, result)
        store.put({"case_id": job["id"], "status": result["status"], "inputs": job["inputs"],
                   "error": result.get("error", ""), "build": result.get("record"),
                   "machine": environment.machine_name(), "measured_at": environment.utc_now()})
        variants = (result.get("record") or {}).get("variants", {})
        failed = sorted(k for k, v in variants.items() if v["status"] != "ok")
        say(f"[{profile.name}]   {model}: {result['status']}, {len(variants) - len(failed)} variants ok"
            + (f", failed: {failed}" if failed else "") + (f": {result.get('error')}" if result.get("error") else ""))
        bar.update()

    # not timed, so side by side, one per CPU, like the small models' builds
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(one, pending))
    bar.close()
    return [j["id"] for j in pending]


def zoo_variant_cases(profile: Profile, planned: list[dict]) -> list:
    """A latency case for every full-size variant, at each of the profile's thread counts, batch 1 (the int8
    files are made at batch 1)."""
    from study.build.convert import Artifact
    from study.build.quant.zoo import DATASET
    from study.core.runtimes import RUNTIMES

    builds = ResultsStore(profile.name, records="quant_zoo")
    cases = []
    for job in planned:
        build = ((builds.get(job["id"]) or {}).get("build")) or {}
        for variant in build.get("variants", {}).values():
            path = Path(variant["path"])
            if variant["status"] != "ok" or not path.exists():
                continue
            record = {"status": "ok", "bytes": variant["bytes"], "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            artifact = Artifact(variant["source"], RUNTIMES[variant["runtime"]].artifact_format, None, path, record)
            for threads in profile.resolved_threads():
                cases.append(make_case(variant["source"], variant["runtime"], threads, 1, profile.allowed_cpus(),
                                       artifact, timing_of(profile), device_versions(profile),
                                       precision=variant["precision"],
                                       scheme=variant["scheme"], dataset=build.get("dataset", DATASET),
                                       model_input={"framework": variant["framework"],
                                                    "shape": variant["input_shape"]}))
    return cases


def _channels(build: dict) -> int:
    return 1 if build["dataset"] == "digits" else 3


def variant_cases(profile: Profile, planned: list[dict]) -> list:
    """A latency case for every variant of the first dataset's seed-0 builds (speed does not depend on weights)."""
    from study.build.convert import Artifact
    from study.build.quant.build import input_shape
    from study.core.runtimes import RUNTIMES

    builds = ResultsStore(profile.name, records="quant")
    threads, cpus = min(profile.resolved_threads()), profile.allowed_cpus()
    cases = []
    for job in planned:
        i = job["inputs"]
        if i["seed"] != 0 or i["dataset"] != profile.quantization.datasets[0]:
            continue
        build = ((builds.get(job["id"]) or {}).get("build")) or {}
        for key, variant in build.get("variants", {}).items():
            path = Path(variant["path"])
            if variant["status"] != "ok" or not path.exists():
                continue
            record = {"status": "ok", "bytes": variant["bytes"], "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            artifact = Artifact(i["model"], RUNTIMES[variant["runtime"]].artifact_format, None, path, record)
            shape = input_shape(build["framework"], _channels(build), build.get("input_side", 16))
            cases.append(make_case(i["model"], variant["runtime"], threads, 1, cpus, artifact, timing_of(profile),
                                   device_versions(profile), precision=variant["precision"], scheme=variant["scheme"], dataset=i["dataset"],
                                   model_input={"framework": build["framework"], "shape": list(shape)}))
    return cases


def bench_quantization(profile: Profile, run_id: str, force: bool = False, progress: bool = True,
                       say=tqdm.write, launcher: Launcher | None = None,
                       unmeasured: list[str] | None = None) -> list[str]:
    """Builds, then variant latencies, then the tables (only when a record or the table code changed)."""
    from study.analyze import quant_tables as tables

    planned, zoo = jobs(profile), zoo_jobs(profile)
    measured = run_builds(profile, planned, force, progress, say)
    measured += run_zoo_builds(profile, zoo, force, progress, say)
    cases = variant_cases(profile, planned) + zoo_variant_cases(profile, zoo)
    store = ResultsStore(profile.name, records="quant_latency")
    measured += measure_cases(profile.name, store, cases, run_id, force, progress, say, desc="variant latency",
                              launcher=launcher, unmeasured=unmeasured)
    # each variant against its fp32 twin in the same runtime, timed in interleaved bursts: the speedup's evidence
    measured += duel(cases, store, profile, launcher or LocalLauncher(), log=say, force=force, kind=VARIANTS_DUEL)
    key = _tables_key(profile, planned + zoo, [c.case_id for c in cases])
    key_file = ResultsStore(profile.name).directory / "quant_tables.key"
    if measured or not key_file.exists() or key_file.read_text() != key:
        tables.write_tables(profile, [c.case_id for c in cases])  # the bootstraps take a while
        write_text_atomic(key_file, key)
    return measured


def _tables_key(profile: Profile, planned: list[dict], latency_ids: list[str]) -> str:
    digest = hashlib.sha256(code_digest("study.analyze.quant_tables", "study.analyze.quant_metrics",
                                        "study.analyze.quant_verdicts", "study.build.quant.zoo").encode())
    digest.update(json.dumps([sorted(j["id"] for j in planned), sorted(latency_ids)]).encode())
    for directory in ("quant", "quant_zoo", "quant_latency"):
        for record in sorted((ResultsStore(profile.name).directory / directory).glob("*.json")):
            digest.update(f"{record.name}:{record.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


class Quantization(Phase):
    name = "quantization"

    def estimate(self, profile: Profile, force: bool) -> Estimate:
        workers = max(1, os.cpu_count() or 1)
        timing = timing_of(profile)
        case_s = timing["processes"] * costs.latency_case_seconds(timing)
        store = ResultsStore(profile.name, records="quant")
        pending = [j for j in jobs(profile) if force or store.get(j["id"]) is None]
        timed = sum(1 for j in pending if j["inputs"]["seed"] == 0
                    and j["inputs"]["dataset"] == profile.quantization.datasets[0]) * costs.VARIANTS_PER_MODEL
        # a build another profile of this machine made is read, not made again; every timed variant is a latency
        # case, in the profile's number of processes
        seconds = sum(costs.QUANT_BUILD_S.get(j["inputs"]["model"], costs.QUANT_BUILD_S["small"])
                      for j in pending if force or not costs.built(j)) / workers + timed * case_s
        zoo_store = ResultsStore(profile.name, records="quant_zoo")
        zoo = [j for j in zoo_jobs(profile) if force or zoo_store.get(j["id"]) is None]
        for job in zoo:
            model = job["inputs"]["model"]
            if force or not costs.built(job):
                seconds += costs.ZOO_BUILD_S.get(model, costs.ZOO_BUILD_S["zoo"]) / workers
            seconds += costs.zoo_variant_count(model) * len(profile.resolved_threads()) * case_s
        # each variant against its fp32 twin in a duel, per runtime (about three runtimes take each model's variants)
        duels = 3 * (len(zoo) * len(profile.resolved_threads()) + timed // max(costs.VARIANTS_PER_MODEL, 1))
        bound = duels * settings_for(profile, VARIANTS_DUEL).max_seconds
        return Estimate({"quantization builds": len(pending),
                         "full-size zoo and shipped models to quantize": len(zoo), "variant duels about": duels},
                        seconds + bound / 2)

    def run(self, run: Run) -> list[str]:
        return bench_quantization(run.profile, run.run_id, force=run.force, progress=run.progress, say=run.say,
                                  launcher=run.launcher, unmeasured=run.unmeasured)


PHASE = Quantization()
