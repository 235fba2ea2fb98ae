"""Duels judged: contenders timed in interleaved bursts by workers that stay loaded (``study.measure.duel``).

Per cycle, each contender's burst median (its first call dropped: the first after a switch) and their log ratio:
the cycle's noise state cancels in it. Per set of fresh workers, the mean log ratio over its kept cycles (its warm-up
cycles dropped). Neighbouring cycles share slow spells and are not counted as independent: the interval is a t
interval over the sets' means, one value per set, so what differs between two fresh processes (where the allocator
put the weights, which core's cache they warmed) is inside it as well as every cycle's noise.

A duel looks at its interval after a few planned numbers of sets (``looks``) and stops at the first where the pick
against the runner-up is within the precision. Each look's interval is at level 1 - 0.05 / (number of looks)
(Bonferroni), so the chance that the interval reported misses the true ratio stays at most 5% whichever look
stopped. Outcomes as everywhere in the study (``study.analyze.comparisons``): faster, equivalent within ±5% by two
one-sided tests, or undetermined with the smallest difference these sets detect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from study.core import schema
from study.analyze.comparisons import LEVEL, Comparison, compare, half_width_pct
from study.core.statistics import idle_share

RUNTIME_DUELS, VARIANT_DUELS = "duels", "variant_duels"  # the results folders of their records (study.phases.duel)

COMPARISON_COLUMNS = list(schema.COMPARISON_COLUMNS)


def burst_median(samples) -> float:
    """A burst's median without its first call (the first after another contender's burst)."""
    kept = list(samples)[1:] if len(samples) > 1 else list(samples)
    return float(np.median(kept)) if kept else math.nan


def kept_cycles(duel_set: dict) -> list[dict]:
    return [c for c in duel_set.get("cycles") or [] if not c.get("warm")]


def set_log_ratio(duel_set: dict, a: str, b: str) -> tuple[float, int]:
    """The set's mean log ratio of ``a``'s burst medians over ``b``'s, over the kept cycles that have both; and how
    many cycles that is (NaN and 0 when none)."""
    logs = []
    for cycle in kept_cycles(duel_set):
        bursts = cycle["bursts"]
        if a in bursts and b in bursts:
            ma, mb = burst_median(bursts[a]["samples_ms"]), burst_median(bursts[b]["samples_ms"])
            if ma > 0 and mb > 0:
                logs.append(math.log(ma) - math.log(mb))
    return (float(np.mean(logs)), len(logs)) if logs else (math.nan, 0)


def look_level(record: dict) -> float:
    """The interval's level at each look: 95% split over the duel's planned looks (Bonferroni)."""
    looks = (record.get("inputs") or {}).get("settings", {}).get("looks") or [1]
    return 1.0 - (1.0 - LEVEL) / len(looks)


def judge(record: dict, a: str, b: str) -> Comparison:
    """``a`` against ``b`` over the duel's sets: a t interval over the sets' mean log ratios, at the look level."""
    per_set = [set_log_ratio(s, a, b) for s in record.get("sets") or []]
    per_set = [(value, n) for value, n in per_set if n > 0]
    logs = np.array([value for value, _ in per_set])
    cycles = sum(n for _, n in per_set)
    found = compare(a, b, np.exp(logs), np.ones(len(logs)), level=look_level(record))
    return Comparison(found.a, found.b, found.rounds, found.ratio, found.low, found.high, found.outcome, found.wins,
                      found.detectable_pct, found.margin, unit="sets of fresh workers", cycles=cycles)


def ranking(record: dict) -> list[str]:
    """The contenders, fastest first: each one's mean log ratio to the one timed in the most sets."""
    sets = record.get("sets") or []
    present: dict[str, int] = {}
    for duel_set in sets:
        for name in {n for c in kept_cycles(duel_set) for n in c["bursts"]}:
            present[name] = present.get(name, 0) + 1
    if not present:
        return []
    reference = max(sorted(present), key=present.get)
    score = {}
    for name in present:
        values = [v for v, n in (set_log_ratio(s, name, reference) for s in sets) if n > 0]
        score[name] = float(np.mean(values)) if values else (0.0 if name == reference else math.inf)
    return sorted(score, key=lambda n: (score[n], n))


def pick_and_runner_up(record: dict) -> Comparison | None:
    ranked = ranking(record)
    return judge(record, ranked[0], ranked[1]) if len(ranked) >= 2 else None


def duel_seconds(record: dict) -> float:
    return float(sum(s.get("seconds") or 0.0 for s in record.get("sets") or []))


def idle_of(record: dict) -> dict[str, float]:
    """Each contender's idle CPU share (0.01: 1% of a CPU) over the kept cycles of every set."""
    return idle_share([c for s in record.get("sets") or [] for c in kept_cycles(s)])


def settles(record: dict) -> dict[str, float]:
    """Per contender waited for after its bursts (its idle pool spun), the median wait in ms over the kept cycles."""
    waits: dict[str, list[float]] = {}
    for duel_set in record.get("sets") or []:
        for cycle in kept_cycles(duel_set):
            for name, burst in cycle["bursts"].items():
                if burst.get("settle_ms"):
                    waits.setdefault(name, []).append(float(burst["settle_ms"]))
    return {name: float(np.median(values)) for name, values in waits.items()}


def guard(record: dict) -> str:
    """What was done against idle pools that spin, in words."""
    waited = settles(record)
    if not waited:
        return "none needed: no idle worker took more than the limit"
    contenders = (record.get("inputs") or {}).get("contenders") or {}
    named = ", ".join(f"{contenders.get(n, {}).get('runtime', n)} ({ms:.0f} ms)" for n, ms in sorted(waited.items()))
    return f"waited after each burst until the idle pool stopped spinning: {named}, median wait"


def comparisons(record: dict, profile: str = "") -> list[dict]:
    """The duel's rows of ``comparisons.csv``: the pick against each other contender, the runner-up first."""
    ranked = ranking(record)
    if len(ranked) < 2:
        return []
    inputs = record.get("inputs") or {}
    contenders = inputs.get("contenders") or {}
    idle = idle_of(record)
    waited = settles(record)
    rows = []
    pick = ranked[0]
    for place, other in enumerate(ranked[1:]):
        judged = judge(record, pick, other)
        a, b = contenders.get(pick, {}), contenders.get(other, {})
        rows.append({
            "profile": profile, "model": inputs.get("model"), "dataset": inputs.get("dataset"),
            "threads": inputs.get("threads"), "batch": inputs.get("batch"), "precision": inputs.get("precision"),
            "role": "runner-up" if place == 0 else "other", "runtime_a": a.get("runtime"), "variant_a": a.get("variant"),
            "runtime_b": b.get("runtime"), "variant_b": b.get("variant"), "ratio": judged.ratio, "low": judged.low,
            "high": judged.high, "level": look_level(record), "outcome": judged.outcome,
            "half_width_pct": half_width_pct(judged), "detectable_pct": judged.detectable_pct,
            "cycles": judged.cycles, "sets": judged.rounds, "seconds": round(duel_seconds(record), 1),
            "idle_cpu_pct": 100 * max(idle.values(), default=0.0), "idle_cpu_pct_a": 100 * idle.get(pick, math.nan),
            "idle_cpu_pct_b": 100 * idle.get(other, math.nan), "settle_ms": max(waited.values(), default=0.0),
            "guard": guard(record), "case_a": pick, "case_b": other})
    return rows


def comparisons_table(records: list[dict], profile: str = "") -> pd.DataFrame:
    rows = [row for record in records if record.get("status") == "ok" for row in comparisons(record, profile)]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def by_contender(records: list[dict]) -> dict[str, dict]:
    """Each case's duel record (the latest finished one it took part in), by case id."""
    found: dict[str, dict] = {}
    ordered = sorted(records, key=lambda r: (bool(r.get("done")), max((s.get("started_at") or "" for s in
                                                                        r.get("sets") or []), default="")))
    for record in ordered:
        for case_id in (record.get("inputs") or {}).get("contenders") or {}:
            found[case_id] = record
    return found


def pair_of(rows: dict, case_a: str, case_b: str, a: str, b: str):
    """``a`` against ``b`` as a duel judged them (``rows``: ``comparisons.csv`` by (case_a, case_b)), read either way
    round; None when no duel judged that pair."""
    from study.analyze.comparisons import flipped, from_row

    if (case_a, case_b) in rows:
        return from_row(rows[(case_a, case_b)], a, b)
    if (case_b, case_a) in rows:
        return flipped(from_row(rows[(case_b, case_a)], b, a))
    return None
