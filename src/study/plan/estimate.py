"""The cost model of a ``bench`` run: how long each kind of work takes, said before anything is measured.

Each phase counts its own work from the profile and what is already on disk (``study.phases``, ``estimate``);
durations come from the profile's timing budget plus the fixed costs per unit of work below, seen on a 2-core
VM. The run record keeps the estimate beside the measured phase times, so a wrong constant shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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
    bound_seconds: float = 0.0  # at most this on top: the race for close calls
    phases: dict = field(default_factory=dict)        # the estimate per phase, calibrated where a record allows,
    #                                                   its expected race included
    bounds: dict = field(default_factory=dict)        # per phase, the most its race may add
    races: dict = field(default_factory=dict)         # per phase, what its race is expected to add (in ``phases``)
    conversions: dict = field(default_factory=dict)   # per phase, the constants' seconds of its conversions
    on_disk: dict = field(default_factory=dict)       # per phase, the artifacts it needs found on disk already
    unrecorded: list = field(default_factory=list)    # the phases no earlier run on this CPU timed
    model_phases: dict = field(default_factory=dict)  # the same from the constants above alone
    sources: dict = field(default_factory=dict)       # per phase: which earlier run calibrated it, or "constants"

    def describe(self) -> str:
        parts = [f"{n} {what}" for what, n in self.counts.items() if n]
        if not parts:
            return "nothing to measure"
        bound = f", up to {(self.seconds + self.bound_seconds) / 60:.0f} min if every duel runs to its time bound" \
            if self.bound_seconds else ""
        return f"{', '.join(parts)}; estimated {self.seconds / 60:.0f} min{bound}"


def artifact_done(model: str, fmt: str, batch: int) -> dict | None:
    from study.build.convert import artifact_path

    record_file = artifact_path(model, fmt, batch).with_name(artifact_path(model, fmt, batch).name + ".json")
    try:
        return json.loads(record_file.read_text()) if record_file.exists() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def built(job: dict) -> bool:
    """Whether a quantization build is on disk already (builds are shared by the profiles of one machine)."""
    from study.core import paths

    return (paths.artifacts_dir() / "quant" / job["id"] / "build.json").exists()


def zoo_variant_count(model: str) -> int:
    """The timed variants of one full-size zoo or shipped model per thread count: those of its PyTorch source (a
    shipped file is quantized as the module onnx2torch makes of it), plus its Keras twin's if it has one."""
    from study.build.quant.zoo import KERAS_TWINS, zoo_variants

    return len(zoo_variants("torch")) + (len(zoo_variants("keras")) if model in KERAS_TWINS else 0)


def latency_case_seconds(timing: dict) -> float:
    """A case's expected time from its budget: start-up, warm-up, the minimum timed time, the no-op loop."""
    return PROCESS_S + max(timing["warmup_seconds"], 0.2) + max(timing["min_seconds"], 0.5) + 0.3


MIN_CALIBRATION_S = 20.0  # a phase estimated or measured shorter than this says little about a per-unit cost


def _planned_work(run: dict, phase: str) -> tuple[float, float]:
    """(seconds taken, seconds the constants said) for a recorded phase's own work: its race (bounded apart) and its
    conversions (a kind of work of their own, estimated apart) left out of both."""
    model = (run.get("estimate_model_phases") or {}).get(phase) or 0.0
    took = (run.get("phases") or {}).get(phase) or 0.0
    took -= (run.get("race_s") or {}).get(phase, 0.0)
    planned = (run.get("estimate_model_conversions") or {}).get(phase)
    if phase in (run.get("conversion_s") or {}) and planned != 0:
        # its conversions were timed: they and their constants come out. With none planned (a record keeps 0), a
        # record written before conversions were timed by their spans (72e4192) counted the phase planning its cases
        # over artifacts on disk as conversions: its own set-up, which stays in ``took``. A newer record's
        # conversion_s is then about 0, so either reading gives the same
        took -= run["conversion_s"][phase]
        model -= planned or 0.0
    return took, model


def unrecorded(runs: list[dict], phases, cpu_id: str) -> list[str]:
    """The phases no earlier run on this CPU timed: their next estimate would have only the constants to go on."""
    timed = {name for run in runs if run.get("cpu_id") == cpu_id for name in (run.get("phases") or {})}
    return [name for name in phases if name not in timed]


def _latest(runs: list[dict], cpu_id: str, read, usable) -> tuple[float, float, str] | None:
    """(seconds taken, seconds it is compared with, run id) from the latest earlier run on this CPU whose pair
    ``read(run)`` is ``usable``: every estimate factor reads this machine's own last record."""
    for run in reversed(runs):
        if run.get("cpu_id") != cpu_id:
            continue
        pair = read(run)
        if pair is not None and usable(*pair):
            return pair[0], pair[1], run.get("run_id", "?")
    return None


def _conversions(run: dict) -> tuple[float, float]:
    timed = run.get("conversion_s") or {}
    return sum(timed.values()), sum((run.get("estimate_model_conversions") or {}).get(p, 0.0) for p in timed)


def conversion_scale(runs: list[dict], cpu_id: str) -> tuple[float, str]:
    """How this machine's conversions compared with the constants in the latest earlier run on this CPU that timed
    enough of them: (factor, where it came from); ``(1.0, "constants")`` when none did."""
    found = _latest(runs, cpu_id, _conversions, lambda took, model: min(took, model) >= MIN_CALIBRATION_S)
    if found:
        took, model, run_id = found
        return took / model, f"run {run_id} ({took:.0f} s of conversions for {model:.0f} s)"
    return 1.0, "constants"


def _fixed_cost(run: dict, phase: str) -> tuple[float, float] | None:
    """(seconds taken beyond the constants, artifacts it found on disk) for a recorded phase the constants said little
    about: the set-up a phase has whatever its work (loading tables, checking what is on disk), which no per-unit
    factor of the constants can scale."""
    if phase not in (run.get("phases") or {}):
        return None
    took, model = _planned_work(run, phase)
    on_disk = (run.get("estimate_on_disk") or {}).get(phase, 0)
    return (max(0.0, took - max(0.0, model)), on_disk) if model < MIN_CALIBRATION_S else None


def calibrated(runs: list[dict], phase: str, seconds: float, cpu_id: str,
               conversions: float = 0.0, on_disk: int = 0) -> tuple[float, str]:
    """``seconds`` (a phase's estimate from the constants, of which ``conversions`` are conversions) scaled kind by
    kind: the phase's own work by how the latest earlier run of the same phase on this CPU compared with its own
    constant-based estimate, its conversions by how this CPU's last timed conversions did. The constants were seen
    on one VM, the records say what this machine takes; a first run converts, a second mostly does not, so one
    factor for both would carry the first run's conversions into the second's estimate. A phase too short to scale
    (its constants under ``MIN_CALIBRATION_S``) adds what it took beyond them last time instead: its set-up, which
    is mostly checking the artifacts on disk, so it scales by how many are there now (``on_disk``) to how many were
    then (a first run's convert phase finds what the latency phase made, a second run every artifact).
    ``(seconds, "constants")`` when no earlier run can tell."""
    work, source = seconds - conversions, "constants"
    found = _latest(runs, cpu_id, lambda run: _planned_work(run, phase),
                    lambda took, model: min(took, model) >= MIN_CALIBRATION_S)
    if found:
        took, model, run_id = found
        work, source = work * took / model, f"run {run_id} ({took:.0f} s for an estimate of {model:.0f} s)"
    else:
        fixed = _latest(runs, cpu_id, lambda run: _fixed_cost(run, phase), lambda extra, then: True)
        if fixed:
            extra, then, run_id = fixed
            scaled = extra * on_disk / then if on_disk and then else extra
            work, source = work + scaled, f"run {run_id} ({extra:.3f} s beyond its constants" + (
                f" with {then} artifact(s) on disk, {on_disk} now)" if on_disk and then else ")")
    if conversions:
        factor, where = conversion_scale(runs, cpu_id)
        conversions *= factor
        if where != "constants":
            source = f"{source}; its conversions from {where}"
    return work + conversions, source


# the share of its bound a race is expected to use when no earlier run on this CPU says: a guess that leans high, since
# a quiet machine's close calls can race far (before the futility rule, a noisy Xeon's raced to the bound); with the
# rule, the same Xeon's races used 0 to 7% (2026-12)
RACE_SHARE = 0.25


RACE_HISTORY = 5  # the races a phase's expected race averages: the latest ones on this CPU


def expected_race(runs: list[dict], phase: str, bound: float, cpu_id: str) -> tuple[float, str]:
    """The seconds a phase's race is expected to take on top of its planned work: its bound (every close call racing
    to the end) times the mean share of their bounds the latest races on this CPU used (up to ``RACE_HISTORY``). How
    long a race goes depends on how noisy the machine is, which its own runs tell best; one race is a draw of that
    (on a 2-core Xeon, 2026-12, host's races took 3, 26, 55 and 0 s of an 806 s bound), so several are averaged."""
    if bound <= 0:
        return 0.0, "no race"
    shares = []
    for run in reversed(runs):
        raced, earlier_bound = (run.get("race_s") or {}).get(phase), (run.get("estimate_bounds") or {}).get(phase)
        if run.get("cpu_id") == cpu_id and raced is not None and earlier_bound:
            shares.append((min(1.0, raced / earlier_bound), run.get("run_id", "?")))
        if len(shares) == RACE_HISTORY:
            break
    if shares:
        share = sum(s for s, _ in shares) / len(shares)
        runs_named = ", ".join(run_id for _, run_id in shares)
        return bound * share, f"{len(shares)} race(s) here used {share:.1%} of their bounds (run {runs_named})"
    return bound * RACE_SHARE, f"constants ({RACE_SHARE:.0%} of the bound)"
