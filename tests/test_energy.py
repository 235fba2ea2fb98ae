"""Energy sources on known answers: a fake powercap tree, a synthetic meter log, the power model."""

import numpy as np
import pytest

from study.energy import (counter_delta_uj, integrate_window, modelled_watts, rapl_available, rapl_domains,
                          rapl_joules, read_meter_csv, read_rapl, window_energy)
from study.errors import StudyError


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
