"""Fewer, longer processes or more, shorter ones? One comparison group (a model's runtimes at one thread setting,
batch 1) measured under several designs of the profile's timing, design after design in alternating order, and
repeated: what each design's paired comparisons (``study.analyze.comparisons``) bought for the wall time it took.

Not a phase of the report: ``python -m study tradeoff --profile P`` answers the question the profile's
``timing.processes`` and ``timing.min_seconds`` settle, on the machine it runs on. Each design's records are kept
(``results/<profile>/tradeoff/<design>-r<repeat>/``, raw samples and all), so an interrupted run resumes, and the
table ``tradeoff.csv`` is a view of them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.analyze.comparisons import compare_records, half_width_pct
from study.build.convert import artifact_batch, ensure_artifact
from study.core.fsutil import write_json_atomic, write_rows_atomic
from study.core.store import ResultsStore, pooled_p50
from study.measure.cases import measure_cases
from study.plan.device import device_versions
from study.plan.cases import make_case, new_run_id, settings, timing_of
from study.plan.profiles import Profile

TRADEOFF_COLUMNS = ["design", "repeat", "processes", "min_seconds", "min_runs", "wall_s", "a", "b", "rounds",
                    "ratio", "low", "high", "half_width_pct", "outcome"]


@dataclass(frozen=True)
class Design:
    """A way to spend a case's time: ``processes`` fresh processes, each timing at least ``min_seconds``."""
    processes: int
    min_seconds: float
    min_runs: int

    @property
    def name(self) -> str:
        return f"{self.processes}x{self.min_seconds:g}s"

    @classmethod
    def parse(cls, text: str) -> "Design":
        """``6x0.25`` or ``6x0.25s``: six processes of at least 0.25 s each."""
        try:
            processes, seconds = text.lower().rstrip("s").split("x")
            design = cls(int(processes), float(seconds), 1)
        except ValueError:
            raise ValueError(f"design {text!r}: expected PROCESSESxSECONDS, for example 6x0.25") from None
        if design.processes < 2 or design.min_seconds <= 0:
            raise ValueError(f"design {text!r}: at least 2 processes (rounds) and a positive time")
        return design


def group_cases(profile: Profile, model: str, design: Design, runtimes: list[str] | None, log=print) -> list:
    """The cases of one comparison group (``model``, the profile's first thread setting, batch 1), timed by
    ``design``: the profile's timing otherwise (its warm-up, its ceiling per process)."""
    threads = min(profile.resolved_threads())
    timing = {**timing_of(profile), "processes": design.processes, "min_seconds": design.min_seconds,
              "min_runs": design.min_runs}
    cases = []
    for s in settings(profile, log=log):
        if s.model == model and s.batch == 1 and s.threads == threads and (not runtimes or s.runtime in runtimes):
            artifact = ensure_artifact(model, s.format, artifact_batch(s.format, 1), log=log)
            if artifact.ok:
                cases.append(make_case(model, s.runtime, threads, 1, profile.allowed_cpus(), artifact, timing,
                                       device_versions(profile)))
    return cases


def comparisons(cases: list, store: ResultsStore) -> list:
    """The fastest case of the group against each other, paired over their rounds."""
    measured = [(c, store.get(c.case_id)) for c in cases]
    measured = [(c, r) for c, r in measured if r is not None and r.get("status") == "ok"]
    measured.sort(key=lambda m: pooled_p50(m[1]))
    if len(measured) < 2:
        return []
    (fastest, best), rest = measured[0], measured[1:]
    return [compare_records(best, record, fastest.runtime, case.runtime) for case, record in rest]


def run_tradeoff(profile: Profile, model: str, designs: list[Design], repeats: int, runtimes: list[str] | None,
                 progress: bool = True, log=print) -> pd.DataFrame:
    """Every design ``repeats`` times (the design order reversed every other repeat, so a slow spell does not fall
    on one design), each repeat's records kept; the table of every comparison with its wall time."""
    store = ResultsStore(profile.name)
    table = store.directory / "tradeoff.csv"
    walls_path = store.directory / "tradeoff" / "walls.json"
    walls: dict = {}
    if walls_path.exists():
        walls = json.loads(walls_path.read_text())
    rows = []
    run_id = new_run_id()
    for repeat in range(1, repeats + 1):
        order = designs if repeat % 2 else list(reversed(designs))
        for design in order:
            key = f"{design.name}-r{repeat}"
            here = ResultsStore(profile.name, records=f"tradeoff/{key}")
            cases = group_cases(profile, model, design, runtimes, log=log)
            if len(cases) < 2:
                raise ValueError(f"{model}: fewer than two runtimes of profile {profile.name} to compare")
            if key not in walls:
                log(f"tradeoff: {model}, design {design.name}, repeat {repeat} of {repeats}: "
                    f"{len(cases)} runtimes x {design.processes} processes")
                started = time.monotonic()
                torn = here.cases_dir.exists()  # an interrupted design: measured again whole, so its wall time holds
                measure_cases(profile.name, here, cases, run_id, torn, progress, log, desc=f"tradeoff {key}")
                walls[key] = time.monotonic() - started
                write_json_atomic(walls_path, walls)
            for c in comparisons(cases, here):
                rows.append({"design": design.name, "repeat": repeat, "processes": design.processes,
                             "min_seconds": design.min_seconds, "min_runs": design.min_runs,
                             "wall_s": walls[key], "a": c.a, "b": c.b, "rounds": c.rounds, "ratio": c.ratio,
                             "low": c.low, "high": c.high, "half_width_pct": half_width_pct(c),
                             "outcome": c.outcome})
    return write_rows_atomic(table, rows, TRADEOFF_COLUMNS)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per design: its median wall time, its median half-width, and that half-width scaled to the same time
    (a half-width shrinks as 1/sqrt(time) when time buys rounds): the design with the smaller one buys more
    precision per second."""
    per = frame.groupby("design", sort=False).agg(wall_s=("wall_s", "median"),
                                                  half_width_pct=("half_width_pct", "median"),
                                                  decided=("outcome", lambda o: float(np.mean(o != "undetermined"))))
    reference = float(per["wall_s"].max())
    per["half_width_at_same_time_pct"] = per["half_width_pct"] * np.sqrt(per["wall_s"] / reference)
    return per.reset_index()
