"""A case that ran hot or throttled is flagged, as contention is: the rule on hand-made readings, and the tracker's
columns in every latency row (blank where the kernel exposes no thermal zone or cpufreq, as on most VMs)."""

from __future__ import annotations

from study.measure.trackers.thermal import THROTTLE_FREQ_DROP_PCT, THROTTLE_TEMP_RISE_C, Thermal, throttled


def test_a_hot_or_slowed_process_is_flagged_and_a_steady_one_is_not():
    assert throttled(55.0, 55.0 + THROTTLE_TEMP_RISE_C + 0.5, 2400.0, 2400.0) is True
    assert throttled(55.0, 58.0, 2400.0, 2400.0 * (1 - (THROTTLE_FREQ_DROP_PCT + 1) / 100)) is True
    assert throttled(55.0, 58.0, 2400.0, 2300.0) is False
    assert throttled(None, None, None, None) is None  # nothing readable: blank, not "not throttled"
    assert throttled(None, None, 1800.0, 1800.0) is False


def test_the_tracker_reads_before_and_after_and_declares_its_columns(monkeypatch):
    import study.measure.trackers.thermal as thermal

    readings = iter([{"temps_c": {"zone0:cpu": 50.0, "zone1:gpu": 44.0}, "freqs_mhz": {"0": 2400.0, "1": 600.0}},
                     {"temps_c": {"zone0:cpu": 71.5, "zone1:gpu": 45.0}, "freqs_mhz": {"0": 1500.0, "1": 600.0}}])
    monkeypatch.setattr(thermal, "thermal_snapshot", lambda: next(readings))
    monkeypatch.setattr(thermal.os, "sched_getaffinity", lambda pid: {0})
    tracker = Thermal()
    for stage in ("start", "imported", "loaded", "timed", "timed_done", "done"):
        tracker.stage(stage)
    assert tracker.result() == {"temp_before_c": 50.0, "temp_after_c": 71.5, "freq_before_mhz": 2400.0,
                                "freq_after_mhz": 1500.0, "throttled": True}
    from study.measure.trackers import latency_columns

    assert {"temp_before_c", "temp_after_c", "freq_before_mhz", "freq_after_mhz", "throttled"} <= set(latency_columns())
