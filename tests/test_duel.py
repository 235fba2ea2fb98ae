"""Duels: contenders' workers kept loaded and warm, taking turns in bursts (``study.measure.duel``), judged over sets
of fresh workers (``study.analyze.duels``) with a bounded number of looks (``study.phases.duel``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from study.analyze.comparisons import EQUIVALENT, FASTER, UNDETERMINED, half_width_pct

TIMING = {"warmup_runs": 2, "warmup_seconds": 0.0, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 5}


def synthetic_set(rng, ratios: dict[str, float], cycles: int = 20, state_sd: float = 0.3, burst_sd: float = 0.03,
                  set_shift: dict[str, float] | None = None, calls: int = 8) -> dict:
    """A set whose cycles share a noise state (log-normal, ``state_sd``), each contender's burst its true time times
    that state, its own shift for this set of fresh workers, and a little noise of its own."""
    out = []
    for index in range(cycles + 1):
        state = math.exp(rng.normal(0, state_sd))
        bursts = {}
        for name, ratio in ratios.items():
            level = ratio * state * math.exp((set_shift or {}).get(name, 0.0))
            samples = [3 * level] + list(level * np.exp(rng.normal(0, burst_sd, calls)))  # a slow first call
            bursts[name] = {"samples_ms": samples, "cpu_s": 0.05, "wall_s": 0.05,
                            "idle_cpu_s": {o: 0.0 for o in ratios if o != name}, "settle_ms": 0.0}
        out.append({"order": list(ratios), "warm": index == 0, "bursts": bursts})
    return {"seconds": 1.0, "contenders": sorted(ratios), "failed": {}, "spinning": [], "cycles": out}


def record_of(sets: list[dict], looks=(3, 5, 8)) -> dict:
    names = sets[0]["contenders"]
    return {"case_id": "x", "status": "ok", "sets": sets,
            "inputs": {"model": "m", "dataset": "", "threads": 1, "batch": 1, "precision": "fp32",
                       "settings": {"looks": list(looks)},
                       "contenders": {n: {"runtime": n, "variant": "v", "label": n} for n in names}}}


def test_the_burst_median_drops_the_first_call_after_a_switch():
    from study.analyze.duels import burst_median

    assert burst_median([100.0, 5.0, 6.0, 7.0]) == 6.0
    assert burst_median([5.0]) == 5.0


def test_a_shared_noise_state_cancels_in_each_cycle_and_the_ratio_is_found():
    """Noise states that make a cycle 30% slower or faster (log sd 0.3) cancel in the cycle's ratio: a 15% gap is
    found with a narrow interval, and the pick is the faster contender."""
    from study.analyze.duels import comparisons, pick_and_runner_up

    rng = np.random.default_rng(1)
    sets = [synthetic_set(rng, {"A": 1.0, "B": 1.15, "C": 3.0}) for _ in range(5)]
    judged = pick_and_runner_up(record_of(sets))
    assert (judged.a, judged.b, judged.outcome) == ("A", "B", FASTER)
    assert judged.low < 1 / 1.15 < judged.high and half_width_pct(judged) < 3
    rows = comparisons(record_of(sets), "p")
    assert [r["runtime_b"] for r in rows] == ["B", "C"] and rows[0]["role"] == "runner-up"
    assert rows[0]["sets"] == 5 and rows[0]["cycles"] == 100 and rows[0]["level"] == pytest.approx(1 - 0.05 / 3)


def test_fresh_workers_that_differ_widen_the_interval_over_sets():
    """Each set of fresh workers lands its weights elsewhere (a shift per set, sd 3%): the interval is over the sets,
    so it covers the true ratio as often as it says, where one over the cycles would not."""
    from study.analyze.duels import judge

    rng = np.random.default_rng(7)
    covered, trials = 0, 200
    for _ in range(trials):
        sets = [synthetic_set(rng, {"A": 1.0, "B": 1.0}, cycles=10, set_shift={"A": rng.normal(0, 0.03)})
                for _ in range(5)]
        judged = judge(record_of(sets), "A", "B")
        covered += judged.low <= 1.0 <= judged.high
    assert covered / trials >= 0.95


def test_the_planned_looks_keep_the_reported_interval_honest():
    """Duels of two equal runtimes stopped at the first of 3, 5 or 8 sets whose interval is within ±5%: with the
    Bonferroni level per look, the interval reported covers the true ratio at least 95% of the time."""
    from study.analyze.duels import judge

    rng = np.random.default_rng(3)
    covered, trials, stopped_early = 0, 300, 0
    for _ in range(trials):
        sets = []
        for count in range(1, 9):
            sets.append(synthetic_set(rng, {"A": 1.0, "B": 1.0}, cycles=6, state_sd=0.1, burst_sd=0.05,
                                      set_shift={"A": rng.normal(0, 0.02)}))
            if count in (3, 5, 8):
                judged = judge(record_of(sets), "A", "B")
                if half_width_pct(judged) <= 5 or count == 8:
                    stopped_early += count < 8
                    break
        covered += judged.low <= 1.0 <= judged.high
    assert covered / trials >= 0.95 and stopped_early > 0


def test_an_a_a_duel_of_synthetic_equal_contenders_is_equivalent():
    from study.analyze.duels import judge

    rng = np.random.default_rng(11)
    sets = [synthetic_set(rng, {"A": 1.0, "B": 1.0}) for _ in range(5)]
    judged = judge(record_of(sets), "A", "B")
    assert judged.outcome == EQUIVALENT and judged.low < 1 < judged.high


def test_one_set_decides_nothing():
    from study.analyze.duels import judge

    rng = np.random.default_rng(2)
    judged = judge(record_of([synthetic_set(rng, {"A": 1.0, "B": 2.0})]), "A", "B")
    assert judged.outcome == UNDETERMINED and judged.rounds == 1 and "one set detects nothing" in judged.sentence()


def test_idle_workers_cpu_is_a_share_of_the_bursts_they_sat_through():
    from study.core.statistics import idle_share

    cycles = [{"bursts": {"A": {"wall_s": 0.1, "idle_cpu_s": {"B": 0.01}},
                          "B": {"wall_s": 0.1, "idle_cpu_s": {"A": 0.0}}}}]
    assert idle_share(cycles) == {"B": pytest.approx(0.1), "A": 0.0}


# --- real workers: one process per contender, kept alive ----------------------------------------------------------

def _spec(artifact, runtime: str, threads: int = 1, cpus=(0,), **options):
    from study.measure.launcher import CaseSpec

    return CaseSpec("duel", "digits_cnn", runtime, str(artifact), threads, 1, cpus, TIMING, trackers=(),
                    options={"import_unpinned": True, **options})


def _duel(specs: dict, sets: int, **settings) -> dict:
    from study.measure.duel import DuelSettings, run_set
    from study.measure.launcher import LocalLauncher

    how = DuelSettings(**{"burst_ms": 20.0, "set_seconds": 0.6, **settings})
    return record_of([run_set(LocalLauncher(), specs, how, seed=s) for s in range(sets)])


@pytest.fixture
def onnx_file(bench_root):
    from study.build.convert import ensure_artifact

    artifact = ensure_artifact("digits_cnn", "onnx", log=lambda line: None)
    assert artifact.ok
    return artifact.path


def test_the_same_artifact_in_two_workers_is_equivalent_and_covers_one(onnx_file):
    from study.analyze.duels import judge

    record = _duel({"one": _spec(onnx_file, "onnxruntime"), "two": _spec(onnx_file, "onnxruntime")}, sets=4)
    judged = judge(record, "one", "two")
    assert not any(s["failed"] for s in record["sets"]), [s["failed"] for s in record["sets"]]
    assert judged.low <= 1.0 <= judged.high, judged.sentence()
    assert judged.outcome in (EQUIVALENT, UNDETERMINED)  # equivalent on a quiet machine; never a difference
    every = [b for s in record["sets"] for c in s["cycles"] for b in c["bursts"].values()]
    assert all(len(b["samples_ms"]) >= 3 and set(b["idle_cpu_s"]) for b in every)  # raw samples and idle readings kept


def test_a_contender_that_runs_the_model_twice_a_sample_measures_two(onnx_file):
    from study.analyze.duels import judge

    record = _duel({"once": _spec(onnx_file, "onnxruntime"),
                    "twice": _spec(onnx_file, "onnxruntime", calls_per_sample=2)}, sets=4)
    judged = judge(record, "twice", "once")
    assert judged.outcome != FASTER and judged.low <= 2.0 <= judged.high and 1.8 < judged.ratio < 2.2, \
        judged.sentence()


def test_a_worker_that_dies_is_one_line_and_the_set_ends(onnx_file, tmp_path):
    from study.measure.duel import DuelSettings, run_set
    from study.measure.launcher import LocalLauncher

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    found = run_set(LocalLauncher(), {"good": _spec(onnx_file, "onnxruntime"), "bad": _spec(broken, "onnxruntime")},
                    DuelSettings(burst_ms=10, set_seconds=0.2), seed=0)
    assert "bad" in found["failed"] and found["cycles"] == []  # one contender left: no cycle to pair
    assert "worker ended" not in found["failed"]["bad"] and "onnxruntime on digits_cnn: " in found["failed"]["bad"]


def test_an_idle_pool_that_spins_is_waited_for(onnx_file):
    """ONNX Runtime's intra-op threads spin after a call (allow_spinning, on by default, as users run it): with two
    threads its idle worker would eat a CPU of the contender timed next. The duel waits for it after its bursts,
    and the idle workers then take under 1% of a CPU."""
    import os

    from study.analyze.duels import idle_of

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")
    cpus = tuple(sorted(os.sched_getaffinity(0))[:2])
    record = _duel({"a": _spec(onnx_file, "onnxruntime", 2, cpus), "b": _spec(onnx_file, "onnxruntime", 2, cpus)},
                   sets=1, set_seconds=1.0)
    assert max(idle_of(record).values()) < 0.01, idle_of(record)
