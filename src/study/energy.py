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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from study.errors import StudyError

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


MODEL_FORMULA = "E = [idle_W + (active_W - idle_W) * u] * t * (n_cpus if scope is per_cpu else 1), u = cpu_s / (t * n_cpus)"


def window_energy(source: str, window: dict, power_model: dict | None = None, meter: tuple | None = None,
                  clock_offset_s: float = 0.0) -> float:
    """Joules of one window recorded by the worker (wall time, CPU time, CPUs, RAPL readings, epoch bounds)."""
    if source == "model":
        utilisation = window["cpu_s"] / (window["wall_s"] * window["cpus"])
        return modelled_watts(power_model["idle_watts"], power_model["active_watts"], power_model["scope"],
                              window["cpus"], utilisation) * window["wall_s"]
    if source == "rapl":
        return window["rapl_j"]
    if source == "meter":
        return integrate_window(meter[0], meter[1], window["start_epoch"], window["end_epoch"], clock_offset_s)
    raise ValueError(f"unknown energy source {source}")
