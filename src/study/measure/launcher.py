"""The launcher seam: start one process of a case, hand it a typed spec, read its typed record back.

``LocalLauncher`` runs the worker (``python -m study.measure.worker``) in a fresh subprocess on this machine,
pinned to the spec's CPUs with the spec's thread count. A device launcher (SSH, later adb) is one more
implementation of ``Launcher``: the phases, the rounds and the tables do not change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from study.core.errors import StudyError
from study.core.isolate import run_isolated, start_isolated
from study.measure.scenarios import SCENARIOS

RECORD_MARK = "@@study-record@@ "  # the device worker's record line on its standard output (worker.device_main)
# Generous: a case is bounded by its timing budget; this only catches a hung runtime.
CASE_TIMEOUT_PADDING_S = 300


@dataclass(frozen=True)
class TimingBudget:
    """How one process times its case: warm-up runs and seconds, then at least ``min_runs`` and ``min_seconds`` of
    timed runs, at most ``max_seconds``, stopping early once the p50's CI is within ``target_ci`` (0: never)."""
    warmup_runs: int
    warmup_seconds: float
    min_runs: int
    min_seconds: float
    max_seconds: float
    target_ci: float = 0.0

    @classmethod
    def from_json(cls, data: "dict | TimingBudget") -> "TimingBudget":
        """From a profile's timing keys or a spec's JSON (``processes``, the case's concern, is not the process's)."""
        if isinstance(data, cls):
            return data
        return cls(int(data["warmup_runs"]), float(data["warmup_seconds"]), int(data["min_runs"]),
                   float(data["min_seconds"]), float(data["max_seconds"]), float(data.get("target_ci") or 0.0))


@dataclass(frozen=True)
class ModelInput:
    """The input of a model known by its input alone (a quantized variant's file, or any case timed on a device,
    where the zoo's definitions are not): its framework and shape, and each input's name, shape and dtype for a
    model with several (``ModelSpec.inputs``)."""
    framework: str
    shape: tuple[int, ...]
    inputs: tuple[dict, ...] = ()

    @classmethod
    def from_json(cls, data: "dict | ModelInput | None") -> "ModelInput | None":
        if data is None or isinstance(data, cls):
            return data
        return cls(str(data["framework"]), tuple(int(n) for n in data["shape"]),
                   tuple(dict(i) for i in data.get("inputs") or ()))

    @classmethod
    def of(cls, model) -> "ModelInput":
        """A model spec's input, as a device's worker rebuilds the same seeded example from it."""
        return cls(model.framework, tuple(model.input_shape), tuple(dict(i) for i in model.inputs))

    def to_json(self) -> dict:
        out = {"framework": self.framework, "shape": list(self.shape)}
        if self.inputs:
            out["inputs"] = [dict(i) for i in self.inputs]
        return out


@dataclass(frozen=True)
class CaseSpec:
    """What one process of a case runs: the engine's scenario on one artifact, runtime, thread count and batch."""
    scenario: str
    model: str
    runtime: str
    artifact: str
    threads: int
    batch: int
    cpus: tuple[int, ...]
    timing: TimingBudget  # a profile's timing mapping is accepted and typed on creation
    model_input: ModelInput | None = None
    trackers: tuple[str, ...] | None = None     # None: every tracker of the engine
    options: dict = field(default_factory=dict)  # the scenario's own settings: seconds, runs, energy windows

    def __post_init__(self):
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}: one of {', '.join(SCENARIOS)}")
        object.__setattr__(self, "timing", TimingBudget.from_json(self.timing))
        object.__setattr__(self, "model_input", ModelInput.from_json(self.model_input))

    @classmethod
    def for_case(cls, case, scenario: str = "latency", trackers=None, **options) -> "CaseSpec":
        """The spec that runs ``scenario`` on a planned case's artifact, runtime, threads, CPUs and batch. The bound
        its artifact was validated under goes with it (``bound``): a far slower warm-up stops the process early."""
        bound = (getattr(case.artifact, "record", None) or {}).get("slowdown_bound")
        if bound and scenario != "operators":  # a profiler's runs are few and counted, not timed against a budget
            options = {"bound": bound, **options}
        return cls(scenario, case.model, case.runtime, str(case.artifact.path), case.threads, case.batch,
                   tuple(case.cpus), dict(case.timing), case.model_input,
                   None if trackers is None else tuple(trackers), dict(options))

    def to_json(self) -> dict:
        """The worker's JSON: ``kind: measure`` and every field (the options flattened, as the engine reads them)."""
        fields = asdict(self)
        options = fields.pop("options")
        fields["cpus"] = list(self.cpus)
        if self.model_input is not None:
            fields["model_input"] = self.model_input.to_json()
        if self.trackers is None:
            fields.pop("trackers")
        else:
            fields["trackers"] = list(self.trackers)
        return {"kind": "measure", **fields, **options}

    @classmethod
    def from_json(cls, data: dict) -> "CaseSpec":
        known = {"kind", "scenario", "model", "runtime", "artifact", "threads", "batch", "cpus", "timing",
                 "model_input", "trackers"}
        return cls(data.get("scenario", "latency"), data["model"], data["runtime"], data["artifact"],
                   int(data["threads"]), int(data["batch"]), tuple(data.get("cpus") or ()),
                   TimingBudget.from_json(data["timing"]), ModelInput.from_json(data.get("model_input")),
                   tuple(data["trackers"]) if data.get("trackers") is not None else None,
                   {k: v for k, v in data.items() if k not in known})


@dataclass
class ProcessRecord:
    """What one process of a case measured: its status, its timed samples and what the engine's stages and
    trackers observed, under the names they declare (``study.measure.trackers``)."""
    status: str
    error: str = ""
    samples_ms: list[float] = field(default_factory=list)
    warmup_ms: list[float] = field(default_factory=list)
    observed: dict[str, Any] = field(default_factory=dict)
    # nothing was measured because the device could not be reached (or was full): not recorded, so a rerun measures it
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def get(self, key: str, default=None):
        """A field by name, whether a sample list or an observation (``None`` when it was not observed)."""
        if key in ("status", "error"):
            return getattr(self, key)
        if key in ("samples_ms", "warmup_ms"):
            return getattr(self, key) or default  # none timed: missing, as in the record on disk
        return self.observed.get(key, default)

    @classmethod
    def failed(cls, error: str, retryable: bool = False) -> "ProcessRecord":
        return cls("failed", error, retryable=retryable)

    @classmethod
    def from_json(cls, data: Any) -> "ProcessRecord":
        """A record from the worker's (or a device's) JSON, checked: a malformed one is a failed record that says so,
        never a crash or a row with the wrong types."""
        if not isinstance(data, dict) or data.get("status") not in ("ok", "failed"):
            return cls.failed(f"malformed process record: status {data.get('status') if isinstance(data, dict) else data!r}")
        try:
            samples = [float(v) for v in data.get("samples_ms") or []]
            warmup = [float(v) for v in data.get("warmup_ms") or []]
        except (TypeError, ValueError):
            return cls.failed("malformed process record: samples_ms or warmup_ms holds a value that is not a number")
        observed = {k: v for k, v in data.items() if k not in ("status", "error", "samples_ms", "warmup_ms")}
        from study.measure.trackers import fields

        for name, declared in fields().items():  # a column's value is a number, a flag or blank, whoever sent it
            value = observed.get(name)
            if declared.column and value is not None and not isinstance(value, (int, float)):
                return cls.failed(f"malformed process record: {name} is {type(value).__name__}, not a number")
        return cls(data["status"], str(data.get("error") or ""), samples, warmup, observed)

    def to_json(self) -> dict:
        """Flat, as records on disk keep each process (``replicates``)."""
        out = {"status": self.status}
        if self.error:
            out["error"] = self.error
        if self.samples_ms or self.status == "ok":
            out["samples_ms"], out["warmup_ms"] = self.samples_ms, self.warmup_ms
        return {**out, **self.observed}


MACHINE_JOBS = ("gemm", "bandwidth", "naive")


@dataclass(frozen=True)
class MachineJob:
    """A measurement of the machine a case runs on rather than of a case: its GEMM peak (``gemm``), its streaming
    bandwidth (``bandwidth``), or the article's single naive call of a model (``naive``). Timed where the cases are
    timed, so it goes through the launcher too; builds and conversions stay on the host."""
    kind: str
    threads: int
    cpus: tuple[int, ...]
    options: dict = field(default_factory=dict)  # naive: model, framework, source

    def __post_init__(self):
        if self.kind not in MACHINE_JOBS:
            raise ValueError(f"unknown machine job {self.kind!r}: one of {', '.join(MACHINE_JOBS)}")

    def to_json(self) -> dict:
        return {"kind": self.kind, "threads": self.threads, "cpus": list(self.cpus), **self.options}


class Launcher(ABC):
    """Starts one process of a case somewhere and reads its record back."""
    name = "launcher"

    @property
    def machine(self) -> str:
        """The host name of the machine the processes run on (the ``machine`` column of their rows)."""
        from study.core.environment import machine_name

        return machine_name()

    @abstractmethod
    def run_job(self, job: MachineJob, timeout_s: float) -> dict:
        """Run a machine job in a fresh process; its result (``status`` ok or failed, with ``error``)."""

    @abstractmethod
    def run(self, spec: CaseSpec, timeout_s: float, log_path: Path | None = None) -> ProcessRecord:
        """Run ``spec`` in a fresh process; a crash, a timeout or a lost connection is a failed record."""

    def start(self, spec: CaseSpec, log_path: Path | None = None) -> "WorkerSession":
        """Start ``spec`` (a ``duel`` scenario) in a fresh process that stays alive, loaded and warm, taking requests
        until it is stopped (``study.measure.scenarios.duel``)."""
        raise StudyError(f"the {self.name} launcher cannot keep a worker alive: duels need one that can")

    def close(self) -> None:
        """Release what the launcher holds between processes (a device's shared connection)."""


class WorkerError(StudyError):
    """A kept-alive worker died, hung or said something that is not the protocol; the message says which."""


class WorkerSession:
    """A live worker's pipe: JSON lines to its standard input, marked JSON lines back from its standard output
    (``study.measure.scenarios.duel``). Every read is bounded: a hung runtime is a ``WorkerError``, never a hang
    of the coordinator. The process is whatever the launcher started (a local worker, or ``ssh`` to a device's)."""

    def __init__(self, process, label: str, on_close=None, last_words=None):
        import os

        self.process, self.label, self._on_close = process, label, on_close
        self._last_words = last_words  # what the worker said as it ended (its record's error), when it can be read
        self._buffer = b""
        self._fd = process.stdout.fileno()
        os.set_blocking(self._fd, False)

    def send(self, request: dict) -> None:
        import json

        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerError(f"{self.label}: its worker is gone ({type(exc).__name__}){self._exit()}") from None

    def receive(self, timeout_s: float) -> dict:
        """The next marked line, parsed; lines a runtime printed are skipped."""
        import json
        import os
        import select
        import time

        from study.measure.scenarios.duel import MARK

        deadline = time.monotonic() + timeout_s
        marker = MARK.encode()
        while True:
            newline = self._buffer.find(b"\n")
            while newline >= 0:
                line, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
                if line.startswith(RECORD_MARK.encode()):  # a device's worker ended and sent its record
                    try:
                        said = json.loads(line[len(RECORD_MARK):]).get("error")
                    except (ValueError, AttributeError):
                        said = None
                    raise WorkerError(f"{self.label}: {said or 'its worker ended'}")
                at = line.find(marker)
                if at >= 0:
                    try:
                        message = json.loads(line[at + len(marker):])
                    except ValueError:
                        raise WorkerError(f"{self.label}: its worker sent a line that is not JSON") from None
                    if not isinstance(message, dict):
                        raise WorkerError(f"{self.label}: its worker sent {type(message).__name__}, not a message")
                    return message
                newline = self._buffer.find(b"\n")
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerError(f"{self.label}: no answer from its worker within {timeout_s:.0f} s")
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:
                    self.process.poll()
                    said = self._last_words() if self._last_words else None
                    raise WorkerError(f"{self.label}: {said or 'its worker ended' + self._exit()}")
                self._buffer += chunk

    def request(self, request: dict, timeout_s: float) -> dict:
        self.send(request)
        return self.receive(timeout_s)

    def _exit(self) -> str:
        code = self.process.poll()
        return "" if code is None else f" (exit {code})"

    def close(self, timeout_s: float = 10) -> None:
        """Ask the worker to stop, then make sure it did."""
        import subprocess

        try:
            self.send({"op": "stop"})
            self.process.stdin.close()
        except (WorkerError, OSError):
            pass
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._on_close:
            self._on_close()


class LocalLauncher(Launcher):
    """A fresh Python subprocess on this machine, one per process of a case."""
    name = "local"

    def run_job(self, job: MachineJob, timeout_s: float) -> dict:
        return run_isolated(job.to_json(), timeout_s, threads=job.threads)

    def run(self, spec: CaseSpec, timeout_s: float, log_path: Path | None = None) -> ProcessRecord:
        return ProcessRecord.from_json(run_isolated(spec.to_json(), timeout_s, threads=spec.threads,
                                                    log_path=log_path))

    def start(self, spec: CaseSpec, log_path: Path | None = None) -> WorkerSession:
        process, scratch, cleanup = start_isolated(spec.to_json(), threads=spec.threads, log_path=log_path)

        def last_words() -> str | None:  # a worker that failed before serving wrote its record's error
            import json

            try:
                return json.loads((scratch / "result.json").read_text()).get("error")
            except (OSError, ValueError, AttributeError):
                return None

        return WorkerSession(process, f"{spec.runtime} on {spec.model}", on_close=cleanup, last_words=last_words)


def case_timeout_s(timing: dict) -> float:
    return 2 * timing["max_seconds"] + CASE_TIMEOUT_PADDING_S
