"""Device profiles: how and where to measure, read from ``params/profiles/<name>.yaml``.

A profile is validated field by field against ``SCHEMA``; the first problem found becomes one
``StudyError`` line naming the file, the field and the fix.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from study.core import paths
from study.core.errors import StudyError
from study.core.fsutil import display_path
from study.build.models import MODELS
from study.core.runtimes import RUNTIMES

ENERGY_SOURCES = ("model", "rapl", "meter")
POWER_SCOPES = ("per_cpu", "device")  # watts for each pinned CPU, or for the whole device


@dataclass(frozen=True)
class Timing:
    warmup_runs: int
    warmup_seconds: float
    min_runs: int
    min_seconds: float
    max_seconds: float
    target_ci: float
    processes: int = 3   # separate processes per case, interleaved with other cases: the CI covers reruns


@dataclass(frozen=True)
class PowerModel:
    idle_watts: float
    active_watts: float
    scope: str
    source: str


@dataclass(frozen=True)
class Energy:
    source: str
    power_model: PowerModel
    window_seconds: float
    windows: int
    batch_sizes: tuple[int, ...] | None = None   # None: every batch size of the profile
    rapl_root: str = "/sys/class/powercap"
    meter_csv: str | None = None
    meter_clock_offset_s: float = 0.0
    other_power_models: tuple[PowerModel, ...] = ()  # further published coefficient sets: modelled energy is a range

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


@dataclass(frozen=True)
class Quantization:
    datasets: tuple[str, ...]   # digits, tones, or a CSV path,label,group of your images
    models: tuple[str, ...]     # names from study.build.quant.nets.QUANT_MODELS
    seeds: int                  # training seeds per (dataset, model)
    epochs: int
    zoo_models: tuple[str, ...] = ()  # full-size zoo models quantized by every scheme, judged by fidelity
    shipped_models: tuple[str, ...] = ()  # trained files people ship, quantized, judged by their task on real images


@dataclass(frozen=True)
class Operators:
    models: tuple[str, ...]   # whose operators are profiled, in every runtime of the profile that has a profiler
    runs: int                 # profiled inferences per runtime


@dataclass(frozen=True)
class Sustained:
    seconds: float            # one continuous run per model, of the runtime with the best p50
    models: tuple[str, ...] | None = None   # None: every model of the profile


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    threads: tuple[int | str, ...]
    cpu_affinity: tuple[int, ...] | str
    batch_sizes: tuple[int, ...]
    models: tuple[str, ...]
    conversion_models: tuple[str, ...]
    runtimes: tuple[str, ...]
    timing: Timing
    energy: Energy | None              # None: energy is not measured for this profile
    quantization: Quantization | None  # None: the quantization study is not run for this profile
    path: Path
    content_hash: str
    operators: Operators | None = None   # None: no operator profiles for this profile
    sustained: Sustained | None = None   # None: no sustained-load run

    def allowed_cpus(self) -> tuple[int, ...]:
        """The CPUs this profile pins each case to, checked against this machine."""
        available = sorted(os.sched_getaffinity(0))
        if self.cpu_affinity == "all":
            return tuple(available)
        missing = [cpu for cpu in self.cpu_affinity if cpu not in available]
        if missing:
            raise StudyError(
                f"{display_path(self.path)}: cpu_affinity: CPU {missing} not available on this machine "
                f"(available: {available}). Fix: list CPUs from {available}, or write cpu_affinity: all"
            )
        return tuple(self.cpu_affinity)

    def resolved_threads(self) -> tuple[int, ...]:
        """Thread counts with ``all`` replaced by the number of pinned CPUs, duplicates dropped."""
        cpus = len(self.allowed_cpus())
        resolved: list[int] = []
        for threads in self.threads:
            count = cpus if threads == "all" else int(threads)
            if count not in resolved:
                resolved.append(count)
        return tuple(resolved)


# --- schema -------------------------------------------------------------------------------------
# Each checker returns the cleaned value or raises _Invalid(message, fix).


class OptionalKey:
    """A key that may be left out, with the value it then takes."""

    def __init__(self, check: Callable[[Any], Any], default: Any):
        self.check, self.default = check, default

    def __call__(self, value):
        return self.check(value)

    @property
    def schema(self):
        return getattr(self.check, "schema", None)


class _Invalid(Exception):
    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message, self.fix = message, fix


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, str) else repr(value)


def _int(minimum: int) -> Callable[[Any], int]:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"expected a whole number >= {minimum}, got {_describe(value)}",
                           f"write a whole number such as {max(minimum, 1) * 10}")
        return value
    return check


def _number(minimum: float) -> Callable[[Any], float]:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise _Invalid(f"expected a number >= {minimum}, got {_describe(value)}",
                           f"write a number such as {max(minimum, 1.0)}")
        return float(value)
    return check


def _text(value):
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"expected non-empty text, got {_describe(value)}", "write a short sentence in quotes")
    return value.strip()


def _one_of(choices: tuple[str, ...], what: str) -> Callable[[Any], str]:
    def check(value):
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise _Invalid(f"unknown {what} {value!r}{hint}", f"use one of: {', '.join(choices)}")
        return value
    return check


def _list_of(item: Callable[[Any], Any], example: str) -> Callable[[Any], tuple]:
    def check(value):
        if not isinstance(value, list) or not value:
            raise _Invalid(f"expected a non-empty list, got {_describe(value)}", f"write a list such as {example}")
        cleaned = []
        for index, element in enumerate(value):
            try:
                cleaned.append(item(element))
            except _Invalid as invalid:
                raise _Invalid(f"item {index}: {invalid.message}", invalid.fix) from None
        if len(set(map(str, cleaned))) != len(cleaned):
            raise _Invalid("has duplicate entries", "list each entry once")
        return tuple(cleaned)
    return check


def _threads_item(value):
    if value == "all":
        return value
    try:
        return _int(1)(value)
    except _Invalid:
        raise _Invalid(f"expected a whole number >= 1 or 'all', got {_describe(value)}",
                       "write thread counts such as [1, 2] or [all]") from None


def _model_ref(value):
    from study.build.models import check_model_ref

    if not isinstance(value, str):
        raise _Invalid(f"expected a model name, file or factory, got {_describe(value)}",
                       f"use one of: {', '.join(MODELS)}, a model file, or package.module:factory")
    try:
        check_model_ref(value)
    except StudyError as problem:
        message, _, fix = str(problem).partition(". Fix: ")
        close = difflib.get_close_matches(value, MODELS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise _Invalid(message + hint, fix) from None
    return value


def _conversion_models(value):
    if value == "zoo":
        return tuple(MODELS)
    return _list_of(_model_ref, "zoo or [digits_cnn, lstm_classifier]")(value)


def _affinity(value):
    if value == "all":
        return value
    return _list_of(_int(0), "[0] or all")(value)


def _section(schema: dict[str, Any]) -> Callable[[Any], dict]:
    def check(value):
        if not isinstance(value, dict):
            raise _Invalid(f"expected a mapping of {', '.join(schema)}, got {_describe(value)}",
                           f"write the keys {', '.join(schema)} indented under it")
        return value
    check.schema = schema  # type: ignore[attr-defined]
    return check


def _power_model_item(value):
    if not isinstance(value, dict):
        raise _Invalid(f"expected a mapping of idle_watts, active_watts, scope, source, got {_describe(value)}",
                       "write each power model as a mapping like power_model")
    cleaned = {}
    for key, check in POWER_MODEL_SCHEMA.items():
        if key not in value:
            raise _Invalid(f"{key}: missing", f"add '{key}:' to it (see power_model)")
        try:
            cleaned[key] = check(value[key])
        except _Invalid as invalid:
            raise _Invalid(f"{key}: {invalid.message}", invalid.fix) from None
    unknown = sorted(set(value) - set(POWER_MODEL_SCHEMA))
    if unknown:
        raise _Invalid(f"unknown key {unknown[0]!r}", f"use only {', '.join(POWER_MODEL_SCHEMA)}")
    return cleaned


POWER_MODEL_SCHEMA = {
    "idle_watts": _number(0.0),
    "active_watts": _number(0.0),
    "scope": _one_of(POWER_SCOPES, "power scope"),
    "source": _text,
}
ENERGY_SCHEMA = {
    "source": _one_of(ENERGY_SOURCES, "energy source"),
    "power_model": _section(POWER_MODEL_SCHEMA),
    "window_seconds": OptionalKey(_number(0.01), 10.0),  # rapl/meter: each window at least this long
    "windows": _int(2),                # repeated windows per case, for a CI
    "batch_sizes": OptionalKey(_list_of(_int(1), "[1]"), None),
    "rapl_root": OptionalKey(_text, "/sys/class/powercap"),
    "meter_csv": OptionalKey(_text, None),
    "meter_clock_offset_s": OptionalKey(_number(-1e9), 0.0),
    "other_power_models": OptionalKey(_list_of(_power_model_item, "[{idle_watts: 0.47, active_watts: 1.69, "
                                                                   "scope: per_cpu, source: ...}]"), ()),
}
def _dataset_ref(value):
    from study.build.quant.datasets import BUILTIN

    if value in BUILTIN:
        return value
    if isinstance(value, str) and value.endswith(".csv"):
        path = Path(value) if Path(value).is_absolute() else paths.root() / value
        if not path.is_file():
            raise _Invalid(f"dataset CSV '{value}' not found", "give a CSV with columns path,label,group")
        return value
    raise _Invalid(f"unknown dataset {value!r}", f"use {', '.join(BUILTIN)} or a CSV path,label,group of your images")


def _quant_model(value):
    from study.build.quant.nets import QUANT_MODELS

    return _one_of(tuple(QUANT_MODELS), "quantization model")(value)


def _zoo_model(value):
    from study.build.quant.zoo import KERAS_TWINS

    return _one_of(tuple(KERAS_TWINS), "zoo model with a Keras twin")(value)


def _shipped_model(value):
    from study.build.models import MODELS, get_model

    return _one_of(tuple(m for m in MODELS if get_model(m).task is not None), "shipped model")(value)


QUANTIZATION_SCHEMA = {
    # absent datasets and models: no small model is trained (a profile that only quantizes zoo models)
    "datasets": OptionalKey(_list_of(_dataset_ref, "[digits, tones]"), ()),
    "models": OptionalKey(_list_of(_quant_model, "[mobilenet_small, plain_cnn, keras_mobilenet_small]"), ()),
    "seeds": OptionalKey(_int(1), 3),
    "epochs": OptionalKey(_int(1), 12),
    "zoo_models": OptionalKey(_list_of(_zoo_model, "[mobilenet_v2, resnet18]"), ()),
    "shipped_models": OptionalKey(_list_of(_shipped_model, "[blazeface, ppocr_det, ppocr_cls]"), ()),
}
TIMING_SCHEMA = {
    "warmup_runs": _int(0),
    "warmup_seconds": _number(0.0),
    "min_runs": _int(1),
    "min_seconds": _number(0.0),
    "max_seconds": _number(0.001),
    "target_ci": _number(0.0),
    "processes": OptionalKey(_int(1), 3),  # each case in this many separate processes, interleaved with the others
}
OPERATORS_SCHEMA = {
    "models": _list_of(_model_ref, "[mobilenet_v2, resnet18]"),
    "runs": OptionalKey(_int(1), 20),
}
SUSTAINED_SCHEMA = {
    "seconds": _number(1.0),
    "models": OptionalKey(_list_of(_model_ref, "[mobilenet_v2, resnet18]"), None),
}
SCHEMA = {
    "name": _text,
    "description": _text,
    "threads": _list_of(_threads_item, "[1] or [1, all]"),
    "cpu_affinity": _affinity,
    "batch_sizes": _list_of(_int(1), "[1, 8]"),
    "models": _list_of(_model_ref, "[mobilenet_v2]"),
    "conversion_models": _conversion_models,
    "runtimes": _list_of(_one_of(tuple(RUNTIMES), "runtime"), "[torch_eager, onnxruntime, litert]"),
    "timing": _section(TIMING_SCHEMA),
    "energy": OptionalKey(_section(ENERGY_SCHEMA), None),              # absent: energy is not measured
    "quantization": OptionalKey(_section(QUANTIZATION_SCHEMA), None),  # absent: no quantization study
    "operators": OptionalKey(_section(OPERATORS_SCHEMA), None),        # absent: no operator profiles
    "sustained": OptionalKey(_section(SUSTAINED_SCHEMA), None),        # absent: no sustained-load run
}


def _validate_mapping(data: Any, schema: dict[str, Any], prefix: str, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise StudyError(f"{where}: expected a mapping of {', '.join(schema)} at the top level, "
                         f"got {_describe(data)}. Fix: start from params/profiles/ci.yaml")
    for key in data:
        if key not in schema:
            close = difflib.get_close_matches(str(key), schema, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise StudyError(f"{where}: {prefix}{key}: unknown key. Fix: {hint}remove it or use one of: "
                             f"{', '.join(schema)}")
    cleaned: dict[str, Any] = {}
    for key, check in schema.items():
        field = f"{prefix}{key}"
        if key not in data and isinstance(check, OptionalKey):
            cleaned[key] = check.default
            continue
        if key not in data:
            raise StudyError(f"{where}: {field}: missing. Fix: add '{key}:' (see params/profiles/ci.yaml)")
        try:
            value = check(data[key])
        except _Invalid as invalid:
            raise StudyError(f"{where}: {field}: {invalid.message}. Fix: {invalid.fix}") from None
        nested = getattr(check, "schema", None)
        cleaned[key] = _validate_mapping(value, nested, f"{field}.", where) if nested and value is not None else value
    return cleaned


def _content_hash(cleaned: dict[str, Any]) -> str:
    canonical = json.dumps(cleaned, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


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
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyError(f"{where}: malformed YAML{at}: {problem}. Fix: correct the YAML syntax there") from None
    except UnicodeDecodeError:
        raise StudyError(f"{where}: not UTF-8 text. Fix: save the profile as UTF-8 YAML") from None
    cleaned = _validate_mapping(data, SCHEMA, "", where)
    expected = name or path.stem
    if cleaned["name"] != expected:
        raise StudyError(f"{where}: name: '{cleaned['name']}' differs from the file name '{expected}'. "
                         f"Fix: write name: {expected} (results are stored under the name)")
    energy = cleaned["energy"]
    if energy is not None:
        _check_energy(energy, cleaned["batch_sizes"], where)
    timing = cleaned["timing"]
    if timing["max_seconds"] < timing["min_seconds"]:
        raise StudyError(f"{where}: timing.max_seconds: {timing['max_seconds']} is below min_seconds "
                         f"{timing['min_seconds']}. Fix: raise max_seconds or lower min_seconds")
    return Profile(
        name=cleaned["name"],
        description=cleaned["description"],
        threads=cleaned["threads"],
        cpu_affinity=cleaned["cpu_affinity"],
        batch_sizes=cleaned["batch_sizes"],
        models=cleaned["models"],
        conversion_models=cleaned["conversion_models"],
        runtimes=cleaned["runtimes"],
        timing=Timing(**timing),
        energy=Energy(**{**energy, "power_model": PowerModel(**energy["power_model"]),
                         "other_power_models": tuple(PowerModel(**m) for m in energy["other_power_models"])})
        if energy else None,
        quantization=Quantization(**cleaned["quantization"]) if cleaned["quantization"] else None,
        path=path,
        content_hash=_content_hash(cleaned),
        operators=Operators(**cleaned["operators"]) if cleaned["operators"] else None,
        sustained=Sustained(**cleaned["sustained"]) if cleaned["sustained"] else None,
    )


def _check_energy(energy: dict, batch_sizes: tuple, where: str) -> None:
    power = energy["power_model"]
    if power["active_watts"] < power["idle_watts"]:
        raise StudyError(f"{where}: energy.power_model.active_watts: {power['active_watts']} is below idle_watts "
                         f"{power['idle_watts']}. Fix: active power must be at least idle power")
    if energy["source"] == "meter" and not energy["meter_csv"]:
        raise StudyError(f"{where}: energy.meter_csv: missing for source meter. Fix: give the path of the CSV "
                         "(timestamp,watts) your meter records while the study runs")
    unknown_batch = sorted(set(energy["batch_sizes"] or ()) - set(batch_sizes))
    if unknown_batch:
        raise StudyError(f"{where}: energy.batch_sizes: {unknown_batch} not in batch_sizes. Fix: list batch sizes "
                         f"from {list(batch_sizes)}")


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
