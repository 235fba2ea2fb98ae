"""What a ``bench`` run will do and about how long it will take, said before anything is measured.

Counts come from the profile and what is already on disk (artifact records, case records); durations
from the profile's timing budget plus fixed costs per unit of work seen on a 2-core VM (below). The run
record keeps the estimate beside the measured phase times, so a wrong constant shows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from study.profiles import Profile

# Seconds per unit of work outside the timing budget, seen on a 2-core VM (AMD EPYC, 2026-11: the whole zoo's 57
# conversions took 314 s two at a time; 18 quantization builds and their 21 timed variants 428 s):
PROCESS_S = 5.0            # a fresh case process: interpreter, one framework's import, load, first call
CONVERSION_S = 11.0        # one conversion plus its validation run, per worker (conversions run one per CPU)
# train one model, make and evaluate every variant, per worker (one per CPU). On a slower AMD EPYC (2026-12), host-1t's
# 12 small builds took about 20 min two at a time, and mobilenet_64 (64x64, 10 variants) 9-10 min per digits build
# (training 2-3 min, ExecuTorch lowering 2.5 min); tones trains on twice the images and adds the calibration ablation
QUANT_BUILD_S = {"small": 200.0, "mobilenet_64": 660.0}
VARIANTS_PER_MODEL = 7     # timed variants of one quantization-study model (seed 0 of the first dataset)
# quantize one 224x224 zoo model and its Keras twin, or one shipped file, every way and check fidelity, per worker
# (2026-12, that EPYC, two at a time: MobileNetV2 and ResNet-18 4 to 7 min each, BlazeFace 65 s, PP-OCRv4 det 4.6 min)
ZOO_BUILD_S = {"zoo": 300.0, "blazeface": 65.0, "ppocr_det": 270.0}
NAIVE_S = 8.0              # the article's single timed call, in its own process
OPERATOR_PROFILE_S = 10.0  # one runtime's operator profile of one model: start-up, load, warm-up, profiled runs


@dataclass
class Plan:
    counts: dict
    seconds: float

    def describe(self) -> str:
        parts = [f"{n} {what}" for what, n in self.counts.items() if n]
        return f"{', '.join(parts)}; estimated {self.seconds / 60:.0f} min" if parts else "nothing to measure"


def _artifact_done(model: str, fmt: str, batch: int) -> dict | None:
    from study.convert import artifact_path

    record_file = artifact_path(model, fmt, batch).with_name(artifact_path(model, fmt, batch).name + ".json")
    try:
        return json.loads(record_file.read_text()) if record_file.exists() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _built(job: dict) -> bool:
    """Whether a quantization build is on disk already (builds are shared by the profiles of one machine)."""
    from study import paths

    return (paths.artifacts_dir() / "quant" / job["id"] / "build.json").exists()


def zoo_variant_count(model: str) -> int:
    """The timed variants of one full-size zoo or shipped model per thread count: those of its PyTorch source (a
    shipped file is quantized as the module onnx2torch makes of it), plus its Keras twin's if it has one."""
    from study.quant.zoo import KERAS_TWINS, zoo_variants

    return len(zoo_variants("torch")) + (len(zoo_variants("keras")) if model in KERAS_TWINS else 0)


def latency_case_seconds(timing: dict) -> float:
    """A case's expected time from its budget: start-up, warm-up, the minimum timed time, the no-op loop."""
    return PROCESS_S + max(timing["warmup_seconds"], 0.2) + max(timing["min_seconds"], 0.5) + 0.3


def plan(profile: Profile, phases: tuple[str, ...], force: bool = False) -> Plan:
    from study.bench import make_case, settings, timing_of
    from study.convert import Artifact, artifact_batch, model_spec
    from study.export import FORMATS, SOURCE_FORMATS, conversion_targets
    from study.quant.plan import jobs, zoo_jobs
    from study.results import ResultsStore

    workers = max(1, os.cpu_count() or 1)
    timing = timing_of(profile)
    quiet = lambda message: None  # noqa: E731
    counts = {"conversions": 0, "latency cases": 0, "energy cases": 0, "operator profiles": 0, "sustained runs": 0,
              "quantization builds": 0}
    seconds = 0.0
    wanted: set[tuple] = set()
    if "convert" in phases:
        for model in dict.fromkeys(profile.conversion_models + profile.models):
            spec, _ = model_spec(model, log=quiet)
            if spec is not None:
                wanted |= {(model, fmt, None) for fmt in [SOURCE_FORMATS[spec.framework], *conversion_targets()]}
    cases = 0
    if "latency" in phases:
        store, cpus = ResultsStore(profile.name), profile.allowed_cpus()
        for model, runtime, fmt, batch, threads in settings(profile, log=quiet):
            wanted.add((model, fmt, artifact_batch(fmt, batch)))
            record = _artifact_done(model, fmt, batch)
            if record is not None and not force:
                case = make_case(model, runtime, threads, batch, cpus, Artifact(model, fmt, batch, None, record),
                                 timing)
                if store.get(case.case_id) is not None:
                    continue
            cases += 1
        counts["latency cases"] = cases
        seconds += cases * timing["processes"] * latency_case_seconds(timing) + (NAIVE_S * len(profile.models)
                                                                                 if cases else 0)
    for model, fmt, batch in wanted:
        spec, _ = model_spec(model, log=quiet)
        if spec is not None and FORMATS[fmt].exporter_for(spec.framework) and _artifact_done(model, fmt, batch or 1) \
                is None:
            counts["conversions"] += 1
    seconds += counts["conversions"] * CONVERSION_S / workers
    if "energy" in phases and profile.energy is not None:
        energy = profile.energy
        batches = energy.batch_sizes or profile.batch_sizes
        n = sum(1 for s in settings(profile, log=quiet) if s[3] in batches)
        if energy.source == "model":
            counts["energy cases"] = n  # computed from the latency cases' CPU time: no extra process
        else:
            recorded = len(list(ResultsStore(profile.name, records="energy").cases_dir.glob("*.json")))
            counts["energy cases"] = n if force else max(0, n - recorded)
            seconds += counts["energy cases"] * (PROCESS_S + (energy.windows + 1) * energy.window_seconds)
    if "operators" in phases and profile.operators is not None:
        done = ResultsStore(profile.name, records="operators").cases_dir
        recorded = len(list(done.glob("*.json"))) if done.exists() else 0
        pairs = sum(1 for s in settings(profile, log=quiet) if s[0] in profile.operators.models
                    and s[3] == min(profile.batch_sizes) and s[4] == max(profile.resolved_threads()))
        counts["operator profiles"] = pairs if force else max(0, pairs - recorded)
        seconds += counts["operator profiles"] * OPERATOR_PROFILE_S
    if "sustained" in phases and profile.sustained is not None:
        done = ResultsStore(profile.name, records="sustained").cases_dir
        recorded = len(list(done.glob("*.json"))) if done.exists() else 0
        runs = len(profile.sustained.models or profile.models)
        counts["sustained runs"] = runs if force else max(0, runs - recorded)
        seconds += counts["sustained runs"] * (PROCESS_S + profile.sustained.seconds)
    if "quantization" in phases and profile.quantization is not None:
        store = ResultsStore(profile.name, records="quant")
        pending = [j for j in jobs(profile) if force or store.get(j["id"]) is None]
        counts["quantization builds"] = len(pending)
        timed = sum(1 for j in pending if j["inputs"]["seed"] == 0
                    and j["inputs"]["dataset"] == profile.quantization.datasets[0]) * VARIANTS_PER_MODEL
        # a build another profile of this machine made is read, not made again; every timed variant is a latency
        # case, in the profile's number of processes
        seconds += sum(QUANT_BUILD_S.get(j["inputs"]["model"], QUANT_BUILD_S["small"])
                       for j in pending if force or not _built(j)) / workers \
            + timed * timing["processes"] * latency_case_seconds(timing)
        zoo_store = ResultsStore(profile.name, records="quant_zoo")
        zoo = [j for j in zoo_jobs(profile) if force or zoo_store.get(j["id"]) is None]
        counts["full-size zoo and shipped models to quantize"] = len(zoo)
        for job in zoo:
            model = job["inputs"]["model"]
            if force or not _built(job):
                seconds += ZOO_BUILD_S.get(model, ZOO_BUILD_S["zoo"]) / workers
            seconds += (zoo_variant_count(model) * len(profile.resolved_threads()) * timing["processes"]
                        * latency_case_seconds(timing))
    return Plan(counts, seconds)
