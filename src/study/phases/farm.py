"""Many devices at once: each device profile's ``bench`` is one task of a Dask cluster, and each task holds its
device's resource (one unit per device), so devices are timed concurrently while a device never runs two cases, nor
two profiles, at once. The cluster's retries run a profile again when its device dropped out (the rerun resumes
where it stopped: nothing measured is measured twice), and its dashboard shows the progress.

By default the cluster is local, in this process (the tasks mostly wait on their devices), with its dashboard on
loopback. ``STUDY_SCHEDULER=tcp://HOST:8786`` sends the tasks to an existing scheduler instead, whose workers declare
one resource per device they reach (``dask worker tcp://HOST:8786 --resources "device-pi5=1"``): each lab machine
then measures its own devices into its own ``results/``, to be brought together with ``python -m study import``.
"""

from __future__ import annotations

import os
import re
import threading

from study.core.errors import StudyError
from study.measure.devices.base import DeviceError
from study.phases.bench import bench
from study.plan.profiles import load_profile

RETRIES = 2  # whole-profile reruns after a device dropped out; each resumes, so the bound is on waiting, not work


def resource_of(device) -> str:
    """The Dask resource a device is: one unit, so one task (one profile's cases, one at a time) holds it."""
    return "device-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{device.host}-{device.port or 22}")


# The report's callbacks, by the token a task carries: a task ships to the cluster as data, a closure over the report's
# progress does not serialise. A worker of this process finds it here; a worker elsewhere (STUDY_SCHEDULER) does not,
# and its profile's landing page is written when the report renders.
_CALLBACKS: dict[str, object] = {}


def _bench_device(name: str, force: bool, token: str) -> dict:
    """One device profile, measured; a retryable loss (the device dropped out) is raised so the cluster retries."""
    table = bench(name, force=force, progress=False, latency_first=True, on_phase=_CALLBACKS.get(token))
    unmeasured = int(table.attrs.get("unmeasured", 0))
    if unmeasured:
        raise DeviceError(f"{name}: {unmeasured} process(es) not measured: the device dropped out")
    failed = int((table["status"] != "ok").sum()) if len(table) else 0
    return {"cases": len(table), "failed": failed}


def bench_devices(profiles: list[str], force: bool = False, on_phase=None, say=print,
                  scheduler: str | None = None) -> dict[str, str]:
    """Measure every device profile concurrently; what failed, by profile (a device's error never stops another)."""
    from distributed import Client, LocalCluster

    devices = {name: resource_of(load_profile(name).device) for name in profiles}
    scheduler = scheduler or os.environ.get("STUDY_SCHEDULER")
    guarded = _serialised(on_phase)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=1, threads_per_worker=max(1, len(set(devices.values()))), processes=False,
                               resources={resource: 1 for resource in set(devices.values())},
                               dashboard_address="127.0.0.1:0", silence_logs=40)  # in-process: inproc comms
        client = Client(cluster)
    say(f"device farm: {len(profiles)} profile(s) on {len(set(devices.values()))} device(s); progress: "
        f"{client.dashboard_link}")
    failures: dict[str, str] = {}
    token = os.urandom(4).hex()
    try:
        if guarded is not None:
            _CALLBACKS[token] = guarded
        futures = {name: client.submit(_bench_device, name, force, token, key=f"bench-{name}-{token}",
                                       resources={devices[name]: 1}, retries=RETRIES, pure=False)
                   for name in profiles}
        for name, future in futures.items():
            try:
                done = future.result()
                say(f"[{name}] measured on its device: {done['cases']} cases, {done['failed']} failed")
            except StudyError as problem:  # its device refused or stayed away; the others went on
                failures[name] = str(problem)
                say(f"[{name}] FAILED: {problem}")
    finally:
        _CALLBACKS.pop(token, None)
        client.close()
        if cluster is not None:
            cluster.close()
    return failures


def _serialised(on_phase):
    """``on_phase`` called from one task at a time (the landing page is rewritten by each)."""
    if on_phase is None:
        return None
    lock = threading.Lock()

    def call(*args):
        with lock:
            on_phase(*args)

    return call
