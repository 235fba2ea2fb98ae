"""What else ran on the case's CPUs during the timed runs: the hypervisor's steal time, and other processes' share."""

from __future__ import annotations

import os
import time

from study.measure.trackers.base import Field, Tracker


def _cpu_ticks(cpus, stat_path: str = "/proc/stat") -> tuple[int, int, int]:
    """(steal, busy, total) clock ticks of ``cpus`` since boot, from /proc/stat; zeros where there is none.
    Busy is what ran on them (user, nice, system, irq, softirq): not idle, not waiting for I/O, not stolen."""
    steal = busy = total = 0
    try:
        with open(stat_path, encoding="ascii") as stat:
            for line in stat:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                    ticks = ([int(f) for f in fields[:8]] + [0] * 8)[:8]  # user nice system idle iowait irq softirq steal
                    total += sum(ticks)
                    steal += ticks[7]
                    busy += ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]
    except OSError:
        pass
    return steal, busy, total


MIN_TICKS = 100  # clock ticks over the case's CPUs (1 s of one CPU) before a share of them is a percentage
CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


class Contention(Tracker):
    fields = {"steal_pct": Field("worst", "hypervisor steal time on the case's CPUs during the timed runs, % of their CPU "
                                          "time (/proc/stat); blank when the runs lasted under 100 clock ticks of those CPUs"),
              "others_pct": Field("worst", "CPU time other processes took on the case's CPUs during the timed runs: their "
                                           "busy time minus the case's own CPU time, % of their time; blank under 100 "
                                           "clock ticks"),
              "involuntary_switches_per_s": Field("median", "involuntary context switches of the case process per second "
                                                            "of timed runs (recorded, not judged: a runtime's own "
                                                            "threads pre-empt each other)"),
              "loadavg_1m": Field("worst", "the machine's 1-minute load average at the timed runs' start or end, "
                                           "whichever is higher")}

    """What else ran on the case's CPUs during the timed runs: the hypervisor's steal time, and other processes'
    share (the CPUs' busy time minus this process's own CPU time). Also this process's involuntary context
    switches and the 1-minute load average, recorded but not judged: a runtime's own threads pre-empt each other
    (TensorFlow's pool does thousands of times a second), and the load average covers the last minute."""

    def __init__(self):
        self.marks: dict[str, tuple] = {}

    def _mark(self) -> tuple:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of the process
        return (time.perf_counter(), usage.ru_nivcsw, time.process_time(), *_cpu_ticks(os.sched_getaffinity(0)),
                os.getloadavg()[0])

    def stage(self, name: str) -> None:
        if name in ("timed", "timed_done"):
            self.marks[name] = self._mark()

    def result(self) -> dict:
        if set(self.marks) != {"timed", "timed_done"}:
            return {}
        (t0, switches0, own0, steal0, busy0, total0, load0), (t1, switches1, own1, steal1, busy1, total1, load1) = \
            self.marks["timed"], self.marks["timed_done"]
        ticks = total1 - total0
        enough = ticks >= MIN_TICKS  # a tick is 10 ms: over a short window one tick would read as several per cent
        others = (busy1 - busy0) * CLOCK_TICK_S - (own1 - own0)
        return {"steal_pct": 100.0 * (steal1 - steal0) / ticks if enough else None,
                "others_pct": max(0.0, 100.0 * others / (ticks * CLOCK_TICK_S)) if enough else None,
                "involuntary_switches_per_s": (switches1 - switches0) / max(t1 - t0, 1e-9),
                "loadavg_1m": max(load0, load1)}
