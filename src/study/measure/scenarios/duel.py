"""A worker that stays loaded and warm and times bursts on request: one contender of a duel (``study.measure.duel``).

The coordinator speaks to it in JSON lines on its standard input; it answers in marked lines on its standard output
(anything a runtime prints there is skipped by the mark). Three requests:

- ``{"op": "burst", "min_ms": 100, "min_calls": 4}``: time calls back to back until both are reached; the answer
  has every call's time (``samples_ms``, the first one after a switch included, for the analysis to drop) and the
  process's CPU time before and after;
- ``{"op": "cpu"}``: the process's CPU time now (every thread's, the kernel's CLOCK_PROCESS_CPUTIME_ID: finer than
  /proc's ticks), read while another contender runs its burst, to see whether this one's idle pool keeps spinning;
- ``{"op": "stop"}`` (or the pipe closing): the scenario ends and the process writes its record as any case does.

``calls_per_sample`` (an option of the spec) makes one sample that many calls: a contender whose true ratio to its
twin is known, to check a duel against.

While serving, the process's own standard output is sent to its standard error, so a runtime that prints cannot
tear a line of the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import time

MARK = "@@duel@@ "


def reply(stream, message: dict) -> None:
    stream.write("\n" + MARK + json.dumps(message) + "\n")
    stream.flush()


def burst(call, min_ms: float, min_calls: int) -> list[float]:
    """Calls back to back until ``min_calls`` and ``min_ms`` are both reached: each call's time (ms)."""
    samples: list[float] = []
    deadline = time.perf_counter_ns() + int(min_ms * 1e6)
    while len(samples) < min_calls or time.perf_counter_ns() < deadline:
        begin = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - begin) / 1e6)
    return samples


def drive(call, backend, inputs, spec, stage, after_each) -> dict:
    repeat = int(spec.options.get("calls_per_sample", 1))  # a contender known to be N times slower: a duel's check
    if repeat > 1:
        once = call

        def call():
            for _ in range(repeat):
                out = once()
            return out

    sys.stdout.flush()
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a runtime's prints go to the log from now on
    bursts = 0
    try:
        stage("timed")
        reply(protocol, {"op": "ready", "cpu_s": time.process_time(), "pid": os.getpid()})
        for line in sys.stdin:
            try:
                request = json.loads(line)
            except ValueError:
                continue  # the coordinator's lines only; a stray line is not a request
            op = request.get("op")
            if op == "stop":
                break
            if op == "cpu":
                reply(protocol, {"op": "cpu", "cpu_s": time.process_time()})
            elif op == "burst":
                before = time.process_time()
                samples = burst(call, float(request.get("min_ms", 100)), int(request.get("min_calls", 4)))
                reply(protocol, {"op": "burst", "samples_ms": samples, "cpu_before_s": before,
                                 "cpu_after_s": time.process_time()})
                bursts += 1
        stage("timed_done")
    finally:
        sys.stdout.flush()
        os.dup2(protocol.fileno(), 1)  # the device worker's record line goes where it always did
        protocol.close()
    return {"bursts": bursts}
