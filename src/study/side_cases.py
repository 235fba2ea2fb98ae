"""What the measurements beside the latency cases share (operator profiles, sustained load, energy windows): a
case process's spec for a scenario of the engine, and a record keyed by a hash of what determines it."""

from __future__ import annotations

import hashlib
import json

from study import environment


def record_id(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def spec_for(case, scenario: str, trackers: list[str] | None = None, **extra) -> dict:
    """The worker spec that runs ``scenario`` on a latency case's artifact, runtime, threads, CPUs and batch."""
    spec = {"kind": "measure", "scenario": scenario, "model": case.model, "runtime": case.runtime,
            "artifact": str(case.artifact.path), "threads": case.threads, "batch": case.batch,
            "cpus": list(case.cpus), "timing": case.timing, "model_input": case.model_input, **extra}
    if trackers is not None:
        spec["trackers"] = trackers
    return spec


def side_record(identifier: str, inputs: dict, case, result: dict, run_id: str, **kept) -> dict:
    """The record of one such measurement: its status and error, what it kept, and the latency case it repeats."""
    return {"case_id": identifier, "status": result["status"], "inputs": inputs, "error": result.get("error", ""),
            **kept, "label": {"model": case.model, "runtime": case.runtime, "threads": case.threads,
                              "batch": case.batch, "latency_case_id": case.case_id},
            "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now()}
