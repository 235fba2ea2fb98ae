"""Device profiles: how and where to measure, read from ``params/profiles/<name>.yaml``.

A profile is validated by the pydantic models below, one per section; the first problem found becomes one
``StudyError`` line naming the file, the key and the fix (``profile_fields.one_line``).
"""

import difflib
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import Field, PlainValidator, PrivateAttr, Strict, ValidationError, ValidationInfo, model_validator

from study.core import paths
from study.core.errors import StudyError
from study.core.fsutil import display_path
from study.core.ids import content_id
from study.build.models import MODELS, check_model_ref, get_model
from study.core.runtimes import RUNTIMES
from study.core.transports import TRANSPORTS
from study.plan.profile_fields import (Section, Text, describe, list_of, number, one_line, one_of, problem,
                                       whole_number, word_or, worded)

ENERGY_SOURCES = ("model", "rapl", "meter")
POWER_SCOPES = ("per_cpu", "device")  # watts for each pinned CPU, or for the whole device


def _model_ref(value: Any) -> str:
    if not isinstance(value, str):
        raise problem(f"expected a model name, file or factory, got {describe(value)}",
                      f"use one of: {', '.join(MODELS)}, a model file, or package.module:factory")
    try:
        check_model_ref(value)
    except StudyError as unknown:
        message, _, fix = str(unknown).partition(". Fix: ")
        close = difflib.get_close_matches(value, MODELS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise problem(message + hint, fix) from None
    return value


def _dataset_ref(value: Any) -> str:
    from study.build.quant.datasets import BUILTIN

    if isinstance(value, str) and value in BUILTIN:
        return value
    if isinstance(value, str) and value.endswith(".csv"):
        path = Path(value) if Path(value).is_absolute() else paths.root() / value
        if not path.is_file():
            raise problem(f"dataset CSV '{value}' not found", "give a CSV with columns path,label,group")
        return value
    raise problem(f"unknown dataset {value!r}", f"use {', '.join(BUILTIN)} or a CSV path,label,group of your images")


# Checked by the modules that load them: no pydantic type says what a model file or a dataset CSV is
ModelRef = Annotated[str, PlainValidator(_model_ref)]
DatasetRef = Annotated[str, PlainValidator(_dataset_ref)]
Threads = Annotated[Literal["all"] | whole_number(1), worded(lambda value: (
    f"expected a whole number >= 1 or 'all', got {describe(value)}", "write thread counts such as [1, 2] or [all]"))]


# The quantization study's names, from modules too heavy to import for every profile: one_of looks them up
def _quant_models():
    from study.build.quant.nets import QUANT_MODELS

    return QUANT_MODELS


def _zoo_models():
    from study.build.quant.zoo import KERAS_TWINS

    return KERAS_TWINS


def _shipped_models():
    return (m for m in MODELS if get_model(m).task is not None)


class Timing(Section):
    """Per process of a case. The defaults are the host profiles': a profile needs only the keys it changes."""
    warmup_runs: whole_number(0) = 10
    warmup_seconds: number(0.0) = 0.5
    min_runs: whole_number(1) = 20
    min_seconds: number(0.0) = 0.25
    max_seconds: number(0.001) = 10.0
    target_ci: number(0.0) = 0.0  # no target inside one process: the p50's CI is over processes
    processes: whole_number(1) = 3  # separate processes per case, interleaved with other cases: the CI covers reruns


class Duel(Section):
    """How a comparison group's contenders are judged against each other (``study.phases.duel``): workers kept
    loaded and warm take turns in bursts; several sets of fresh workers; a few planned looks; a time bound."""
    burst_ms: number(1.0) = 50.0  # each burst: back-to-back calls this long at least (noise states last 50-300 ms)
    min_calls: whole_number(2) = 3  # and at least this many calls (the first of each is dropped)
    set_seconds: number(0.1) = 2.0  # kept cycles per set of fresh workers
    span: number(1.0) = 1.5  # contenders: the runtimes within this many times the fastest's p50 in the rounds
    looks: list_of(whole_number(2), "[3, 5, 8]") = (3, 5, 8)  # after these many sets, stop once precise enough
    precision_pct: number(0.0) = 5.0  # the pick-vs-runner-up half-width to reach
    max_seconds: number(0.0) = 60.0  # per group: no new set starts once the next would end past it (0: no duel)
    idle_cpu_pct: number(0.0) = 1.0  # an idle worker may take this much of a CPU during another's burst
    # a quantized variant against its fp32 twin in one runtime (the quantization phase): sets, and the bound per group
    variant_sets: whole_number(2) = 3
    variant_max_seconds: number(0.0) = 20.0


class PowerModel(Section):
    idle_watts: number(0.0)
    active_watts: number(0.0)
    scope: one_of("power scope", POWER_SCOPES)
    source: Text  # where the coefficients are published

    item_name: ClassVar[str] = "power model"
    like: ClassVar[str] = "power_model"


# Here and below, a key with the default None may be left out, but a YAML null is refused like any other wrong
# value: its type says what a written value must be, and pydantic does not check defaults.


class Energy(Section):
    source: one_of("energy source", ENERGY_SOURCES)
    power_model: PowerModel
    window_seconds: number(0.01) = 10.0  # rapl/meter: each window at least this long
    windows: whole_number(2)  # repeated windows per case, for a CI
    batch_sizes: list_of(whole_number(1), "[1]") = None  # None: every batch size of the profile
    rapl_root: Text = "/sys/class/powercap"
    meter_csv: Text = None
    meter_clock_offset_s: number(-1e9) = 0.0
    # further published coefficient sets: modelled energy is a range
    other_power_models: list_of(PowerModel, "[{idle_watts: 0.47, active_watts: 1.69, scope: per_cpu, "
                                            "source: ...}]") = ()

    @property
    def power_models(self) -> tuple[PowerModel, ...]:
        return (self.power_model, *self.other_power_models)

    @property
    def measurement(self) -> str:
        return "modelled" if self.source == "model" else "measured"

    def settings(self) -> dict:
        """What determines an energy window's raw readings (the power model is applied afterwards)."""
        return {"source": self.source, "window_seconds": self.window_seconds, "windows": self.windows,
                "rapl_root": self.rapl_root if self.source == "rapl" else None}


class Quantization(Section):
    # no datasets and models: no small model is trained (a profile that only quantizes zoo models)
    datasets: list_of(DatasetRef, "[digits, tones]") = ()  # digits, tones, or a CSV path,label,group of your images
    models: list_of(one_of("quantization model", _quant_models),
                    "[mobilenet_small, plain_cnn, keras_mobilenet_small]") = ()
    seeds: whole_number(1) = 3  # training seeds per (dataset, model)
    epochs: whole_number(1) = 12
    # full-size zoo models quantized by every scheme, judged by fidelity
    zoo_models: list_of(one_of("zoo model with a Keras twin", _zoo_models), "[mobilenet_v2, resnet18]") = ()
    # trained files people ship, quantized, judged by their task on real images
    shipped_models: list_of(one_of("shipped model", _shipped_models), "[blazeface, ppocr_det, ppocr_cls]") = ()


class Operators(Section):
    # whose operators are profiled, in every runtime of the profile that has a profiler
    models: list_of(ModelRef, "[mobilenet_v2, resnet18]")
    runs: whole_number(1) = 20  # profiled inferences per runtime


class Sustained(Section):
    seconds: number(1.0)  # one continuous run per model, of the runtime with the best p50
    models: list_of(ModelRef, "[mobilenet_v2, resnet18]") = None  # None: every model of the profile


def _host(value: Any) -> str:
    """An SSH destination: an alias of ~/.ssh/config, a host name or address, with an optional ``user@``. It is passed
    to ssh as one argument after ``--``; a leading '-' or a space would still read as an option or two words."""
    import re

    if not isinstance(value, str) or not re.fullmatch(r"(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9._:%\[\]-]+", value) \
            or value.startswith("-") or "@-" in value:
        raise problem(f"expected an SSH host (an alias of ~/.ssh/config, host, or user@address), got "
                      f"{describe(value)}", "write e.g. host: pi5 (an alias) or host: pi@192.168.1.20")
    return value


def _remote_path(value: Any) -> str:
    """A folder on the device: relative to the remote user's home (a leading ``~/`` says the same), or absolute."""
    if not isinstance(value, str) or not value.strip() or "\0" in value or "\n" in value:
        raise problem(f"expected a folder on the device, got {describe(value)}",
                      "write e.g. .cache/edge-runtime-study (under the device user's home) or an absolute path")
    value = value.strip()
    return value[2:] if value.startswith("~/") else value


RemotePath = Annotated[str, PlainValidator(_remote_path)]


class Device(Section):
    """Where the cases are timed when not on this machine: everything else (conversion, validation, quantization
    builds, fidelity) stays on the host, and the device gets only the artifacts and a lean worker."""
    transport: one_of("transport", tuple(TRANSPORTS))
    host: Annotated[str, PlainValidator(_host)]
    port: Annotated[int, Strict(), Field(ge=1, le=65535), worded(lambda value: (
        f"expected a port number from 1 to 65535, got {describe(value)}", "write e.g. port: 22, or leave it out"))] = None
    python: Text = "python3"  # the device's Python (3.9 or newer) that `study device setup` makes the venv with
    workdir: RemotePath = ".cache/edge-runtime-study"  # the study's folder on the device: venv, worker, artifacts
    venv: RemotePath = None  # None: WORKDIR/venv

    @property
    def venv_dir(self) -> str:
        return self.venv or f"{self.workdir}/venv"

    @property
    def target(self) -> str:
        """What a run locks while it times on this device (``study.core.locks``)."""
        return f"device {self.host}" + (f" port {self.port}" if self.port else "")


class Profile(Section):
    """A profile needs its name and models; every other key has a default a new user can leave out."""
    name: Text
    models: list_of(ModelRef, "[mobilenet_v2]")
    description: Text = "(no description)"
    threads: list_of(Threads, "[1] or [1, all]") = (1,)
    cpu_affinity: word_or("all", list_of(whole_number(0), "[0] or all")) = "all"
    batch_sizes: list_of(whole_number(1), "[1, 8]") = (1,)
    conversion_models: word_or("zoo", list_of(ModelRef, "zoo or [digits_cnn, lstm_classifier]"),
                               means=lambda: tuple(MODELS)) = ()
    runtimes: list_of(one_of("runtime", tuple(RUNTIMES)), "[torch_eager, onnxruntime, litert]") = tuple(RUNTIMES)
    timing: Timing = Timing()
    energy: Energy = None  # None: energy is not measured for this profile
    quantization: Quantization = None  # None: the quantization study is not run for this profile
    operators: Operators = None  # None: no operator profiles for this profile
    sustained: Sustained = None  # None: no sustained-load run
    duel: Duel = None  # None: the defaults above (study.phases.duel judges every group's contenders so)
    device: Device = None  # None: timed on this machine; else on the device, over its transport
    # the sections of phases added to the study (study.phases), by section name: each phase checks its own keys
    phases: dict[str, dict] = {}

    # Not keys of the file: set by load_profile once the file is read
    _path: Path = PrivateAttr()
    _content_hash: str = PrivateAttr()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def content_hash(self) -> str:
        """Of the validated content, defaults included: records are keyed by it."""
        return self._content_hash

    def __repr_args__(self):
        # which file and which content: shown too, before the sections a profile may leave out
        args = list(super().__repr_args__())
        required = {name for name, field in type(self).model_fields.items() if field.is_required()}
        at = max(i for i, (name, _) in enumerate(args) if name in required) + 1
        return [*args[:at], ("path", self.path), ("content_hash", self.content_hash), *args[at:]]

    @model_validator(mode="after")
    def _rules_across_keys(self, info: ValidationInfo) -> "Profile":
        """Rules between keys, checked in this order once every key is valid on its own. The file's name comes
        with ``context``: a profile is stored under its name."""
        expected = (info.context or {}).get("file_name")
        if expected and self.name != expected:
            raise problem(f"'{self.name}' differs from the file name '{expected}'",
                          f"write name: {expected} (results are stored under the name)", at="name")
        if self.energy is not None:
            power = self.energy.power_model
            if power.active_watts < power.idle_watts:
                raise problem(f"{power.active_watts} is below idle_watts {power.idle_watts}",
                              "active power must be at least idle power", at="energy.power_model.active_watts")
            if self.energy.source == "meter" and not self.energy.meter_csv:
                raise problem("missing for source meter", "give the path of the CSV (timestamp,watts) your meter "
                              "records while the study runs", at="energy.meter_csv")
            unknown_batch = sorted(set(self.energy.batch_sizes or ()) - set(self.batch_sizes))
            if unknown_batch:
                raise problem(f"{unknown_batch} not in batch_sizes", f"list batch sizes from {list(self.batch_sizes)}",
                              at="energy.batch_sizes")
        if self.timing.max_seconds < self.timing.min_seconds:
            raise problem(f"{self.timing.max_seconds} is below min_seconds {self.timing.min_seconds}",
                          "raise max_seconds or lower min_seconds", at="timing.max_seconds")
        return self

    def allowed_cpus(self) -> tuple[int, ...]:
        """The CPUs this profile pins each case to, checked against the machine that times them: this one, or the
        profile's device (as it last described itself, ``results/<profile>/device.json``)."""
        if self.device is not None:
            from study.plan.device import device_cpus

            available = device_cpus(self)
        else:
            available = sorted(os.sched_getaffinity(0))
        if self.cpu_affinity == "all":
            return tuple(available)
        missing = [cpu for cpu in self.cpu_affinity if cpu not in available]
        if missing:
            raise StudyError(
                f"{display_path(self.path)}: cpu_affinity: CPU {missing} not available on "
                f"{'this machine' if self.device is None else self.device.host} "
                f"(available: {available}). Fix: list CPUs from {available}, or write cpu_affinity: all"
            )
        return tuple(self.cpu_affinity)

    @property
    def duel_settings(self) -> "Duel":
        """The profile's duel section, or the defaults when it has none."""
        return self.duel or Duel()

    def resolved_threads(self) -> tuple[int, ...]:
        """Thread counts with ``all`` replaced by the number of pinned CPUs, duplicates dropped."""
        cpus = len(self.allowed_cpus())
        resolved: list[int] = []
        for threads in self.threads:
            count = cpus if threads == "all" else int(threads)
            if count not in resolved:
                resolved.append(count)
        return tuple(resolved)


def _content_hash(content: dict[str, Any]) -> str:
    # no added phase's section, no device: the hash profiles had before ``phases:`` and ``device:`` existed
    content = {key: value for key, value in content.items()
               if not (key == "phases" and not value) and not (key in ("device", "duel") and value is None)}
    return content_id(content, compact=True)


def _by_name(name: str) -> Path:
    """Where a profile given by name is read from: the copy its results were measured with when they were
    imported from another machine (or when ``params/profiles`` here lacks it), else ``params/profiles``."""
    measured = paths.measured_profile_file(name)
    imported = (paths.results_dir(name) / "imported.json").is_file()
    if measured.is_file() and (imported or not paths.profile_file(name).is_file()):
        return measured
    return paths.profile_file(name)


def load_profile(path_or_name: "str | Path | Profile", name: str | None = None) -> Profile:
    """Read and validate a profile given by file path or by name (see ``_by_name``). ``name``: the name the file
    must declare, where the file is not named after it (a results folder's ``profile.yaml``)."""
    if isinstance(path_or_name, Profile):
        return path_or_name
    candidate = Path(path_or_name)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        path = candidate
    else:
        path = _by_name(str(path_or_name))
        if path == paths.measured_profile_file(str(path_or_name)):
            name = str(path_or_name)
    where = display_path(path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in paths.profiles_dir().glob("*.yaml")))
        raise StudyError(f"{where}: no such profile. Fix: use one of: {known}, or give a path to a .yaml file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyError(f"{where}: malformed YAML{at}: {what}. Fix: correct the YAML syntax there") from None
    except UnicodeDecodeError:
        raise StudyError(f"{where}: not UTF-8 text. Fix: save the profile as UTF-8 YAML") from None
    try:
        profile = Profile.model_validate(data, context={"file_name": name or path.stem})
    except ValidationError as invalid:
        raise one_line(invalid, Profile, where) from None
    # model_dump as the hash's input: every key, defaults included, sections as mappings, lists as tuples
    profile._path, profile._content_hash = path, _content_hash(profile.model_dump(warnings=False))
    return profile


def keep_with_results(profile: Profile) -> None:
    """Copy the profile's YAML into its results folder: whoever gets the folder gets what it was measured with."""
    from study.core.fsutil import write_text_atomic

    target = paths.measured_profile_file(profile.name)
    if profile.path.resolve() == target.resolve():
        return
    text = profile.path.read_text(encoding="utf-8")
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text)


def profile_names() -> list[str]:
    return sorted(p.stem for p in paths.profiles_dir().glob("*.yaml"))
