"""``python -m study device setup NAME`` and ``device check NAME``: the lean environment on a profile's device.

Setup makes a venv there with the device's Python (3.9 or newer) and installs exactly the lock's versions of numpy
and of the packages of the profile's runtimes, for the device's platform (pip picks the wheel), then checks that each
runtime imports and says what it installed. Check says what would be measured there and what is missing, with the
command that fixes it. Neither touches anything outside the profile's ``device.workdir`` (and ``device.venv``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from study.core.errors import StudyError
from study.core.runtimes import RUNTIMES
from study.measure.devices.base import DeviceError
from study.measure.devices.launcher import DeviceLauncher, lock_pins

MIN_PYTHON = (3, 9)
PIP_TIMEOUT_S = 3600  # torch on a Raspberry Pi over Wi-Fi takes a while


def wanted_packages(profile) -> list[str]:
    """numpy and every package of the profile's runtimes, pinned as the lock pins them."""
    pinned = lock_pins()
    names = ["numpy", *dict.fromkeys(p for runtime in profile.runtimes for p in RUNTIMES[runtime].packages)]
    missing = [name for name in names if name not in pinned]
    if missing:
        raise StudyError(f"requirements.lock pins no version of {', '.join(missing)}. Fix: make lock")
    return [f"{name}=={pinned[name]}" for name in names]


def _python(launcher: DeviceLauncher) -> dict:
    device = launcher.device
    script = "import json, platform, sys; print(json.dumps([list(sys.version_info[:3]), platform.machine()]))"
    done = launcher.transport.run([device.python, "-c", script], timeout_s=60)
    if done.returncode != 0:
        raise StudyError(f"{device.host}: {device.python} did not run ({done.text.splitlines()[-1] if done.text else 'no output'}). "
                         f"Fix: install Python {'.'.join(map(str, MIN_PYTHON))} or newer there, or name it in the "
                         f"profile's device.python")
    version, machine = json.loads(done.stdout.decode().strip().splitlines()[-1])
    if tuple(version[:2]) < MIN_PYTHON:
        raise StudyError(f"{device.host}: {device.python} is Python {'.'.join(map(str, version))}; the worker needs "
                         f"{'.'.join(map(str, MIN_PYTHON))} or newer. Fix: install a newer Python there and name it in "
                         f"the profile's device.python")
    return {"version": ".".join(map(str, version)), "machine": machine}


def setup(profile, say=print) -> dict:
    """Create (or complete) the device's venv with the pinned packages; each runtime's import checked."""
    launcher = DeviceLauncher(profile, say=say)
    device = launcher.device
    python = _python(launcher)
    packages = wanted_packages(profile)
    say(f"[{profile.name}] {device.host}: Python {python['version']} on {python['machine']}; venv {device.venv_dir}")
    venv_python = f"{device.venv_dir}/bin/python"
    exists = launcher.transport.run(["test", "-x", venv_python], timeout_s=60).returncode == 0
    if not exists:
        done = launcher.transport.run([device.python, "-m", "venv", device.venv_dir], timeout_s=300)
        if done.returncode != 0:
            raise StudyError(f"{device.host}: could not create the venv {device.venv_dir}: "
                             f"{done.text.splitlines()[-1] if done.text else 'no output'}. Fix: install the venv module "
                             f"there (Debian: apt install python3-venv), then run this again")
    say(f"[{profile.name}] installing on {device.host}: {' '.join(packages)}")
    done = launcher.transport.run([venv_python, "-m", "pip", "install", "--disable-pip-version-check",
                                   "--no-input", "--quiet", *packages], timeout_s=PIP_TIMEOUT_S)
    if done.returncode != 0:
        last = done.text.splitlines()[-1] if done.text else "no output"
        raise StudyError(f"{device.host}: pip could not install the pins ({last}). Fix: see the README (Devices: "
                         f"installing the pins by hand) when the device cannot reach a package registry")
    runtimes = launcher.probe_runtimes(profile.runtimes)
    facts = launcher.describe()
    launcher.close()
    for runtime, state in runtimes.items():
        version = " ".join(f"{p}=={facts['versions'].get(p)}" for p in RUNTIMES[runtime].packages)
        say(f"[{profile.name}]   {RUNTIMES[runtime].label}: {'imports' if state == 'ok' else 'FAILS: ' + state} "
            f"({version})")
    failed = [r for r, state in runtimes.items() if state != "ok"]
    if failed:
        raise StudyError(f"{device.host}: {', '.join(RUNTIMES[r].label for r in failed)} installed but do not import "
                         f"(see above). Fix: check the wheels exist for {python['machine']} and Python "
                         f"{python['version']}, or leave those runtimes out of the profile")
    return {"python": python, "installed": packages, "runtimes": runtimes}


@dataclass
class CheckReport:
    """What ``device check`` found: the device's facts, each runtime's state, and the cases that would be timed."""
    facts: dict
    runtimes: dict[str, str]
    mismatched: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # package -> (device, lock)
    cases: dict[str, int] = field(default_factory=dict)  # runtime -> latency cases

    @property
    def missing(self) -> list[str]:
        return [runtime for runtime, state in self.runtimes.items() if state != "ok"]


def describe(profile, launcher: DeviceLauncher, say=print) -> dict:
    """Ask the device what it is, check the answer, and keep it beside the profile's results (``device.json``): its
    CPUs and its runtimes' versions name the cases timed there."""
    from study.core import paths
    from study.core.fsutil import write_json_atomic
    from study.plan.device import parse_facts

    try:
        facts = launcher.describe()
    except DeviceError as problem:
        raise StudyError(str(problem)) from None
    checked = parse_facts(facts, f"{profile.device.host} (its worker's description)").model_dump()
    write_json_atomic(paths.device_results_file(profile.name), checked)
    isa = ", ".join(name for name, present in checked["isa"].items() if present) or "no SIMD feature of note"
    say(f"[{profile.name}] timing on {profile.device.host}: {checked['cpu_model']} ({checked['architecture']}, "
        f"{len(checked['cpus_available'])} CPUs, {isa}), Python {checked['python']}")
    return checked


def check(profile, say=print) -> CheckReport:
    """Reach the device, describe it (kept beside the profile's results), probe its runtimes, count the cases."""
    from study.plan.cases import settings

    launcher = DeviceLauncher(profile, say=say)
    facts = describe(profile, launcher, say)
    try:
        runtimes = launcher.probe_runtimes(profile.runtimes)
    except DeviceError as problem:
        raise StudyError(str(problem)) from None
    launcher.close()
    pinned = lock_pins()
    report = CheckReport(facts, runtimes)
    for runtime in profile.runtimes:
        for package in RUNTIMES[runtime].packages:
            there = facts["versions"].get(package)
            if there != pinned.get(package):
                report.mismatched[package] = (there, pinned.get(package, "?"))
    for setting in settings(profile, log=lambda message: None):
        report.cases[setting.runtime] = report.cases.get(setting.runtime, 0) + 1
    return report


def describe_check(profile, report: CheckReport) -> list[str]:
    """The check as lines for a reader: the device, then each runtime: measured, or missing with its fix."""
    facts, device = report.facts, profile.device
    isa = ", ".join(name for name, present in facts.get("isa", {}).items() if present) or "none of note"
    lines = [f"{device.host}: {facts['cpu_model']} ({facts['architecture']}, {len(facts['cpus_available'])} CPUs; "
             f"{isa}), {facts['os']}, kernel {facts['kernel']}, Python {facts['python']}"]
    governors = sorted(set(facts.get("governors", {}).values()))
    if governors:
        lines.append(f"  frequency governor: {', '.join(governors)}")
    for runtime in profile.runtimes:
        cases = report.cases.get(runtime, 0)
        if report.runtimes.get(runtime) == "ok":
            lines.append(f"  {RUNTIMES[runtime].label}: {cases} latency case(s) would be timed here")
        else:
            packages = " ".join(f"{p}=={lock_pins().get(p, '?')}" for p in RUNTIMES[runtime].packages)
            lines.append(f"  {RUNTIMES[runtime].label}: MISSING ({report.runtimes.get(runtime)}); its {cases} case(s) "
                         f"would fail. Fix: python -m study device setup {profile.name}, or there: "
                         f"{device.venv_dir}/bin/pip install {packages}")
    for package, (there, pinned) in report.mismatched.items():
        if there is not None:
            lines.append(f"  {package}: {there} on the device, {pinned} in the lock (cases are named by the device's "
                         f"version). Fix: python -m study device setup {profile.name}")
    return lines
