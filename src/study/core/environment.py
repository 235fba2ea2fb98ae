"""What a measurement was made on: machine, OS, Python, every runtime's and converter's version, commit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from study.core import paths
from study.core.runtimes import RUNTIMES

STACK = (
    "torch", "torchvision", "executorch", "torchao", "tensorflow-cpu", "keras", "ai-edge-litert",
    "litert-torch", "onnx", "onnxruntime", "onnxscript", "tf2onnx", "numpy", "scikit-learn",
)


def runtime_versions() -> dict[str, str | None]:
    """The versions of every runtime's packages (``RUNTIMES``), as distributions name them (``tensorflow-cpu``, not
    ``tensorflow``): what a build is keyed by, so that upgrading a runtime rebuilds what it made."""
    return versions(sorted({package for entry in RUNTIMES.values() for package in entry.packages}))


def versions(distributions=STACK) -> dict[str, str | None]:
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


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
