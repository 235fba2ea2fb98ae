"""What a measurement was made on: machine, OS, Python, every runtime's and converter's version, commit."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from study.core import paths
from study.core.runtimes import RUNTIMES

# every runtime's distributions (a runtime added to RUNTIMES is recorded too), then the converters and numerics
STACK = tuple(dict.fromkeys([*(p for entry in RUNTIMES.values() for p in entry.packages), "torchao", "keras",
                             "litert-torch", "onnx", "onnxscript", "tf2onnx", "numpy", "scikit-learn"]))


def runtime_versions() -> dict[str, str | None]:
    """The versions of every runtime's packages (``RUNTIMES``), as distributions name them (``tensorflow-cpu``, not
    ``tensorflow``): what a build is keyed by, so that upgrading a runtime rebuilds what it made."""
    return versions(sorted({package for entry in RUNTIMES.values() for package in entry.packages}))


def versions(distributions=STACK) -> dict[str, str | None]:
    return {name: installed_version(name) for name in distributions}


@functools.cache
def installed_version(distribution: str) -> str | None:
    """A distribution's version, read once per process: every artifact check keys on its converters' versions, and
    reading a wheel's metadata each time cost a second-run conversion phase half a second (560 reads for 133
    checks). A package upgraded under a running process is not what that process has imported anyway."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def installed_bytes(distribution: str) -> int | None:
    """Bytes of every file a distribution installed (its RECORD), without its dependencies."""
    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        return None
    total = 0
    for file in files:
        located = file.locate()
        if located.is_file():
            total += located.stat().st_size
    return total


def cpu_flags() -> list[str]:
    """The instruction-set extensions that decide int8 and fp32 kernel speed (AVX2, AVX-512, VNNI, AMX; NEON on ARM)."""
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
              "neon", "asimd", "asimddp", "sve", "i8mm")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith(("flags", "features")):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in present]
    except OSError:
        pass
    return []


def cpu_id() -> str:
    """The CPU's model name with its family, model and stepping: machines of this project report the same model
    name ("AMD EPYC") for a Zen 4 and a Zen 5, which differ 2.5x in speed, so a cost learnt on one must not be read
    on the other."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu family", "model", "stepping") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:
                    break
    except OSError:
        pass
    if not fields:
        return cpu_model()
    return (f"{fields.get('model name', cpu_model())} (family {fields.get('cpu family', '?')}, model "
            f"{fields.get('model', '?')}, stepping {fields.get('stepping', '?')})")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cpu_numbers() -> list[int]:
    import glob
    import re

    found = [re.search(r"cpu(\d+)$", path) for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*")]
    return sorted(int(match.group(1)) for match in found if match)


def thermal_snapshot() -> dict:
    """The device's temperatures (deg C, per thermal zone) and each CPU's current frequency (MHz), read from sysfs;
    empty where the kernel exposes none (most VMs)."""
    import glob

    temps = {}
    for zone in sorted(glob.glob("/sys/class/thermal/thermal_zone*")):
        raw, kind = _read(f"{zone}/temp"), _read(f"{zone}/type") or zone.rsplit("/", 1)[-1]
        if raw and raw.lstrip("-").isdigit():
            temps[f"{zone.rsplit('/', 1)[-1]}:{kind}"] = int(raw) / 1000
    freqs = {}
    for cpu in _cpu_numbers():
        raw = _read(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq")
        if raw and raw.isdigit():
            freqs[str(cpu)] = int(raw) / 1000
    return {"temps_c": temps, "freqs_mhz": freqs}


ISA_FEATURES = {  # the features that decide int8 and fp32 kernel speed, by the names /proc/cpuinfo gives them
    "x86": {"avx2": ("avx2",), "avx512": ("avx512f",), "vnni": ("avx512_vnni", "avx_vnni"), "amx": ("amx_tile",)},
    "arm": {"neon": ("neon", "asimd"), "dotprod": ("asimddp",), "i8mm": ("i8mm",), "sve": ("sve",)},
}


def isa_features(flags: list[str]) -> dict[str, bool]:
    """Each ISA feature of this architecture family: present or not."""
    family = "arm" if platform.machine().lower().startswith(("arm", "aarch")) else "x86"
    return {feature: any(name in flags for name in names) for feature, names in ISA_FEATURES[family].items()}


def device_facts(packages=()) -> dict:
    """What a device is, read on it with the standard library alone (the lean worker runs this there): CPU model and
    cores, the ISA features that decide kernel speed, the frequency governor and frequencies, the thermal zones, OS,
    kernel, Python, and the versions of ``packages`` (the runtimes' distributions)."""
    governors, max_mhz = {}, {}
    for cpu in _cpu_numbers():
        base = f"/sys/devices/system/cpu/cpu{cpu}/cpufreq"
        governor, top = _read(f"{base}/scaling_governor"), _read(f"{base}/cpuinfo_max_freq")
        if governor:
            governors[str(cpu)] = governor
        if top and top.isdigit():
            max_mhz[str(cpu)] = int(top) / 1000
    os_release = {}
    for line in (_read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        os_release[key] = value.strip('"')
    flags = cpu_flags()
    return {
        "machine": machine_name(), "cpu_model": cpu_model(), "cpu_id": cpu_id(), "cpu_count": os.cpu_count(),
        "cpus_available": sorted(os.sched_getaffinity(0)), "architecture": platform.machine(),
        "isa": isa_features(flags),
        "cpu_flags": flags, "governors": governors, "max_freq_mhz": max_mhz, **thermal_snapshot(),
        "os": os_release.get("PRETTY_NAME") or platform.platform(), "kernel": platform.release(),
        "python": platform.python_version(), "versions": versions(packages), "utc_time": utc_now(),
    }


def git_commit() -> str | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.root(), capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.root(),
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{commit}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def machine_name() -> str:
    return socket.gethostname()


def collect(profile_name: str, profile_hash: str) -> dict:
    return {
        "machine": machine_name(),
        "cpu_model": cpu_model(),
        "cpu_id": cpu_id(),
        "cpu_count": os.cpu_count(),
        "cpus_available": sorted(os.sched_getaffinity(0)),
        "architecture": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
        "cpu_flags": cpu_flags(),
        "installed_bytes": {name: installed_bytes(name) for name in sorted({p for e in RUNTIMES.values()
                                                                             for p in e.packages})},
        "git_commit": git_commit(),
        "utc_time": utc_now(),
        "profile": profile_name,
        "profile_hash": profile_hash,
    }
