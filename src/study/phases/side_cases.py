"""What the measurements beside the latency cases share (operator profiles, sustained load, energy windows): one
process of the engine's scenario on a latency case, through the run's launcher, and a record keyed by the id of
what determines it."""

from __future__ import annotations

from pathlib import Path

from study.core import environment
from study.measure.launcher import CaseSpec, Launcher, ProcessRecord


def measure_side(launcher: Launcher, case, scenario: str, timeout_s: float, log_path: Path,
                 trackers: list[str] | None = None, **options) -> ProcessRecord:
    """One process running ``scenario`` on a latency case's artifact, runtime, threads, CPUs and batch."""
    if not case.artifact.ok:
        return ProcessRecord.failed(f"no {case.artifact.format} artifact: conversion failed: "
                                    f"{case.artifact.record.get('error')}")
    return launcher.run(CaseSpec.for_case(case, scenario, trackers=trackers, **options), timeout_s, log_path)


def lost(run, result: ProcessRecord, what: str) -> bool:
    """Nothing was measured because the device could not be reached (or was full): one line, counted as a failure of
    this run, and nothing recorded, so a rerun measures it."""
    if not result.retryable:
        return False
    run.unmeasured.append(what)
    run.log(f"  NOT MEASURED ({what}): {result.error}")
    return True


def side_record(identifier: str, inputs: dict, case, result: ProcessRecord, run_id: str, machine: str | None = None,
                **kept) -> dict:
    """The record of one such measurement: its status and error, what it kept, and the latency case it repeats
    (``machine``: where it ran, this one unless said)."""
    return {"case_id": identifier, "status": result.status, "inputs": inputs, "error": result.error,
            **kept, "label": {"model": case.model, "runtime": case.runtime, "threads": case.threads,
                              "batch": case.batch, "latency_case_id": case.case_id},
            "machine": machine or environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now()}
