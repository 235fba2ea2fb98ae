"""Energy sources on known answers: a fake powercap tree, a synthetic meter log, the power model."""

import numpy as np
import pytest

from study.measure.energy import (counter_delta_uj, integrate_window, modelled_watts, rapl_available, rapl_domains,
                          rapl_joules, read_meter_csv, read_rapl, window_energy)
from study.core.errors import StudyError


def fake_powercap(root, zones):
    """zones: {dir name: (name, energy_uj, max_range_uj)} as the kernel lays them out."""
    for directory, (name, energy, max_range) in zones.items():
        zone = root / directory
        zone.mkdir(parents=True)
        (zone / "name").write_text(name + "\n")
        (zone / "energy_uj").write_text(f"{energy}\n")
        (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return root


def set_energy(root, directory, value):
    (root / directory / "energy_uj").write_text(f"{value}\n")


def test_rapl_reads_package_and_dram_not_subdomains(tmp_path):
    root = fake_powercap(tmp_path, {"intel-rapl:0": ("package-0", 1_000_000, 262_143_328_850),
                                    "intel-rapl:0:0": ("core", 500_000, 262_143_328_850),
                                    "intel-rapl:0:1": ("dram", 200_000, 65_712_999_613),
                                    "intel-rapl:1": ("package-1", 3_000_000, 262_143_328_850)})
    domains = rapl_domains(root)
    assert sorted(d.name for d in domains) == ["dram", "package-0", "package-1"]
    assert rapl_available(root)
    start = read_rapl(domains)
    set_energy(root, "intel-rapl:0", 6_000_000)       # +5 J
    set_energy(root, "intel-rapl:0:1", 1_200_000)     # +1 J
    set_energy(root, "intel-rapl:0:0", 9_999_999)     # core: inside the package, not added
    set_energy(root, "intel-rapl:1", 5_500_000)       # +2.5 J
    assert rapl_joules(domains, start, read_rapl(domains)) == pytest.approx(8.5)


def test_rapl_wraparound(tmp_path):
    max_range = 262_143_328_850
    root = fake_powercap(tmp_path, {"intel-rapl:0": ("package-0", max_range - 2_000_000, max_range)})
    domains = rapl_domains(root)
    start = read_rapl(domains)
    set_energy(root, "intel-rapl:0", 3_000_000)  # wrapped: 2 J before the wrap, 3 J after
    assert rapl_joules(domains, start, read_rapl(domains)) == pytest.approx(5.0)
    assert counter_delta_uj(10, 25, 100) == 15 and counter_delta_uj(90, 5, 100) == 15


def test_no_powercap_means_no_rapl(tmp_path):
    assert rapl_domains(tmp_path / "absent") == [] and not rapl_available(tmp_path / "absent")


def write_meter(path, times, watts, header="timestamp,watts"):
    path.write_text(header + "\n" + "".join(f"{t},{w}\n" for t, w in zip(times, watts)))
    return path


def test_meter_integral_of_a_known_curve(tmp_path):
    # P(t) = 3 + 2 sin(t) sampled at 10 Hz; the exact integral over [2, 12] is 30 + 2(cos 2 - cos 12)
    t0 = 1_795_000_000.0
    t = np.arange(0, 20, 0.1)
    path = write_meter(tmp_path / "meter.csv", t0 + t, 3 + 2 * np.sin(t))
    times, watts = read_meter_csv(path)
    joules = integrate_window(times, watts, t0 + 2, t0 + 12)
    exact = 30 + 2 * (np.cos(2) - np.cos(12))
    assert joules == pytest.approx(exact, rel=1e-3)


def test_meter_clock_offset_and_iso_timestamps(tmp_path):
    path = tmp_path / "iso.csv"
    path.write_text("timestamp,watts\n2026-11-21T10:00:00+00:00,2\n2026-11-21T10:00:10+00:00,2\n")
    times, watts = read_meter_csv(path)
    start = times[0] + 5  # host clock 5 s ahead of the meter: offset +5 puts the meter on the host clock
    assert integrate_window(times, watts, start + 1, start + 4, clock_offset_s=5) == pytest.approx(6.0)


@pytest.mark.parametrize("content, expected", [
    ("time,power\n1,2\n2,3\n", "expected a header 'timestamp,watts'"),
    ("timestamp,watts\n1,2\n2,lots\n", "line 3: cannot read"),
    ("timestamp,watts\n1,2\n", "fewer than two samples"),
    ("timestamp,watts\n2,2\n1,3\n", "timestamps do not increase"),
])
def test_malformed_meter_csv_is_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(StudyError) as raised:
        read_meter_csv(path)
    assert expected in str(raised.value) and "Fix:" in str(raised.value) and "\n" not in str(raised.value)


def test_window_outside_the_meter_log_is_one_clear_error(tmp_path):
    times, watts = read_meter_csv(write_meter(tmp_path / "m.csv", [100.0, 110.0], [2.0, 2.0]))
    with pytest.raises(StudyError, match="not inside the meter's log.*Fix:"):
        integrate_window(times, watts, 105.0, 115.0)


def test_power_model():
    assert modelled_watts(1.0, 4.0, "per_cpu", cpus=2, utilisation=0.5) == pytest.approx(5.0)
    assert modelled_watts(2.7, 6.4, "device", cpus=4, utilisation=1.0) == pytest.approx(6.4)
    assert modelled_watts(1.0, 4.0, "device", cpus=1, utilisation=1.7) == pytest.approx(4.0)  # clamped
    window = {"wall_s": 10.0, "cpu_s": 10.0, "cpus": 1}
    model = {"idle_watts": 0.64, "active_watts": 3.8, "scope": "per_cpu"}
    assert window_energy("model", window, power_model=model) == pytest.approx(38.0)


def test_device_scope_counts_every_cpu_of_the_device():
    # one busy core of a four-core board is a quarter of the board's dynamic range, not all of it
    window = {"wall_s": 10.0, "cpu_s": 10.0, "cpus": 1, "device_cpus": 4}
    model = {"idle_watts": 2.7, "active_watts": 6.4, "scope": "device"}
    assert window_energy("model", window, power_model=model) == pytest.approx(10 * (2.7 + 3.7 / 4))


def test_rapl_windows_read_the_counters_at_their_bounds(tmp_path):
    from study.measure.energy import measure_windows

    root = fake_powercap(tmp_path, {"intel-rapl:0": ("package-0", 1_000, 10**12)})
    counter = {"uj": 1_000}

    def call():  # each inference spends 2 mJ on the fake package
        counter["uj"] += 2_000
        set_energy(root, "intel-rapl:0", counter["uj"])

    windows = measure_windows(call, 0.05, 2, "rapl", str(root), log=lambda line: None)
    assert [w["phase"] for w in windows] == ["idle", "active", "active"]
    assert windows[0]["rapl_j"] == 0 and windows[0]["calls"] == 0
    for window in windows[1:]:
        assert window["wall_s"] >= 0.05 and window["calls"] > 0
        assert window["rapl_j"] == pytest.approx(window["calls"] * 2e-3)


def test_rapl_source_without_counters_is_one_clear_error(tmp_path):
    from study.measure.energy import measure_windows

    with pytest.raises(StudyError, match="no readable RAPL.*Fix:"):
        measure_windows(lambda: None, 0.01, 2, "rapl", str(tmp_path / "none"))


def _windows(idle_wall=10.0, active=((10.0, 100), (10.0, 110), (10.0, 90)), start=1000.0):
    windows, t = [], start
    for index, (wall, calls) in enumerate([(idle_wall, 0), *active]):
        windows.append({"phase": "idle" if index == 0 else "active", "index": index, "calls": calls,
                        "wall_s": wall, "cpu_s": 0.0 if index == 0 else wall, "cpus": 1, "device_cpus": 1,
                        "start_epoch": t, "end_epoch": t + wall})
        t += wall + 1.0
    return windows


def test_meter_energy_per_inference_gross_and_net(tmp_path):
    from study.measure.energy import summarize_windows

    windows = _windows()
    # the meter reads 2 W while idle and 5 W while the model runs
    times, watts = [990.0], [2.0]
    for w in windows:
        level = 2.0 if w["phase"] == "idle" else 5.0
        times += [w["start_epoch"] + 1e-6, w["end_epoch"] - 1e-6, w["end_epoch"] + 0.5]
        watts += [level, level, 2.0]
    meter = read_meter_csv(write_meter(tmp_path / "m.csv", times, watts))
    row = summarize_windows(windows, batch=1, source="meter", meter=meter)
    assert row["idle_watts"] == pytest.approx(2.0, rel=1e-3)
    assert row["avg_watts"] == pytest.approx(5.0, rel=1e-3)
    gross = [1e3 * 50 / n for n in (100, 110, 90)]
    net = [1e3 * 30 / n for n in (100, 110, 90)]
    assert row["gross_mj_per_inference"] == pytest.approx(np.mean(gross), rel=1e-3)
    assert row["net_mj_per_inference"] == pytest.approx(np.mean(net), rel=1e-3)
    assert row["gross_mj_per_inference_ci_low"] < row["gross_mj_per_inference"] < row["gross_mj_per_inference_ci_high"]
    assert row["inferences"] == 300
    # batch 4: four inputs per call, a quarter of the energy each
    assert summarize_windows(windows, batch=4, source="meter", meter=meter)["gross_mj_per_inference"] \
        == pytest.approx(np.mean(gross) / 4, rel=1e-3)


def test_energy_of_every_case_modelled_from_its_latency_case(tiny_study, monkeypatch):
    """With the power model nothing more is run: the latency case's CPU time along its timed runs is the input."""
    import pandas as pd

    import study.phases.energy as energy_bench
    from study.phases.bench import bench

    table = pd.read_csv(tiny_study / "results" / "tiny" / "energy.csv")
    latency = pd.read_csv(tiny_study / "results" / "tiny" / "latency.csv")
    assert len(table) == 6 and (table["status"] == "ok").all(), table[["runtime", "error"]]
    assert set(table["latency_case_id"]) == set(latency["case_id"])
    assert (table["energy_source"] == "model").all() and (table["measurement"] == "modelled").all()
    assert table["power_model"].str.contains("idle_W=1.0").all()
    assert (table["idle_watts"] == 1.0).all()  # the model's own idle power for one pinned CPU
    assert (table["net_mj_per_inference"] > 0).all()
    assert (table["net_mj_per_inference"] < table["gross_mj_per_inference"]).all()
    # modelled: a range across the two power models, no interval; the CPU time it rests on keeps its own
    assert table["gross_mj_per_inference_ci_low"].isna().all() and (table["power_models"] == 2).all()
    assert (table["gross_mj_per_inference_model_low"] < table["gross_mj_per_inference_model_high"]).all()
    assert (table["gross_mj_per_inference_model_high"] == table["gross_mj_per_inference"]).all()  # 4 W > 2 W
    assert (table["cpu_ms_per_inference_ci_low"] <= table["cpu_ms_per_inference"]).all()
    assert table["power_model"].str.contains("second test set").all()
    windows = pd.read_csv(tiny_study / "results" / "tiny" / "energy_windows.csv")
    assert len(windows) == 6 * 2 * 2 and set(windows["phase"]) == {"active"}  # 2 windows in each of 2 processes
    assert (windows["cpu_s"] > 0).all() and (windows["calls"] > 0).all()

    monkeypatch.setattr(energy_bench, "measure_energy_case", lambda *a: pytest.fail("ran a process for the model"))
    bench("tiny", progress=False, only="energy")


def test_windows_are_cut_from_cpu_checkpoints():
    from study.measure.energy import windows_from_checkpoints

    # calls, wall s, cpu s, epoch s: 10 calls per second of wall time, CPU busy 80% of it
    points = [[10 * t, t, 0.8 * t, 1000 + t] for t in range(11)]
    windows = windows_from_checkpoints(points, 2, cpus=1, device_cpus=2)
    assert [(w["calls"], w["wall_s"], w["cpu_s"]) for w in windows] == [(50, 5, 4.0), (50, 5, 4.0)]
    assert windows_from_checkpoints(points[:2], 2, 1, 2) == []  # too few to cut: the case says so
    # a slow spell after three quick calls: the bounds at a third and two thirds of the time both fall nearest the
    # last checkpoints, yet every window keeps its own (nearest alone gave 2 of 3; loaded, a test lost 1 of 24)
    stalled = [[n, t, t, 1000 + t] for n, t in enumerate((0.0, 0.1, 0.2, 10.0))]
    assert [w["calls"] for w in windows_from_checkpoints(stalled, 3, 1, 2)] == [1, 1, 1]
    ended = stalled + [[3, 10.001, 10.001, 1010.001]]  # the end's checkpoint, no call after the last one's
    assert [w["calls"] for w in windows_from_checkpoints(ended, 3, 1, 2)] == [1, 1, 1]


def test_meter_log_missing_a_window_fails_that_row_only(bench_root):
    import pandas as pd

    from helpers import write_profile
    from study.phases.bench import bench

    meter = bench_root / "meter.csv"
    write_meter(meter, [0.0, 1.0], [3.0, 3.0])  # recorded long before the run
    write_profile(bench_root, "metered", runtimes=["onnxruntime"], batch_sizes=[1],
                  energy={"source": "meter", "meter_csv": str(meter), "window_seconds": 0.1, "windows": 2,
                          "power_model": {"idle_watts": 1.0, "active_watts": 4.0, "scope": "per_cpu",
                                          "source": "test"}})
    bench("metered", progress=False)
    logs = list((bench_root / "results" / "metered" / "logs").glob("energy-*.log"))
    assert logs and "energy window 1 active: start" in logs[0].read_text()  # where to cut the meter's log
    table = pd.read_csv(bench_root / "results" / "metered" / "energy.csv")
    assert table["status"].tolist() == ["failed"] and "not inside the meter's log" in table["error"][0]
    assert (table["measurement"] == "measured").all()
    latency = pd.read_csv(bench_root / "results" / "metered" / "latency.csv")
    assert (latency["status"] == "ok").all()  # the latency measured in the same run is kept


def test_rapl_profile_on_a_machine_without_counters_stops_before_measuring(study_root):
    from helpers import write_profile
    from study.phases.bench import bench

    write_profile(study_root, "rapl", energy={"source": "rapl", "rapl_root": str(study_root / "none"),
                                              "window_seconds": 0.1, "windows": 2,
                                              "power_model": {"idle_watts": 1.0, "active_watts": 4.0,
                                                              "scope": "per_cpu", "source": "test"}})
    with pytest.raises(StudyError, match="no readable RAPL counters.*Fix:"):
        bench("rapl", progress=False)
    assert not (study_root / "results" / "rapl").exists()


def test_modelled_energy_is_stamped_and_never_drawn_against_latency(tiny_study):
    from IPython.display import Markdown

    from study.report import plots
    from study.analyze.energy_tables import energy_summary, load_energy

    energy = load_energy("tiny")
    fig = plots.energy_per_inference(energy, "tiny")
    stamps = [t.get_text() for t in fig.texts]
    assert any("MODELLED from CPU time measured on" in t for t in stamps), stamps
    joined = energy.assign(p50_ms=1.0, ci_low_ms=0.9, ci_high_ms=1.1)
    assert isinstance(plots.energy_vs_latency(joined, "tiny"), Markdown)
    summary = energy_summary(energy)
    assert "gross_mj_per_inference_ci_low" not in summary and "gross_mj_per_inference_model_low" in summary
    measured = joined.assign(measurement="measured",
                             gross_mj_per_inference_ci_low=joined["gross_mj_per_inference"] * 0.9,
                             gross_mj_per_inference_ci_high=joined["gross_mj_per_inference"] * 1.1)
    fig = plots.energy_vs_latency(measured, "tiny")
    assert not isinstance(fig, Markdown) and any("measured on" in t.get_text() and "MODELLED" not in t.get_text()
                                                 for t in fig.texts)
