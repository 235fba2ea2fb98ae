"""One set of a duel: fresh workers, one per contender, loaded and warm, taking turns in short bursts.

The shared machines' slow spells last seconds and hit each vCPU on its own, so two contenders timed seconds apart
(rounds of fresh processes) rarely see the same one. Here every contender keeps one process alive, pinned to the
same CPUs (``study.measure.scenarios.duel``), and the coordinator runs cycles: in each, every contender in turn (the
order shuffled per cycle, as randomized multiple interleaved trials do: Abedi and Brecht, ICPE 2017) runs one burst
of back-to-back calls of about ``burst_ms`` while the others wait blocked on their pipe. A cycle lasts a few hundred
milliseconds, inside one noise state, so the ratio of two contenders' burst medians in a cycle cancels it. The
statistics (``study.analyze.duels``) drop the first call of each burst (the first after a switch) and the set's
first cycles, and put the interval over several sets of fresh workers (``study.phases.duel``).

Idle pools that spin: a runtime's threads may keep a CPU busy after its call returns (ONNX Runtime's intra-op
spinning, OpenMP's wait policy, pthreadpool), eating the CPU of the contender timed next. Each idle worker's CPU time
is read just before and just after every other contender's burst. A contender seen taking more than ``idle_limit``
of a CPU while idle (in the warm-up cycles, or later) is waited for after each of its bursts, until its CPU time
stops growing (``QUIET_SHARE`` of a CPU over a ``SETTLE_WINDOW_S`` window, at most ``MAX_SETTLE_MS``), before the
next contender starts. The wait is idle time between bursts: how each runtime is called (its threads, its spinning
within a burst) is left as users run it. Every burst's raw samples, wait and idle readings are kept in the record.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from study.core import environment
from study.core.statistics import idle_share
from study.measure.launcher import CaseSpec, Launcher, WorkerError, WorkerSession

READY_TIMEOUT_S = 600     # starting a worker: imports, load, first call and warm-up
BURST_TIMEOUT_S = 120     # one burst beyond its planned length: a hung runtime, not a slow one
MAX_SETTLE_MS = 300.0     # OpenMP's default block time (KMP_BLOCKTIME) is 200 ms: no pool spins longer by default
SETTLE_WINDOW_S = 0.01    # a spinning worker is read every 10 ms until it is quiet
QUIET_SHARE = 0.05        # quiet: under 5% of a CPU over a window (a spinning thread takes all of one)
MAX_WARM_CYCLES = 4       # cycles that find the spinning contenders before the kept ones, at most
# and at least two: a pool that spins after the last burst of a cycle shows in the next cycle's first burst (seen on a
# 2-vCPU Xeon: sets whose one warm cycle had ONNX Runtime last let its spin into the first kept cycle, 40% of a CPU)
MIN_WARM_CYCLES = 2


@dataclass(frozen=True)
class DuelSettings:
    burst_ms: float = 50.0        # each burst: calls back to back for at least this long
    min_calls: int = 3            # and at least this many (the first is dropped: the first after a switch)
    set_seconds: float = 3.0      # kept cycles per set of fresh workers, in seconds
    idle_limit: float = 0.01      # the share of a CPU an idle worker may take while another runs its burst
    spinning: tuple[str, ...] = ()  # contenders already seen spinning (in the duel's earlier sets): waited for at once


def _cpu_of(sessions: dict[str, WorkerSession], names: list[str]) -> dict[str, float]:
    """Each named worker's CPU time now: every request sent first, then every answer read (one round trip)."""
    for name in names:
        sessions[name].send({"op": "cpu"})
    return {name: float(sessions[name].receive(30)["cpu_s"]) for name in names}


def _start(launcher: Launcher, specs: dict[str, CaseSpec], log_dir: Path | None) -> tuple[dict, dict]:
    """Every contender's worker started at once (loading is not timed), then each one's ready line awaited."""
    sessions, failed = {}, {}
    for name, spec in specs.items():
        try:
            log = log_dir / f"duel-{spec.runtime}-{name[:12]}.log" if log_dir else None
            sessions[name] = launcher.start(spec, log)
        except Exception as exc:  # one contender that cannot start is recorded; the others go on
            failed[name] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    for name in list(sessions):
        try:
            message = sessions[name].receive(READY_TIMEOUT_S)
            if message.get("op") != "ready":
                raise WorkerError(f"{sessions[name].label}: its worker said {message.get('op')!r} before ready")
        except WorkerError as exc:
            failed[name] = str(exc)
            sessions.pop(name).close(timeout_s=5)
    return sessions, failed


def _settle(session: WorkerSession) -> float:
    """Wait until a worker's idle pool stops spinning (its CPU time grows by under ``QUIET_SHARE`` of a window): the
    milliseconds waited, at most ``MAX_SETTLE_MS``."""
    begin = time.perf_counter()
    last_cpu, last = float(session.request({"op": "cpu"}, 30)["cpu_s"]), begin
    while (time.perf_counter() - begin) * 1e3 < MAX_SETTLE_MS:
        time.sleep(SETTLE_WINDOW_S)
        cpu, now = float(session.request({"op": "cpu"}, 30)["cpu_s"]), time.perf_counter()
        if (cpu - last_cpu) / (now - last) <= QUIET_SHARE:
            break
        last_cpu, last = cpu, now
    return (time.perf_counter() - begin) * 1e3


def run_set(launcher: Launcher, specs: dict[str, CaseSpec], settings: DuelSettings, seed: int,
            log_dir: Path | None = None) -> dict:
    """One set: every contender of ``specs`` (by name) in a fresh worker, cycles for ``settings.set_seconds`` after
    the warm-up cycles. The set's record: each cycle's order and bursts (samples, the worker's own CPU time, the
    burst's wall time, every idle worker's CPU time during it, and the wait for this worker's pool after it); the
    contenders found spinning; the contenders that failed, with why."""
    rng = np.random.default_rng(seed)
    started_at, started = environment.utc_now(), time.perf_counter()
    sessions, failed = _start(launcher, specs, log_dir)
    cycles: list[dict] = []
    spinning: set[str] = set(settings.spinning) & set(specs)
    try:
        names = sorted(sessions)
        kept_from = None  # the first kept cycle's start
        while len(names) >= 2:
            warm = kept_from is None
            order = [names[i] for i in rng.permutation(len(names))]
            bursts = {}
            for name in order:
                others = [o for o in names if o != name]
                before = _cpu_of(sessions, others)
                begin = time.perf_counter()
                answer = sessions[name].request({"op": "burst", "min_ms": settings.burst_ms,
                                                 "min_calls": settings.min_calls}, BURST_TIMEOUT_S)
                wall = time.perf_counter() - begin
                after = _cpu_of(sessions, others)
                bursts[name] = {"samples_ms": [round(float(v), 5) for v in answer["samples_ms"]],
                                "cpu_s": round(float(answer["cpu_after_s"]) - float(answer["cpu_before_s"]), 6),
                                "wall_s": round(wall, 6),
                                "idle_cpu_s": {o: round(after[o] - before[o], 6) for o in others},
                                "settle_ms": round(_settle(sessions[name]), 2) if name in spinning else 0.0}
            cycles.append({"order": order, "warm": warm, "bursts": bursts})
            seen = {n for n, share in idle_share([cycles[-1]]).items() if share > settings.idle_limit}
            new = seen - spinning
            spinning |= seen
            if warm:
                warmed = sum(c["warm"] for c in cycles)
                if (not new and warmed >= MIN_WARM_CYCLES) or warmed >= MAX_WARM_CYCLES:
                    kept_from = time.perf_counter()
            elif time.perf_counter() - kept_from >= settings.set_seconds:
                break
    except WorkerError as exc:  # a contender died or hung mid-set: the set is kept as far as it went, and says so
        failed.setdefault("set", str(exc))
    except (KeyError, TypeError, ValueError) as exc:  # an answer that is not the protocol (a device is untrusted)
        failed.setdefault("set", f"a worker's answer is malformed ({type(exc).__name__}: {exc})")
    finally:
        with concurrent.futures.ThreadPoolExecutor(max(1, len(sessions))) as pool:
            list(pool.map(lambda session: session.close(), sessions.values()))
    return {"seed": seed, "started_at": started_at, "seconds": round(time.perf_counter() - started, 3),
            "contenders": sorted(specs), "failed": failed, "spinning": sorted(spinning), "cycles": cycles}
