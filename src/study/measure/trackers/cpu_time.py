"""Wall and process CPU time (all threads) every ~50 ms of timed runs: what a power model needs."""

from __future__ import annotations

import os
import time

from study.measure.trackers.base import Field, Tracker

CPU_CHECKPOINT_S = 0.05  # CPU-time checkpoints along the timed runs: windows for the power model are cut from them
DENSE_CHECKPOINTS = 64   # the first calls each get one


class CpuTime(Tracker):
    fields = {"cpu_checkpoints": Field("kept", "[calls, wall s, process CPU s, epoch s] along the timed runs"),
              "cpus": Field("kept", "CPUs the process was pinned to"),
              "device_cpus": Field("kept", "CPUs of the machine")}

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
