"""The one measurement loop, run inside a case's own process (``study.worker``).

What is run (a runtime's backend: load, predict), how it is driven (a scenario: timed runs until the
profile's budget is met, or energy windows for a counter or meter) and what is observed (trackers:
peak memory at each stage, the native libraries the runtime mapped, CPU time along the timed runs) are
separate, so a zoo model, a quantized variant and an energy case all yield the same fields.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from study.measure import harness_overhead_ms, mapped_libraries, peak_rss_mib, timed_runs

CPU_CHECKPOINT_S = 0.05  # CPU-time checkpoints along the timed runs: windows for the power model are cut from them
DENSE_CHECKPOINTS = 64   # the first calls each get one


class Tracker:
    """Observes one case: told each stage, and called between timed calls (outside the timed interval)."""

    def stage(self, name: str) -> None:
        pass

    def between_calls(self) -> None:
        pass

    def result(self) -> dict:
        return {}


class Memory(Tracker):
    """Peak resident memory (the process's own VmHWM) after import, after load and at the end."""

    def __init__(self):
        self.peaks: dict[str, float] = {}

    def stage(self, name: str) -> None:
        if name in ("imported", "loaded", "done"):
            self.peaks[name] = peak_rss_mib()

    def result(self) -> dict:
        return {"rss_import_mib": self.peaks.get("imported"), "rss_load_mib": self.peaks.get("loaded"),
                "rss_peak_mib": self.peaks.get("done")}


class Libraries(Tracker):
    """The shared libraries the runtime mapped to import, load and run the model: its native footprint."""

    def __init__(self):
        self.before: set[str] = set()
        self.added: list[str] = []

    def stage(self, name: str) -> None:
        if name == "start":
            self.before = mapped_libraries()
        elif name == "first":
            self.added = sorted(mapped_libraries() - self.before)

    def result(self) -> dict:
        size = sum(os.path.getsize(p) for p in self.added if os.path.exists(p))
        return {"native_lib_mib": size / 2**20, "native_libs": self.added}


class CpuTime(Tracker):
    """Wall and process CPU time (all threads) every ~50 ms of timed runs: what a power model needs."""

    def __init__(self):
        self.checkpoints: list[list[float]] = []
        self.calls = 0
        self.active = False

    def _mark(self) -> None:
        self.checkpoints.append([self.calls, time.perf_counter(), time.process_time(), time.time()])

    def stage(self, name: str) -> None:
        if name == "timed":
            self.active, self.calls = True, 0
            self._mark()
        elif name == "timed_done" and self.active:
            self.active = False
            self._mark()

    def between_calls(self) -> None:
        if self.active:
            self.calls += 1
            # every call at first (a short timed phase still yields windows), then every ~50 ms
            if self.calls <= DENSE_CHECKPOINTS or time.perf_counter() - self.checkpoints[-1][1] >= CPU_CHECKPOINT_S:
                self._mark()

    def result(self) -> dict:
        return {"cpu_checkpoints": self.checkpoints, "cpus": len(os.sched_getaffinity(0)),
                "device_cpus": os.cpu_count()}


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


TRACKERS = {"memory": Memory, "libraries": Libraries, "cpu": CpuTime, "contention": Contention}


def _model(spec: dict):
    """The zoo or bring-your-own model, or a bare input description (a quantized variant needs only that)."""
    from study.models import ModelSpec, get_model

    if spec.get("model_input"):
        given = spec["model_input"]
        return ModelSpec(spec.get("model") or "variant", given["framework"], tuple(given["shape"]),
                         "described by its input", lambda: None)
    return get_model(spec["model"])


def run(spec: dict) -> dict:
    """Resolve, load, first call, warm-up, then the scenario; every tracker's fields in the result."""
    from study.registry import resolve
    from study.runtimes import RUNTIMES

    trackers = [TRACKERS[name]() for name in spec.get("trackers", list(TRACKERS))]

    def stage(name: str) -> None:
        for tracker in trackers:
            tracker.stage(name)

    model = _model(spec)
    inputs = model.example_input(batch=spec["batch"])
    timing = spec["timing"]
    stage("start")

    started = time.perf_counter()
    backend_class = resolve(RUNTIMES[spec["runtime"]].backend)
    import_ms = (time.perf_counter() - started) * 1e3
    stage("imported")

    backend = backend_class(threads=spec["threads"])
    started = time.perf_counter()
    backend.load(Path(spec["artifact"]), model, spec["batch"])
    load_ms = (time.perf_counter() - started) * 1e3
    stage("loaded")

    started = time.perf_counter()
    output = backend.predict(inputs)
    first_ms = (time.perf_counter() - started) * 1e3
    stage("first")

    call = lambda: backend.predict(inputs)  # noqa: E731
    warmup = timed_runs(call, max(timing["warmup_runs"], 1), timing["warmup_seconds"], timing["max_seconds"])
    result = {"status": "ok", "import_ms": import_ms, "load_ms": load_ms, "first_ms": first_ms, "warmup_ms": warmup,
              "output_shape": list(getattr(output, "shape", ()))}
    scenario = spec.get("scenario", "latency")
    if scenario == "latency":
        observers = [t.between_calls for t in trackers if type(t).between_calls is not Tracker.between_calls]
        after_each = (lambda: [observe() for observe in observers]) if observers else None
        stage("timed")
        result["samples_ms"] = timed_runs(call, timing["min_runs"], timing["min_seconds"], timing["max_seconds"],
                                          timing.get("target_ci", 0.0), after_each=after_each)
        stage("timed_done")
        result["harness_overhead_ms"] = harness_overhead_ms()
    elif scenario == "sustained":  # one continuous run: does the rate hold, or does the device throttle?
        from study.measure import sustained_runs

        observers = [t.between_calls for t in trackers if type(t).between_calls is not Tracker.between_calls]
        stage("timed")
        result["samples_ms"], result["offsets_s"] = sustained_runs(
            call, spec["seconds"], after_each=(lambda: [observe() for observe in observers]) if observers else None)
        stage("timed_done")
    elif scenario == "operators":  # the runtime's own profiler: time per operator
        result["operators"] = backend.profile_operators(inputs, spec["runs"])
    elif scenario == "windows":  # a counter or a meter needs long windows and an idle one
        from study.energy import measure_windows

        settings = spec["energy"]
        result["windows"] = measure_windows(call, settings["window_seconds"], settings["windows"],
                                            settings["source"], settings.get("rapl_root"))
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    stage("done")
    for tracker in trackers:
        result.update(tracker.result())
    return result
