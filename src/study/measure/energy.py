"""Energy over a measurement window, from one of three sources, always labelled with which.

- ``rapl``: Linux powercap counters (``/sys/class/powercap/intel-rapl:*``; AMD exposes the same tree),
  package domains plus DRAM where present, read at the window's boundaries, wrap-around undone with
  ``max_energy_range_uj``. Measured.
- ``meter``: an external USB or bench meter's CSV (``timestamp,watts``) recorded while the study runs;
  energy is the trapezoid integral over exactly the case's window, after a clock offset. Measured.
- ``model``: the profile's power model, idle W + (active W - idle W) x CPU utilisation, where the
  utilisation is the process's CPU time over the window's wall time and pinned CPUs. Modelled: an
  estimate from a published power curve, never pooled with measured numbers.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from study.core.errors import StudyError
from study.core.statistics import mean_t_interval

DEFAULT_POWERCAP = Path("/sys/class/powercap")
MEASURED_SOURCES = ("rapl", "meter")


# --- RAPL ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RaplDomain:
    name: str            # "package-0", "dram", ...
    path: Path
    max_range_uj: int


def rapl_domains(root: Path = DEFAULT_POWERCAP) -> list[RaplDomain]:
    """Package domains and DRAM domains, which do not overlap (core and uncore are inside the package)."""
    domains = []
    for zone in sorted(Path(root).glob("intel-rapl:*")):
        name_file, energy_file = zone / "name", zone / "energy_uj"
        if not (name_file.is_file() and energy_file.is_file()):
            continue
        name = name_file.read_text().strip()
        if name.startswith("package") or name == "dram":
            max_range = int((zone / "max_energy_range_uj").read_text().strip())
            domains.append(RaplDomain(name, zone, max_range))
    return domains


def rapl_available(root: Path = DEFAULT_POWERCAP) -> bool:
    try:
        return any(True for d in rapl_domains(root) if int((d.path / "energy_uj").read_text()) >= 0)
    except (OSError, ValueError):
        return False  # present but unreadable (non-root on recent kernels)


def read_rapl(domains: list[RaplDomain]) -> dict[str, int]:
    return {str(d.path): int((d.path / "energy_uj").read_text().strip()) for d in domains}


def counter_delta_uj(start: int, end: int, max_range_uj: int) -> int:
    """Energy between two readings of a counter that wraps to 0 after ``max_range_uj`` (at most one wrap)."""
    return end - start if end >= start else (max_range_uj - start) + end


def rapl_joules(domains: list[RaplDomain], start: dict[str, int], end: dict[str, int]) -> float:
    return sum(counter_delta_uj(start[str(d.path)], end[str(d.path)], d.max_range_uj) for d in domains) / 1e6


# --- external meter --------------------------------------------------------------------------------

def _timestamp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()


def read_meter_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, watts) from a meter's CSV with a ``timestamp,watts`` header; one clear error if not."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"{path}: meter CSV not found. Fix: point energy.meter_csv at the file your meter recorded")
    times, watts = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"timestamp", "watts"} <= {f.strip() for f in reader.fieldnames}:
            raise StudyError(f"{path}: expected a header 'timestamp,watts', found {reader.fieldnames}. Fix: export "
                             "the meter log with those two columns (timestamp in ISO 8601 or epoch seconds)")
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                times.append(_timestamp(row["timestamp"]))
                watts.append(float(row["watts"]))
            except (ValueError, TypeError):
                raise StudyError(f"{path}: line {line}: cannot read timestamp {row.get('timestamp')!r} and watts "
                                 f"{row.get('watts')!r}. Fix: correct or remove that line") from None
    if len(times) < 2:
        raise StudyError(f"{path}: fewer than two samples. Fix: record the meter for the whole run")
    t, w = np.asarray(times), np.asarray(watts)
    if np.any(np.diff(t) <= 0):
        first = int(np.argmax(np.diff(t) <= 0)) + 3
        raise StudyError(f"{path}: line {first}: timestamps do not increase. Fix: sort the log by time")
    return t, w


def integrate_window(times: np.ndarray, watts: np.ndarray, start: float, end: float, clock_offset_s: float = 0.0,
                     source: str = "meter CSV") -> float:
    """Joules between ``start`` and ``end`` (host epoch seconds), trapezoid rule on the meter's samples.

    ``clock_offset_s`` is added to the meter's timestamps to bring them onto the host's clock.
    """
    t = np.asarray(times, dtype=float) + clock_offset_s
    if start < t[0] or end > t[-1]:
        raise StudyError(f"{source}: the window {start:.3f}-{end:.3f} is not inside the meter's log "
                         f"{t[0]:.3f}-{t[-1]:.3f} (after a clock offset of {clock_offset_s} s). Fix: record the meter "
                         "for the whole run, or set energy.meter_clock_offset_s to the meter's clock error")
    inside = (t > start) & (t < end)
    grid = np.concatenate([[start], t[inside], [end]])
    power = np.interp(grid, t, np.asarray(watts, dtype=float))
    return float(np.sum((power[1:] + power[:-1]) / 2 * np.diff(grid)))


# --- power model -----------------------------------------------------------------------------------

def modelled_watts(idle_watts: float, active_watts: float, scope: str, cpus: int, utilisation: float) -> float:
    """idle + (active - idle) x utilisation, for the pinned CPUs (per_cpu) or the whole device (device)."""
    utilisation = min(max(utilisation, 0.0), 1.0)
    scale = cpus if scope == "per_cpu" else 1
    return scale * (idle_watts + (active_watts - idle_watts) * utilisation)


MODEL_FORMULA = ("E = P x t, P = k x [idle_W + (active_W - idle_W) x u], u = cpu_s / (t x n); per_cpu scope: "
                 "k = n = the case's pinned CPUs; device scope: k = 1, n = every CPU of the device")


def window_energy(source: str, window: dict, power_model: dict | None = None, meter: tuple | None = None,
                  clock_offset_s: float = 0.0) -> float:
    """Joules of one window recorded by the worker (wall time, CPU time, CPUs, RAPL readings, epoch bounds)."""
    if source == "model":
        return modelled_watts(power_model["idle_watts"], power_model["active_watts"], power_model["scope"],
                              window["cpus"], utilisation(window, power_model["scope"])) * window["wall_s"]
    if source == "rapl":
        return window["rapl_j"]
    if source == "meter":
        return integrate_window(meter[0], meter[1], window["start_epoch"], window["end_epoch"], clock_offset_s)
    raise ValueError(f"unknown energy source {source}")


def utilisation(window: dict, scope: str) -> float:
    """CPU time over the window's capacity: the pinned CPUs (per_cpu) or every CPU of the device (device)."""
    capacity = window["cpus"] if scope == "per_cpu" else window.get("device_cpus", window["cpus"])
    return window["cpu_s"] / (window["wall_s"] * capacity)


# --- windows, in the case process -------------------------------------------------------------------

def measure_windows(call, window_seconds: float, windows: int, source: str, rapl_root: str | None = None,
                    log=lambda line: print(line, file=sys.stderr, flush=True)) -> list[dict]:
    """An idle window, then ``windows`` active windows of back-to-back calls, each >= ``window_seconds``.

    Every window records its wall and process CPU time (all threads), its epoch bounds (written to the
    case log, so a meter's CSV can be cut to exactly these windows) and, with RAPL, the joules between
    the counter readings at its boundaries.
    """
    domains = rapl_domains(Path(rapl_root)) if source == "rapl" else []
    if source == "rapl" and not domains:
        from study.core.errors import StudyError

        raise StudyError(f"{rapl_root}: no readable RAPL package domain. Fix: run where powercap counters exist "
                         "(and are readable), or use energy source model or meter")
    cpus = len(os.sched_getaffinity(0))
    recorded = []
    for index in range(windows + 1):
        phase = "idle" if index == 0 else "active"
        rapl_start = read_rapl(domains) if domains else None
        start_epoch, started, cpu_started = time.time(), time.perf_counter(), time.process_time()
        calls = 0
        if phase == "idle":
            time.sleep(window_seconds)
        else:
            while time.perf_counter() - started < window_seconds:
                call()
                calls += 1
        wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        end_epoch = time.time()
        window = {"phase": phase, "index": index, "calls": calls, "wall_s": wall_s, "cpu_s": cpu_s, "cpus": cpus,
                  "device_cpus": os.cpu_count(), "start_epoch": start_epoch, "end_epoch": end_epoch}
        if domains:
            window["rapl_j"] = rapl_joules(domains, rapl_start, read_rapl(domains))
        log(f"energy window {index} {phase}: start {start_epoch:.6f} end {end_epoch:.6f} epoch s, {calls} calls")
        recorded.append(window)
    return recorded


def windows_from_checkpoints(checkpoints: list, windows: int, cpus: int, device_cpus: int) -> list[dict]:
    """Cut the CPU-time checkpoints taken along a case's timed runs into ``windows`` active windows of about
    equal length: for the power model, which needs wall and CPU time, not long windows of their own."""
    points = np.asarray(checkpoints, dtype=float)
    if len(points):  # a checkpoint after no further call (the end's, just after the last call's) bounds no window
        points = points[np.concatenate([[True], np.diff(points[:, 0]) > 0])]
    if len(points) < windows + 1:
        return []
    bounds = np.linspace(points[0, 1], points[-1, 1], windows + 1)
    # each inner bound at the checkpoint nearest its time, yet after the one before and leaving one for each window
    # after it: a slow spell between two checkpoints would otherwise put two bounds on one checkpoint, a window fewer
    cut = [0]
    for index, bound in enumerate(bounds[1:-1], start=1):
        allowed = np.arange(cut[-1] + 1, len(points) - (windows - index))
        cut.append(int(allowed[np.argmin(np.abs(points[allowed, 1] - bound))]))
    cut.append(len(points) - 1)
    recorded = []
    for index, (a, b) in enumerate(zip(cut, cut[1:]), start=1):
        recorded.append({"phase": "active", "index": index, "calls": int(points[b, 0] - points[a, 0]),
                         "wall_s": float(points[b, 1] - points[a, 1]), "cpu_s": float(points[b, 2] - points[a, 2]),
                         "start_epoch": float(points[a, 3]), "end_epoch": float(points[b, 3]), "cpus": cpus,
                         "device_cpus": device_cpus})
    return [w for w in recorded if w["calls"] > 0]


# --- per-case summary, in the parent -----------------------------------------------------------------

def _mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95% t-interval across windows."""
    return mean_t_interval(values)


def summarize_windows(windows: list[dict], batch: int, source: str, power_model: dict | None = None,
                      meter: tuple | None = None, clock_offset_s: float = 0.0) -> dict:
    """Gross and net (idle-subtracted) mJ per inference, inferences per joule and average W, with CIs.

    One inference is one input: a batch-8 call counts 8. Net energy subtracts the idle power times the
    active window's duration: what running the model adds over the device doing nothing. Measured sources
    take the idle power from their idle window; the power model from its own idle term.
    """
    idle = [w for w in windows if w["phase"] == "idle"]
    active = [w for w in windows if w["phase"] == "active"]
    joules = {w["index"]: window_energy(source, w, power_model, meter, clock_offset_s) for w in windows}
    if idle:
        idle_watts = sum(joules[w["index"]] for w in idle) / sum(w["wall_s"] for w in idle)
    elif source == "model":  # the model's own idle power: nothing to measure while the device does nothing
        idle_watts = modelled_watts(power_model["idle_watts"], power_model["active_watts"], power_model["scope"],
                                    active[0]["cpus"], 0.0)
    else:
        raise StudyError("no idle window to subtract for a measured source. Fix: measure the case again")
    gross, net, per_joule, watts, cpu = [], [], [], [], []
    for w in active:
        inferences = w["calls"] * batch
        energy = joules[w["index"]]
        cpu.append(1e3 * w["cpu_s"] / inferences)
        gross.append(1e3 * energy / inferences)
        net.append(1e3 * (energy - idle_watts * w["wall_s"]) / inferences)
        per_joule.append(inferences / energy)
        watts.append(energy / w["wall_s"])
    row = {}
    for name, values in (("gross_mj_per_inference", gross), ("net_mj_per_inference", net),
                         ("inferences_per_joule", per_joule), ("avg_watts", watts), ("cpu_ms_per_inference", cpu)):
        row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = _mean_ci(values)
    row["idle_watts"] = idle_watts
    row["active_seconds"] = sum(w["wall_s"] for w in active)
    row["inferences"] = sum(w["calls"] for w in active) * batch
    row["ms_per_call"] = 1e3 * row["active_seconds"] / sum(w["calls"] for w in active)
    row["cpu_utilisation"] = float(np.mean([utilisation(w, (power_model or {}).get("scope", "per_cpu"))
                                            for w in active]))
    row["window_joules"] = {int(k): v for k, v in joules.items()}
    return row
