"""Contention during a case's timed runs is recorded and flagged; tails and memory columns say only what the
measurements support."""

import pandas as pd

from study.engine import Contention, _cpu_ticks
from study.measure import contended
from study.results import derived_columns
from study.schema import LATENCY_COLUMNS

STAT = """cpu  500 0 300 9000 10 0 5 60 0 0
cpu0 100 0 100 4000 5 0 2 50 0 0
cpu1 400 0 200 5000 5 0 3 10 0 0
intr 12345
"""


def test_steal_and_total_ticks_of_the_case_cpus_only(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(STAT)
    assert _cpu_ticks({0}, str(stat)) == (50, 100 + 100 + 4000 + 5 + 2 + 50)
    assert _cpu_ticks({0, 1}, str(stat))[0] == 60
    assert _cpu_ticks({0}, str(tmp_path / "absent")) == (0, 0)  # not Linux: nothing, no error


def test_the_tracker_turns_two_marks_into_rates():
    tracker = Contention()
    tracker.marks = {"timed": (10.0, 100, 50, 1000, 0.5), "timed_done": (12.0, 300, 80, 1200, 1.4)}
    found = tracker.result()
    assert found == {"steal_pct": 15.0, "involuntary_switches_per_s": 100.0, "loadavg_1m": 1.4}
    assert Contention().result() == {}  # no timed runs (an energy case): nothing claimed
    tracker.marks = {"timed": (10.0, 100, 50, 1000, 0.5), "timed_done": (10.3, 100, 51, 1030, 0.5)}
    assert tracker.result()["steal_pct"] is None  # 30 ticks: one stolen tick is no percentage


def test_a_case_is_contended_on_steal_or_preemption_and_unknown_when_not_recorded():
    assert contended(0.0, 3.0) is False
    assert contended(15.0, 3.0) is True
    assert contended(0.0, 100.0) is True
    assert contended(None, None) is None


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
