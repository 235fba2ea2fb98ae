"""Did the device heat up or slow its clocks during the case? The hottest thermal zone and the case's CPUs' mean
current frequency, read from sysfs when the process starts and when it is done. On a board without a fan (a Raspberry
Pi throttles at 80 C) a case that runs hot is measured at a lower clock than its neighbours: flagged, as contention is.
Blank where the kernel exposes neither (most VMs)."""

from __future__ import annotations

import os

from study.core.environment import thermal_snapshot
from study.measure.trackers.base import Field, Tracker

THROTTLE_TEMP_RISE_C = 10.0   # the hottest zone rose by more than this during the case
THROTTLE_FREQ_DROP_PCT = 10.0  # or its CPUs' mean clock fell by more than this


def throttled(temp_before, temp_after, freq_before, freq_after) -> bool | None:
    """The flag from a process's readings (``None`` when neither was readable)."""
    flags = []
    if temp_before is not None and temp_after is not None:
        flags.append(temp_after - temp_before > THROTTLE_TEMP_RISE_C)
    if freq_before and freq_after is not None:
        flags.append(100.0 * (freq_before - freq_after) / freq_before > THROTTLE_FREQ_DROP_PCT)
    return any(flags) if flags else None


class Thermal(Tracker):
    fields = {"temp_before_c": Field("worst", "the hottest thermal zone when the case's process started (deg C; "
                                              "blank without thermal zones)"),
              "temp_after_c": Field("worst", "the hottest thermal zone when its timed runs were done (deg C)"),
              "freq_before_mhz": Field("median", "the mean current clock of the case's CPUs when its process started "
                                                 "(MHz; blank without cpufreq)"),
              "freq_after_mhz": Field("median", "the same when its timed runs were done (MHz)"),
              "throttled": Field("worst", f"True when the hottest zone rose by more than {THROTTLE_TEMP_RISE_C:g} C or "
                                          f"the CPUs' clock fell by more than {THROTTLE_FREQ_DROP_PCT:g}% during a "
                                          f"process: the case ran hot or throttled; blank when not readable")}

    def __init__(self):
        self.readings: dict[str, tuple] = {}

    def _read(self) -> tuple:
        snapshot, cpus = thermal_snapshot(), {str(cpu) for cpu in os.sched_getaffinity(0)}
        temps = list(snapshot["temps_c"].values())
        freqs = [mhz for cpu, mhz in snapshot["freqs_mhz"].items() if cpu in cpus]
        return (max(temps) if temps else None), (sum(freqs) / len(freqs) if freqs else None)

    def stage(self, name: str) -> None:
        if name in ("start", "done"):
            self.readings[name] = self._read()

    def result(self) -> dict:
        (temp0, freq0), (temp1, freq1) = self.readings.get("start", (None, None)), self.readings.get("done", (None, None))
        return {"temp_before_c": temp0, "temp_after_c": temp1, "freq_before_mhz": freq0, "freq_after_mhz": freq1,
                "throttled": throttled(temp0, temp1, freq0, freq1)}
