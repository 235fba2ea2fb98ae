"""The device launcher: a case's process runs on the profile's device, through its transport, with the lean worker.

The host keeps everything that is not timing (conversion, validation, quantization builds, fidelity). The device
gets the worker bundle (``bundle.py``) and the artifacts its cases need, each pushed once per content hash into its
study folder (``device.workdir``): a rerun pushes nothing it already pushed. The worker is the same engine and
trackers as a local case, so a device's rows have every column a local row has.

What comes back is untrusted: the worker's one marked line is parsed and checked (``ProcessRecord.from_json``), and
nothing from the device names a path on the host. A dropped connection is opened again and the process retried a
bounded number of times; a device still unreachable fails the process as retryable (nothing is recorded, so a rerun
measures it), and the rest of the run fails fast with one line per case.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from study.core.isolate import THREAD_VARIABLES
from study.core.registry import resolve
from study.core.runtimes import RUNTIMES
from study.core.transports import TRANSPORTS
from study.measure.devices.base import Completed, DeviceError, Transport
from study.measure.devices.bundle import worker_bundle
from study.measure.launcher import (CaseSpec, Launcher, MachineJob, ModelInput, ProcessRecord, RECORD_MARK,
                                    WorkerSession, case_timeout_s)

RECONNECTS = 2          # a dropped connection is opened again this many times per process, then the process fails
# the first wait before reconnecting, doubled each time (a rebooting board needs a while); STUDY_RECONNECT_WAIT_S sets it
RECONNECT_WAIT_S = 5.0
# runtimes that rebuild the model from the zoo's definition (eager PyTorch): their cases name the model, not its input
NEEDS_DEFINITION = ("torch_eager",)


def transport_for(device) -> Transport:
    return resolve(TRANSPORTS[device.transport])(device)


def pins(lock_text: str) -> dict[str, str]:
    """The lock's pinned versions by normalised distribution name (``ai_edge_litert`` and ``ai-edge-litert`` alike)."""
    found = {}
    for line in lock_text.splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def lock_pins() -> dict[str, str]:
    from study.core import paths

    return pins((paths.checkout() / "requirements.lock").read_text(encoding="utf-8"))


def missing_runtime(error: str, runtime: str, device, profile_name: str) -> str:
    """A runtime that does not import on the device, as the fix: which packages, which versions, and where."""
    wanted = lock_pins()
    packages = " ".join(f"{p}=={wanted.get(p, '?')}" for p in RUNTIMES[runtime].packages)
    return (f"{RUNTIMES[runtime].label} is not installed on {device.host} ({error}). Fix: python -m study device "
            f"setup {profile_name}, or on the device: {device.venv_dir}/bin/pip install {packages}")


class DeviceLauncher(Launcher):
    """One process of a case on the profile's device; ``pushed`` lists what this launcher copied there."""
    name = "device"

    def __init__(self, profile, say=print, transport: Transport | None = None):
        self.profile, self.device, self.say = profile, profile.device, say
        self.transport = transport or transport_for(self.device)
        self.present: set[str] | None = None  # the content hashes already on the device, read once per run
        self.pushed: list[str] = []
        self.down: str | None = None  # why the device stopped answering in this run: later cases fail fast
        self._worker: str | None = None
        self._machine: str | None = None

    @property
    def machine(self) -> str:
        """The device's host name as it gave it (the profile's host until it described itself)."""
        return self._machine or self.device.host

    # -- what the device holds
    def _folder(self, kind: str) -> str:
        return f"{self.device.workdir}/{kind}"

    def _on_device(self) -> set[str]:
        """What the device holds under its final names (``DIGEST/NAME`` artifacts, worker files), read once a run:
        a copy cut short keeps its temporary name, so it is never taken for a whole one."""
        if self.present is None:
            script = ('(cd "$1" && find . -mindepth 2 -maxdepth 2 ! -name ".*") 2>/dev/null; '
                      '(cd "$2" && ls -1) 2>/dev/null; true')
            done = self.transport.run(["sh", "-c", script, "ls", self._folder("artifacts"), self._folder("worker")],
                                      timeout_s=60)
            self.present = {line.strip().removeprefix("./") for line in done.stdout.decode(errors="replace")
                            .splitlines() if line.strip()}
        return self.present

    def _ensure(self, local: Path, digest: str, kind: str, name: str) -> str:
        """The path on the device of ``local`` (content hash ``digest``), pushed there unless it already is."""
        key = f"{digest}/{name}" if kind == "artifacts" else name
        remote = f"{self._folder(kind)}/{key}"
        if key not in self._on_device():
            size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file()) if local.is_dir() else \
                local.stat().st_size
            self.say(f"[{self.profile.name}] pushing {name} ({size / 1e6:.1f} MB) to {self.device.host}")
            self.transport.push(local, remote)
            self.present.add(key)
            self.pushed.append(name)
        return remote

    def worker(self) -> str:
        """The lean worker on the device (pushed once per content of the study's code)."""
        if self._worker is None:
            local = worker_bundle()
            self._worker = self._ensure(local, "", "worker", local.name)
        return self._worker

    def artifact(self, path: Path) -> str:
        digest = _content_hash(path)[:16]
        return self._ensure(path, digest, "artifacts", path.name)

    # -- running
    def _command(self, threads: int | None, timeout_s: float) -> list[str]:
        env = ["TF_CPP_MIN_LOG_LEVEL=2"]
        if threads is not None:
            env += [f"{name}={threads}" for name in THREAD_VARIABLES] + ["TF_NUM_INTEROP_THREADS=1"]
        # the device's own timeout ends a hung runtime there too; the transport's, a few seconds later, the channel
        return ["timeout", "-k", "10", str(int(timeout_s)), "env", *env, f"{self.device.venv_dir}/bin/python",
                self.worker()]

    def _once(self, payload: dict, timeout_s: float, threads: int | None, log_path: Path | None) -> dict:
        done: Completed = self.transport.run(self._command(threads, timeout_s), json.dumps(payload).encode(),
                                             timeout_s + 30)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_bytes(done.stderr[-200_000:])
        for line in reversed(done.stdout.decode(errors="replace").splitlines()):
            if line.startswith(RECORD_MARK):
                try:
                    return json.loads(line[len(RECORD_MARK):])
                except ValueError:
                    return {"status": "failed", "error": "the device's record is not JSON"}
        if done.returncode == 124:
            return {"status": "failed", "error": f"timed out after {timeout_s:.0f} s on {self.device.host}"}
        tail = [line for line in done.text.splitlines() if line.strip()]
        if done.returncode == 127 or "No such file or directory" in (tail[-1] if tail else ""):
            raise DeviceError(f"{self.device.host}: no study environment at {self.device.venv_dir} ({tail[-1] if tail else 'not found'}). "
                              f"Fix: python -m study device setup {self.profile.name}", retryable=False)
        return {"status": "failed", "error": f"process died on {self.device.host} (exit {done.returncode}): "
                                             f"{tail[-1][:300] if tail else 'no output'}"}

    def _call(self, payload: dict, timeout_s: float, threads: int | None, log_path: Path | None = None) -> dict:
        """The worker's result, reconnecting after a dropped connection (bounded); raises ``DeviceError``."""
        if self.down:
            raise DeviceError(f"not tried: {self.down}")
        for attempt in range(RECONNECTS + 1):
            try:
                return self._once(payload, timeout_s, threads, log_path)
            except DeviceError as lost:
                if not lost.retryable:
                    raise
                if attempt == RECONNECTS:
                    self.down = str(lost)
                    raise
                wait = float(os.environ.get("STUDY_RECONNECT_WAIT_S") or RECONNECT_WAIT_S) * 2 ** attempt
                self.say(f"[{self.profile.name}] {lost} -- reconnecting in {wait:.0f} s "
                         f"(try {attempt + 2} of {RECONNECTS + 1})")
                self.present, self._worker = None, None  # the device may have been re-imaged: look again
                time.sleep(wait)
        raise AssertionError("unreachable")

    def run_job(self, job: MachineJob, timeout_s: float) -> dict:
        try:
            return self._call(job.to_json(), timeout_s, job.threads)
        except DeviceError as lost:
            if not lost.retryable:
                raise
            return {"status": "failed", "error": str(lost)}

    def _payload(self, spec: CaseSpec) -> dict:
        """The spec as the device's worker takes it: the artifact's path there, the model's input described."""
        payload = spec.to_json()
        payload["artifact"] = self.artifact(Path(spec.artifact))
        # the validation's bound is this host's time for the source model: a device may be 10-20x slower at
        # everything, which says nothing about its runtime
        payload.pop("bound", None)
        if spec.model_input is None and spec.runtime not in NEEDS_DEFINITION:
            from study.build.models import get_model

            payload["model_input"] = ModelInput.of(get_model(spec.model)).to_json()
        return payload

    def start(self, spec: CaseSpec, log_path: Path | None = None) -> WorkerSession:
        """A worker kept alive on the device, over the shared connection; raises ``DeviceError`` when unreachable."""
        if self.down:
            raise DeviceError(f"not tried: {self.down}")
        payload = self._payload(spec)
        process = self.transport.open(self._command(spec.threads, case_timeout_s(dict(payload["timing"]))))
        session = WorkerSession(process, f"{spec.runtime} on {spec.model} on {self.device.host}")
        session.send(payload)
        return session

    def run(self, spec: CaseSpec, timeout_s: float, log_path: Path | None = None) -> ProcessRecord:
        try:
            result = self._call(self._payload(spec), timeout_s, spec.threads, log_path)
        except DeviceError as lost:
            if not lost.retryable:
                raise
            return ProcessRecord.failed(str(lost), retryable=True)
        record = ProcessRecord.from_json(result)
        if not record.ok and record.error.startswith(("ModuleNotFoundError", "ImportError")):
            record.error = missing_runtime(record.error, spec.runtime, self.device, self.profile.name)
        return record

    def describe(self) -> dict:
        """The device's facts (``study.core.environment.device_facts``), with the versions of every runtime's
        packages there; raises ``DeviceError`` when it cannot be reached."""
        packages = sorted({p for entry in RUNTIMES.values() for p in entry.packages} | {"numpy"})
        result = self._call({"kind": "device_facts", "packages": packages}, 120, None)
        if result.get("status") != "ok":
            raise DeviceError(f"{self.device.host}: the worker could not describe the device: {result.get('error')}. "
                              f"Fix: python -m study device setup {self.profile.name}", retryable=False)
        self._machine = str((result.get("facts") or {}).get("machine") or self.device.host)[:256]
        return result["facts"]

    def probe_runtimes(self, names) -> dict[str, str]:
        """Each runtime: "ok" when it imports on the device, else why not."""
        result = self._call({"kind": "runtimes", "runtimes": list(names)}, 300, None)
        return result.get("runtimes") or {name: result.get("error", "?") for name in names}

    def close(self) -> None:
        self.transport.close()


_HASHES: dict[tuple, str] = {}  # per process, by path, size and change time: a case's processes share one artifact


def _content_hash(path: Path) -> str:
    """The artifact's sha256, as its conversion record has it."""
    from study.build.convert import file_sha256
    from study.core.fsutil import by_file_state

    return by_file_state(_HASHES, path, file_sha256)


__all__ = ["DeviceLauncher", "DeviceError", "lock_pins", "missing_runtime", "pins", "transport_for"]
