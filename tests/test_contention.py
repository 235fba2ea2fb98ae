"""Contention during a case's timed runs is recorded and flagged; tails and memory columns say only what the
measurements support."""

import os

import pandas as pd
import pytest

from study.measure.trackers.contention import Contention, _cpu_ticks
from study.core.statistics import contended
from study.core.store import derived_columns
from study.core.schema import LATENCY_COLUMNS

STAT = """cpu  500 0 300 9000 10 0 5 60 0 0
cpu0 100 0 100 4000 5 0 2 50 0 0
cpu1 400 0 200 5000 5 0 3 10 0 0
intr 12345
"""


def test_steal_busy_and_total_ticks_of_the_case_cpus_only(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(STAT)
    assert _cpu_ticks({0}, str(stat)) == (50, 100 + 100 + 2, 100 + 100 + 4000 + 5 + 2 + 50)
    assert _cpu_ticks({0, 1}, str(stat))[0] == 60
    assert _cpu_ticks({0}, str(tmp_path / "absent")) == (0, 0, 0)  # not Linux: nothing, no error


def test_the_tracker_turns_two_marks_into_shares_and_rates():
    tracker = Contention()
    # 2 s on one CPU (200 ticks): 30 stolen, 150 busy of which the case's own CPU time is 1.2 s
    tracker.marks = {"timed": (10.0, 100, 5.0, 50, 1000, 1000, 0.5),
                     "timed_done": (12.0, 300, 6.2, 80, 1150, 1200, 1.4)}
    found = tracker.result()
    assert found["steal_pct"] == 15.0 and round(found["others_pct"], 6) == 15.0
    assert found["involuntary_switches_per_s"] == 100.0 and found["loadavg_1m"] == 1.4
    assert Contention().result() == {}  # no timed runs (an energy case): nothing claimed
    tracker.marks = {"timed": (10.0, 100, 5.0, 50, 1000, 1000, 0.5), "timed_done": (10.3, 100, 5.3, 51, 1030, 1030, 0.5)}
    assert tracker.result()["steal_pct"] is None  # 30 ticks: one stolen tick is no percentage
    assert tracker.result()["others_pct"] is None


def test_a_case_is_contended_when_the_hypervisor_or_another_process_took_its_cpus():
    assert contended(0.0, 1.0) is False
    assert contended(15.0, 1.0) is True
    assert contended(0.0, 40.0) is True
    assert contended(None, None) is None


@pytest.mark.serial  # reads what else runs on the CPU: alone, after the parallel tests
def test_another_process_on_the_case_cpu_is_seen(tmp_path):
    """A real competitor pinned to the same CPU as a busy loop shows as others_pct; alone it does not."""
    import subprocess
    import sys
    import time

    cpu = min(os.sched_getaffinity(0))
    code = f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"

    def loop_share(seconds: float = 1.5) -> float:
        os.sched_setaffinity(0, {cpu})
        tracker = Contention()
        tracker.stage("timed")
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            pass
        tracker.stage("timed_done")
        return tracker.result()["others_pct"]

    original = os.sched_getaffinity(0)
    try:
        alone = loop_share()
        competitor = subprocess.Popen([sys.executable, "-c", code])
        try:
            time.sleep(0.3)
            shared = loop_share()
        finally:
            competitor.kill()
    finally:
        os.sched_setaffinity(0, original)
    assert shared > 30 and shared > alone + 20, (alone, shared)


def test_tails_need_their_runs_and_memory_is_split_by_stage():
    rows = []
    for n in (99, 100, 999, 1000):
        row = {c: None for c in LATENCY_COLUMNS}
        row.update(model="m", runtime="r", threads=1, status="ok", n_runs=n, p90_ms=2.0, p99_ms=3.0,
                   rss_import_mib=100.0, rss_load_mib=130.0, rss_peak_mib=135.0)
        rows.append(row)
    table = derived_columns(pd.DataFrame(rows, columns=list(LATENCY_COLUMNS)))
    assert table["p90_ms"].isna().tolist() == [True, False, False, False]
    assert table["p99_ms"].isna().tolist() == [True, True, True, False]
    assert table["load_above_import_mib"].tolist() == [30.0] * 4
    assert table["inference_above_load_mib"].tolist() == [5.0] * 4
