"""Replication across processes: the hierarchical CI on samples with known between-process variance, the
interleaved order, pooling, and resuming an interrupted run at the process it stopped."""

import numpy as np
import pytest

from study.build.convert import Artifact
from study.core.statistics import bootstrap_ci, hierarchical_ci, summarize
from study.core.store import ResultsStore, table_row
from study.measure.cases import complete, interleaved, measure_cases, pooled
from study.measure.launcher import Launcher, ProcessRecord
from study.plan.cases import Case


def experiment(rng, processes=3, between=0.5, within=0.2, n=400, true=10.0):
    """Samples of one case measured in ``processes`` processes, each shifted by its own N(0, between) offset."""
    return [true + rng.normal(0, between) + rng.normal(0, within, n) for _ in range(processes)]


def test_hierarchical_ci_covers_reruns_where_the_sample_bootstrap_does_not():
    rng = np.random.default_rng(0)
    covered_hier = covered_flat = rerun_inside = 0
    trials = 120
    for _ in range(trials):
        groups = experiment(rng)
        low, high = hierarchical_ci(groups, resamples=400)
        flat_low, flat_high = bootstrap_ci(np.concatenate(groups), resamples=400)
        covered_hier += low <= 10.0 <= high
        covered_flat += flat_low <= 10.0 <= flat_high
        rerun = float(np.median(np.concatenate(experiment(rng))))  # the same case measured again, 3 new processes
        rerun_inside += low <= rerun <= high
    assert covered_hier / trials >= 0.88, covered_hier  # nominal 95%; the t expansion gets it close
    assert rerun_inside / trials >= 0.8, rerun_inside
    assert covered_flat / trials <= 0.4, covered_flat  # one process's kind of interval: far too narrow


def test_without_between_process_variance_the_interval_stays_narrow():
    rng = np.random.default_rng(1)
    groups = experiment(rng, between=0.0, within=0.2, n=2000)
    low, high = hierarchical_ci(groups, resamples=400)
    assert low < 10.0 < high and high - low < 0.1  # the within-process noise of 6000 samples, expanded: still small


def test_one_process_is_the_plain_bootstrap_and_the_interval_stays_inside_the_data():
    samples = np.random.default_rng(2).normal(5, 1, 300)
    assert hierarchical_ci([samples]) == bootstrap_ci(samples)
    groups = [np.array([1.0, 1.1, 1.2]), np.array([3.0, 3.1, 3.2])]  # two processes far apart: t(1) is huge
    low, high = hierarchical_ci(groups, resamples=200)
    assert low >= 1.0 and high <= 3.2


def test_summarize_reports_processes_and_their_spread():
    row = summarize([1.0, 1.0, 1.0, 2.0, 2.0, 2.0], processes=[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    assert row["n_processes"] == 2 and row["n_runs"] == 6
    assert row["process_spread_pct"] == pytest.approx(100 * 1.0 / 1.5)


def fake_case(name: str, processes: int = 3) -> Case:
    artifact = Artifact(name, "onnx", 1, None, {"status": "ok", "sha256": name})
    timing = {"warmup_runs": 1, "warmup_seconds": 0, "min_runs": 1, "min_seconds": 0, "max_seconds": 1,
              "target_ci": 0, "processes": processes}
    return Case(name, "onnxruntime", 1, 1, (0,), artifact, timing, "x", {"id": name}, case_id=name)


def test_interleaved_order_spreads_each_case_and_is_seeded():
    cases = [fake_case(c) for c in "abcd"]
    order = interleaved(cases, {})
    names = [c.case_id for c, _ in order]
    assert sorted(names) == sorted("abcd" * 3)
    assert all(x != y for x, y in zip(names, names[1:]))  # never the same case back to back
    assert [i for _, i in order] == [0] * 4 + [1] * 4 + [2] * 4  # round by round
    assert names == [c.case_id for c, _ in interleaved(cases, {})]  # the same seed, the same order
    resumed = interleaved(cases, {"a": 2, "b": 3, "c": 0, "d": 1})
    assert sorted((c.case_id, i) for c, i in resumed) == [("a", 2), ("c", 0), ("c", 1), ("c", 2), ("d", 1), ("d", 2)]


def process_result(p50: float, rss: float = 100.0, steal=0.0, others=0.0) -> dict:
    return {"status": "ok", "samples_ms": [p50] * 20, "warmup_ms": [p50], "import_ms": 1.0, "load_ms": 2.0,
            "first_ms": 3.0, "rss_import_mib": 50.0, "rss_load_mib": 60.0, "rss_peak_mib": rss,
            "steal_pct": steal, "others_pct": others, "harness_overhead_ms": 0.0001}


def test_pooled_keeps_the_worst_memory_and_flags_contention_in_any_process():
    combined = pooled([process_result(1.0, 100), process_result(1.1, 130, others=25.0), process_result(1.2, 110)])
    assert combined["rss_peak_mib"] == 130 and combined["contended"] is True
    assert len(combined["processes"]) == 3 and len(combined["samples_ms"]) == 60
    failed = pooled([process_result(1.0), {"status": "failed", "error": "boom"}])
    assert failed == {"status": "failed", "error": "boom"}


class FakeLauncher(Launcher):
    """Answers each process with ``answer(spec)``, as a launcher reads a worker's record back."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def run(self, spec, timeout_s, log_path=None):
        self.calls.append(spec.model)
        return ProcessRecord.from_json(self.answer(self.calls))

    def run_job(self, job, timeout_s):
        return {"status": "failed", "error": "no machine jobs here"}


def test_an_interrupted_run_resumes_at_the_missing_processes(study_root):
    cases = [fake_case(c) for c in "abc"]
    store = ResultsStore("p")

    def interrupted_at_the_fifth(calls):
        if len(calls) == 5:
            raise KeyboardInterrupt
        return process_result(1.0 + 0.01 * len(calls))

    with pytest.raises(KeyboardInterrupt):
        measure_cases("p", store, cases, "run", False, False, lambda line: None,
                      launcher=FakeLauncher(interrupted_at_the_fifth))
    done = {c.case_id: len(store.get(c.case_id)["replicates"]) for c in cases if store.get(c.case_id)}
    assert sum(done.values()) == 4  # the four processes that finished, each written at once

    again = FakeLauncher(lambda calls: process_result(1.0))
    measure_cases("p", store, cases, "run", False, False, lambda line: None, launcher=again)
    assert len(again.calls) == 9 - 4  # only the missing processes
    for case in cases:
        record = store.get(case.case_id)
        assert complete(record, case) and len(record["replicates"]) == 3
        assert table_row(record)["n_processes"] == 3 and "p50_ms" not in record["row"]  # computed, not frozen
    table = store.write_tables([c.case_id for c in cases])
    assert len(table) == 3 and table["case_id"].is_unique


def test_a_round_times_each_groups_contenders_back_to_back_in_alternating_order():
    def contender(model, runtime):
        case = fake_case(f"{model}-{runtime}")
        return Case(model, runtime, 1, 1, (0,), case.artifact, case.timing, "x", {"id": case.case_id},
                    case_id=case.case_id)

    cases = [contender(m, r) for m in ("mobilenet", "resnet") for r in ("litert", "onnxruntime", "executorch")]
    order = interleaved(cases, {})
    for round_index in range(3):
        this_round = [c for c, i in order if i == round_index]
        models = [c.model for c in this_round]
        assert models in (["mobilenet"] * 3 + ["resnet"] * 3, ["resnet"] * 3 + ["mobilenet"] * 3)  # one block each
        runtimes = [c.runtime for c in this_round if c.model == "mobilenet"]
        expected = ["executorch", "litert", "onnxruntime"]
        assert runtimes == (expected if round_index % 2 == 0 else expected[::-1])  # A B C, then C B A
    names = [c.case_id for c, _ in order]
    assert all(x != y for x, y in zip(names, names[1:]))
