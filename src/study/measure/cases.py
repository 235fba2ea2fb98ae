"""The case core: measure planned cases, each in its profile's number of fresh processes, round by round (each
round a block per comparison group, its contenders back to back), and
keep every process's raw record. Statistics are not frozen here: ``study.core.store`` computes them from the
kept samples each time it writes a table.

The path of a number: a phase plans ``Case``s (``study.plan.cases``) -> ``measure_cases`` orders their processes
in rounds -> a ``Launcher`` runs each (``study.measure.launcher``: the worker, the engine, the trackers) -> the
``ProcessRecord`` joins the case's record (``study.core.store``) -> the store's views write the tables.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from study.core import environment
from study.core.statistics import contended
from study.core.store import ResultsStore, latency_statistics
from study.measure.launcher import CaseSpec, Launcher, LocalLauncher, ProcessRecord, case_timeout_s
from study.measure.trackers import COMBINE, fields
from study.plan.cases import Case


def replicate_keys() -> tuple[str, ...]:
    """What a case's record keeps of each process: status, samples, and every declared field."""
    return ("status", "error", "samples_ms", "warmup_ms", *fields())


def measure_case(case: Case, log_dir=None, launcher: Launcher | None = None) -> ProcessRecord:
    """One process of a case."""
    if not case.artifact.ok:
        return ProcessRecord.failed(
            f"no {case.artifact.format} artifact: conversion failed: {case.artifact.record.get('error')}")
    log_path = log_dir / f"{case.case_id}.log" if log_dir else None
    return (launcher or LocalLauncher()).run(CaseSpec.for_case(case), case_timeout_s(case.timing), log_path)


def replicates_done(record: dict | None) -> list[dict]:
    return list((record or {}).get("replicates") or [])


def complete(record: dict | None, case: Case, target: int | None = None) -> bool:
    """Measured in all its processes (``target``, else its planned ones), or failed in one (a failing runtime is not
    run again)."""
    done = replicates_done(record)
    wanted = case.processes if target is None else target
    return bool(done) and (len(done) >= wanted or any(r.get("status") != "ok" for r in done))


def comparison_group(case: Case) -> tuple:
    """The cases compared with each other: one model (on one dataset), threads and batch, every runtime and
    variant of it (a quantized variant is compared with its fp32 twin)."""
    return case.model, case.dataset, case.threads, case.batch


def interleaved(cases: list[Case], done: dict[str, int], seed: int = 0,
                targets: dict[str, int] | None = None) -> list[tuple[Case, int]]:
    """(case, process index) in rounds, and rounds in blocks: round k measures the k-th process of every case that
    lacks it, one comparison group after another (in a seeded shuffled order), each group's contenders back to back
    in an order that alternates between rounds (A B C, then C B A), so drift within a round cancels in their paired
    ratios. No round starts with the case the previous one ended with: a case's processes are never back to back
    (unless it is the only case)."""
    rng = np.random.default_rng(seed)
    order: list[tuple[Case, int]] = []
    groups: dict[tuple, list[Case]] = {}
    for case in cases:
        groups.setdefault(comparison_group(case), []).append(case)
    contenders = {key: sorted(members, key=lambda c: (c.runtime, c.variant, c.case_id))
                  for key, members in groups.items()}
    keys = list(contenders)
    target = {c.case_id: (targets or {}).get(c.case_id, c.processes) for c in cases}
    for round_index in range(max(target.values(), default=0)):
        blocks = []
        for g in rng.permutation(len(keys)):
            members = contenders[keys[g]] if round_index % 2 == 0 else contenders[keys[g]][::-1]
            due = [c for c in members if done.get(c.case_id, 0) <= round_index < target[c.case_id]]
            if due:
                blocks.append(due)
        if order and blocks and blocks[0][0].case_id == order[-1][0].case_id:
            blocks.append(blocks.pop(0)) if len(blocks) > 1 else blocks[0].reverse()
        order += [(c, round_index) for block in blocks for c in block]
    return order


def pooled(replicates: list[dict]) -> dict:
    """One case's result from its processes: samples pooled (and kept per process for the CI), and each declared
    field combined as its tracker says (median, worst or first process; a contention flag in any process flags
    the case)."""
    ok = [r for r in replicates if r.get("status") == "ok"]
    failed = [r for r in replicates if r.get("status") != "ok"]
    if failed or not ok:
        return {"status": "failed", "error": (failed or [{}])[0].get("error", "no process finished")}
    result = {"status": "ok", "processes": [r["samples_ms"] for r in ok],
              "samples_ms": [v for r in ok for v in r["samples_ms"]],
              "warmup_ms": [v for r in ok for v in r.get("warmup_ms") or []]}
    for name, declared in fields().items():
        if declared.column:  # a kept field (a series, a list of paths) stays per process in the record
            found = [r[name] for r in ok if r.get(name) is not None]
            result[name] = COMBINE[declared.combine](found) if found else None
    flags = [contended(r.get("steal_pct"), r.get("others_pct")) for r in ok]
    result["contended"] = None if all(f is None for f in flags) else any(bool(f) for f in flags)
    return result


def latency_row(profile: str, case: Case, result: dict, run_id: str, costs: dict | None = None,
                machine: str | None = None) -> dict:
    """One row of latency.csv (or of the quantized variants' table: the same columns), from ``pooled``: what the
    case is and what its processes observed. The statistics of its samples are added by the store's views."""
    row = {
        "profile": profile, "case_id": case.case_id, "model": case.model, "format": case.artifact.format,
        "precision": case.precision or case.artifact.precision, "variant": case.variant,
        "artifact_status": case.artifact.record.get("status"),
        "runtime": case.runtime, "runtime_version": case.runtime_version,
        "threads": case.threads, "cpus": " ".join(map(str, case.cpus)), "batch": case.batch,
        "status": result["status"], "error": result.get("error", ""),
        "artifact_bytes": case.artifact.record.get("bytes"), "artifact_sha256": case.artifact.record.get("sha256"),
        "machine": machine or environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now(),
        "measurement": "measured",
    }
    if result["status"] == "ok":
        row["n_warmup"] = len(result["warmup_ms"])
        for name, declared in fields().items():
            if declared.column:
                row[name] = result.get(name)
        row["contended"] = result.get("contended", contended(result.get("steal_pct"), result.get("others_pct")))
        if costs and costs.get("flops"):
            row["gflop_per_inference"] = costs["flops"] / 1e9
            row["arithmetic_intensity"] = costs["flops"] / costs["bytes"] if costs.get("bytes") else None
    return row


def measure_cases(name: str, store: ResultsStore, cases: list[Case], run_id: str, force: bool, progress: bool,
                  say, after_each=None, costs: dict | None = None, desc: str = "measuring",
                  launcher: Launcher | None = None, extra: dict[str, int] | None = None,
                  unmeasured: list[str] | None = None) -> list[str]:
    """Measure every case not measured yet, each in its profile's number of fresh processes (and ``extra`` more
    for a case in a race), in rounds (``interleaved``). The case's record is rewritten after each of its processes,
    so an interrupted run resumes with the processes still missing, and its row always pools the processes
    measured so far. A process the device could not run (unreachable, full) is not recorded: it is said, added to
    ``unmeasured``, and measured by the next run."""
    targets = {c.case_id: c.processes + (extra or {}).get(c.case_id, 0) for c in cases}
    records = {c.case_id: (None if force else store.get(c.case_id)) for c in cases}
    pending = [c for c in cases if not complete(records[c.case_id], c, targets[c.case_id])]
    done = {c.case_id: len(replicates_done(records[c.case_id])) for c in pending}
    keys = replicate_keys()
    for case, index in tqdm(interleaved(pending, done, targets=targets), desc=f"{name}: {desc}", unit="process",
                            disable=None if progress else True):
        replicates = replicates_done(records[case.case_id])
        if complete(records[case.case_id], case, targets[case.case_id]):
            continue  # failed in an earlier process
        say(f"[{name}] measuring {case.label} (process {index + 1} of {targets[case.case_id]})")
        process = measure_case(case, log_dir=store.logs_dir, launcher=launcher)
        if process.retryable:
            say(f"[{name}]   NOT MEASURED: {process.error}")
            if unmeasured is not None:
                unmeasured.append(f"{case.label} (process {index + 1})")
            continue
        result = process.to_json()
        replicates = replicates[:index] + [{k: result.get(k) for k in keys if k in result}]
        combined = pooled(replicates)
        row = latency_row(name, case, combined, run_id, (costs or {}).get(case.model),
                          (launcher or LocalLauncher()).machine)
        records[case.case_id] = {"case_id": case.case_id, "status": combined["status"], "inputs": case.inputs,
                                 "row": row, "replicates": replicates}
        store.put(records[case.case_id])
        if after_each:
            after_each()
        if result["status"] != "ok":
            say(f"[{name}]   FAILED: {result.get('error')}")
        elif len(replicates) == targets[case.case_id]:
            stats = latency_statistics(records[case.case_id])
            say(f"[{name}]   p50 {stats['p50_ms']:.3f} ms [{stats['ci_low_ms']:.3f}, {stats['ci_high_ms']:.3f}] "
                f"over {stats['n_runs']} runs in {stats['n_processes']} processes (their p50s "
                f"{stats['process_spread_pct']:.1f}% apart), peak RSS {row['rss_peak_mib']:.0f} MiB"
                + ("  (high dispersion: CV > 10%)" if stats["high_dispersion"] else ""))
    return [c.case_id for c in pending]
