"""The pick of each comparison group, judged in a duel: its contenders' workers kept loaded and warm take turns in
short bursts (``study.measure.duel``), in several sets of fresh workers, until the pick against the runner-up is
known to the profile's precision or the group's time is up.

A group is the cases of one model, dataset, thread count, batch and precision that measured in their rounds. The
duel's record (``duels/<id>.json``, its id a hash of the contenders' case ids and the duel's settings) is written
after every set, so an interrupted run goes on from the sets it has; a finished duel is not run again. The planned
looks (``looks``: after 3, 5 and 8 sets by default) are the only points where it may stop early, and the interval
at each is at the Bonferroni level for that many looks (``study.analyze.duels``). A set is only started when the
group's time bound (``max_seconds``) leaves room for one as long as the last, so the looks made never exceed the
planned number.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from study.analyze.duels import RUNTIME_DUELS, VARIANT_DUELS, half_width_pct, pick_and_runner_up
from study.core.ids import HARNESS_VERSION, content_id
from study.core.store import ResultsStore
from study.measure.duel import DuelSettings, run_set
from study.measure.launcher import CaseSpec, Launcher

DUEL_VERSION = 2  # part of a duel's id: bump it when what a duel's record means changes


def latency_group(case) -> dict:
    """Runtimes compared: one model, dataset, thread count, batch and precision."""
    return {"model": case.model, "dataset": case.dataset, "threads": case.threads, "batch": case.batch,
            "precision": case.precision or case.artifact.precision}


def variant_group(case) -> dict:
    """A quantized variant against its fp32 twin: one network, dataset, thread count and batch, in one runtime."""
    return {"model": case.model, "dataset": case.dataset, "threads": case.threads, "batch": case.batch,
            "runtime": case.runtime}


@dataclass(frozen=True)
class DuelKind:
    """Which cases meet in a duel, where their records go, and which contenders are worth one."""
    records: str                      # the results folder of the duels' records
    table: str                        # the results file of their judged pairs
    group: Callable[[object], dict]   # a case's group
    close_only: bool                  # only contenders within the profile's span of the fastest (else every one)
    variants: bool = False            # the profile's variant duels' bound and looks, not its runtime duels'


RUNTIMES_DUEL = DuelKind(RUNTIME_DUELS, "comparisons.csv", latency_group, close_only=True)
VARIANTS_DUEL = DuelKind(VARIANT_DUELS, "variant_comparisons.csv", variant_group, close_only=False, variants=True)


def settings_for(profile, kind: DuelKind):
    settings = profile.duel_settings
    if kind.variants:  # a variant against its twin in one runtime: one planned look, a shorter bound (0: none)
        return settings.model_copy(update={"looks": (settings.variant_sets,), "max_seconds":
                                           settings.variant_max_seconds if settings.max_seconds > 0 else 0.0})
    return settings


def groups_of(cases: list, store: ResultsStore, kind: DuelKind, span: float | None) -> dict[tuple, list]:
    """The cases that measured in their rounds, by group (only groups of two or more), each group's contenders
    within ``span`` of its fastest (``contenders``; None: every one)."""
    groups = defaultdict(list)
    for case in cases:
        record = store.get(case.case_id)
        if record is not None and record.get("status") == "ok":
            groups[tuple(sorted(kind.group(case).items()))].append(case)
    return {key: members if span is None else contenders(members, store, span)
            for key, members in groups.items() if len(members) >= 2}


DUEL_WARMUP_S = 0.2  # a duel's worker warms up this long at most: its first cycles, dropped, warm it further


def duel_spec(case) -> CaseSpec:
    """A contender's kept-alive worker: the case's artifact, runtime, threads and CPUs, its runtime imported on any
    CPU (the contenders start together) and loaded on the case's, no tracker (nothing but the bursts is observed)."""
    timing = {**case.timing, "warmup_seconds": min(float(case.timing["warmup_seconds"]), DUEL_WARMUP_S)}
    spec = CaseSpec.for_case(case, scenario="duel", trackers=(), import_unpinned=True)
    return CaseSpec(spec.scenario, spec.model, spec.runtime, spec.artifact, spec.threads, spec.batch, spec.cpus,
                    timing, spec.model_input, spec.trackers, spec.options)


def contenders(members: list, store: ResultsStore, span: float) -> list:
    """The cases worth a duel: those whose rounds put them within ``span`` times the fastest's p50 (the fastest two
    at least). One far behind is not a close call: its rounds already say so, and its worker would cost the duel."""
    from study.core.store import pooled_p50

    ranked = sorted(members, key=lambda c: pooled_p50(store.get(c.case_id)))
    best = pooled_p50(store.get(ranked[0].case_id))
    return [c for place, c in enumerate(ranked) if place < 2 or pooled_p50(store.get(c.case_id)) <= span * best]


def set_settings(settings, spinning: tuple[str, ...] = ()) -> DuelSettings:
    """How one set runs, from a profile's duel section; ``spinning``: contenders earlier sets saw spin."""
    return DuelSettings(burst_ms=settings.burst_ms, min_calls=settings.min_calls, set_seconds=settings.set_seconds,
                        idle_limit=settings.idle_cpu_pct / 100, spinning=spinning)


def duel_id(members: list, settings) -> str:
    return content_id({"cases": sorted(c.case_id for c in members), "settings": settings.model_dump(mode="json"),
                       "harness": HARNESS_VERSION, "duel": DUEL_VERSION})


def duel_group(key: tuple, members: list, duels: ResultsStore, settings, launcher: Launcher, log=print,
               force: bool = False, log_dir=None) -> dict | None:
    """Run (or go on with) the duel of one group; its record, or None when it had nothing left to do."""
    ident = duel_id(members, settings)
    record = None if force else duels.get(ident)
    if record is not None and record.get("done"):
        return None
    record = record or {
        "case_id": ident, "status": "ok", "done": False, "sets": [],
        "inputs": {**dict(key), "settings": settings.model_dump(mode="json"),
                   "contenders": {c.case_id: {"runtime": c.runtime, "variant": c.variant, "label": c.label}
                                  for c in members}}}
    specs = {c.case_id: duel_spec(c) for c in members}
    looks = sorted(set(settings.looks))
    started, last = time.perf_counter(), 0.0
    reason = f"{looks[-1]} sets, the most planned"
    while len(record["sets"]) < looks[-1]:
        if record["sets"] and time.perf_counter() - started + last > settings.max_seconds:
            reason = f"the group's time bound ({settings.max_seconds:g} s)"
            break
        failed = {name for s in record["sets"] for name in s.get("failed") or {} if name in specs}
        live = {name: spec for name, spec in specs.items() if name not in failed}
        if len(live) < 2:
            reason = "fewer than two contenders still run"
            break
        began = time.perf_counter()
        seen = tuple(sorted({name for s in record["sets"] for name in s.get("spinning") or ()}))
        duel_set = run_set(launcher, live, set_settings(settings, spinning=seen), seed=int(ident[:8], 16) + len(record["sets"]), log_dir=log_dir)
        last = time.perf_counter() - began
        record["sets"].append(duel_set)
        duels.put(record)
        for name, why in (duel_set.get("failed") or {}).items():
            log(f"  duel set {len(record['sets'])}: {record['inputs']['contenders'].get(name, {}).get('label', name)} "
                f"FAILED: {why}")
        judged = pick_and_runner_up(record)
        if judged is None:
            continue
        cycles = sum(len([c for c in s["cycles"] if not c.get("warm")]) for s in record["sets"])
        width = half_width_pct(judged)
        log(f"  duel set {len(record['sets'])} ({last:.1f} s, {cycles} cycles so far): {judged.sentence(_label(record))}"
            + (f"; ±{width:.1f}%" if width == width else ""))
        if len(record["sets"]) in looks and width == width and width <= settings.precision_pct:
            reason = f"within ±{settings.precision_pct:g}% at the look after {len(record['sets'])} sets"
            break
    record.update(done=True, stopped=reason)
    duels.put(record)
    return record


def _label(record: dict):
    contenders = record["inputs"]["contenders"]
    return lambda name: " ".join(filter(None, (contenders.get(name, {}).get("runtime", name),
                                               contenders.get(name, {}).get("variant"))))


def duel(cases: list, store: ResultsStore, profile, launcher: Launcher, log=print, force: bool = False,
         kind: DuelKind = RUNTIMES_DUEL) -> list[str]:
    """Every group of ``cases`` duelled (those not already), then its table written; the ids of the duels run."""
    settings = settings_for(profile, kind)
    if settings.max_seconds <= 0:
        log("no duels (duel max_seconds is 0): each comparison is judged by its rounds alone")
        return []
    duels = ResultsStore(profile.name, records=kind.records)
    ran = []
    for key, members in sorted(groups_of(cases, store, kind, _span(profile, kind)).items(), key=str):
        named = dict(key)
        group = ", ".join(str(v) for v in (named["model"], named.get("dataset"), f"{named['threads']} thread(s)",
                                           f"batch {named['batch']}", named.get("precision"), named.get("runtime"))
                          if v)
        log(f"duel: {group}: {', '.join(sorted(c.runtime + ' ' + c.variant for c in members))}")
        record = duel_group(key, members, duels, settings, launcher, log=log, force=force, log_dir=store.logs_dir)
        if record is not None:
            ran.append(record["case_id"])
            log(f"  duel done: {record['stopped']}")
    write_comparisons(cases, store, profile, kind)
    return ran


def _span(profile, kind: DuelKind) -> float | None:
    return profile.duel_settings.span if kind.close_only else None


def duel_records(cases: list, store: ResultsStore, profile, kind: DuelKind = RUNTIMES_DUEL) -> list[dict]:
    """The records of the duels of the plan's groups (those run so far)."""
    duels = ResultsStore(profile.name, records=kind.records)
    settings = settings_for(profile, kind)
    return duels.records([duel_id(members, settings)
                          for members in groups_of(cases, store, kind, _span(profile, kind)).values()])


def write_comparisons(cases: list, store: ResultsStore, profile, kind: DuelKind = RUNTIMES_DUEL):
    """The kind's table (``comparisons.csv``): the judged pairs of the plan's duels (``study.analyze.duels``)."""
    from study.analyze.duels import comparisons_table
    from study.core.fsutil import csv_text, write_text_atomic

    table = comparisons_table(duel_records(cases, store, profile, kind), profile.name)
    write_text_atomic(store.directory / kind.table, csv_text(table))
    return table
