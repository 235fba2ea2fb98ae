"""The cases a profile asks for: a ``Case`` is one (model, runtime, threads, batch) on the profile's CPUs, named by
the hash of everything that determines its measurement, so a case whose record exists is not measured again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator, NamedTuple

from study.build.convert import Artifact, artifact_batch, ensure_artifact, model_spec, not_applicable
from study.core import environment
from study.core.ids import HARNESS_VERSION, content_id
from study.core.runtimes import RUNTIMES
from study.plan.device import device_versions
from study.plan.profiles import Profile

TIMING_KEYS = ("warmup_runs", "warmup_seconds", "min_runs", "min_seconds", "max_seconds", "target_ci", "processes")


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

    @property
    def processes(self) -> int:
        """How many fresh processes the case is measured in (its profile's ``timing.processes``)."""
        return int(self.timing.get("processes", 1))


class Setting(NamedTuple):
    """A latency case before its artifact exists: what the plan and the estimate count."""
    model: str
    runtime: str
    format: str
    batch: int
    threads: int


def runtime_version(runtime: str, versions: dict | None = None) -> str:
    """The runtime's distributions and their versions: this machine's, or ``versions`` (a device's, as it described
    itself), which then name the case."""
    packages = RUNTIMES[runtime].packages
    found = environment.versions(packages) if versions is None else {name: versions.get(name) for name in packages}
    return " ".join(f"{name}=={version}" for name, version in found.items())


def timing_of(profile: Profile) -> dict:
    return {key: getattr(profile.timing, key) for key in TIMING_KEYS}


def make_case(model: str, runtime: str, threads: int, batch: int, cpus: tuple[int, ...], artifact: Artifact,
              timing: dict, versions: dict | None = None, **extra) -> Case:
    """A case whose id hashes every input that determines its measurement (``versions``: the runtimes' versions on the
    device that times it, when that is not this machine)."""
    version = runtime_version(runtime, versions)
    inputs = {"model": model, "runtime": runtime, "runtime_version": version, "threads": threads, "batch": batch,
              "cpus": list(cpus), "timing": timing, "harness": HARNESS_VERSION,
              "artifact": artifact.record.get("sha256") or f"unavailable:{artifact.record.get('inputs_key')}"}
    for key in ("scheme", "dataset"):
        if extra.get(key):
            inputs[key] = extra[key]
    return Case(model, runtime, threads, batch, cpus, artifact, timing, version, inputs, content_id(inputs), **extra)


def settings(profile: Profile, log=print) -> Iterator[Setting]:
    """Every latency case of the profile as a ``Setting``, without converting anything."""
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
                    yield Setting(model, runtime, fmt, batch, threads)


def latency_cases(profile: Profile, log=print) -> list[Case]:
    """Every latency case of the profile, converting the artifacts they need first (each once). Models convert side
    by side, one per CPU, as the conversion matrix does (``study.build.convert.conversion_matrix``): a report runs
    the latency phase first, so these conversions stand between it and its first answer."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    cpus, timing, versions = profile.allowed_cpus(), timing_of(profile), device_versions(profile)
    wanted = list(settings(profile, log=log))
    needed: dict[str, dict[tuple, int]] = {}  # per model, in order: artifact key -> the batch to convert it at
    for model, runtime, fmt, batch, threads in wanted:
        needed.setdefault(model, {}).setdefault((model, fmt, artifact_batch(fmt, batch)), batch)

    def convert(model: str) -> dict[tuple, Artifact]:  # a model's own targets in order: they share its source
        return {key: ensure_artifact(model, key[1], batch, log=log) for key, batch in needed[model].items()}

    artifacts: dict[tuple, Artifact] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(needed)))) as pool:
        for converted in pool.map(convert, list(needed)):
            artifacts.update(converted)
    return [make_case(model, runtime, threads, batch, cpus, artifacts[(model, fmt, artifact_batch(fmt, batch))], timing,
                      versions) for model, runtime, fmt, batch, threads in wanted]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
