"""A race for the close calls: after a group's planned rounds, more rounds of just the contenders still in question,
until the pick is known to a stated precision, or the group has had ``RACE_ROUNDS`` more rounds (bounded, as MLPerf's
early stopping is), or those rounds could not reach the precision at the spread seen so far (futility).

A group is still in question while the interval of its fastest runtime's ratio to the runner-up, or to another
runtime it is undetermined against (``study.analyze.comparisons``), is wider than the precision (half-width
``PRECISION_PCT``). The stopping rule looks at the interval's width, not at whether it excludes 1: a
race that stopped at the first round whose interval excluded 1 would call "faster" more often than its 95% says
(optional stopping; a rerun confirmed 3 of 5 such calls), while a width reached does not depend on the sign of the
difference (a fixed-width sequential interval, Chow and Robbins 1965). A runtime already clearly behind is not timed
again; a group raced to its bound is not raced again by a later run (its records hold the rounds)."""

from __future__ import annotations

from collections import defaultdict

import math

from study.analyze.comparisons import UNDETERMINED, compare_records, half_width_pct
from study.core.statistics import projected_half_width
from study.core.store import ResultsStore, pooled_p50
from study.measure.cases import comparison_group

RACE_ROUNDS = 4  # extra rounds per comparison group at most, unless the profile's timing.race_rounds says otherwise
PRECISION_PCT = 5.0  # the pick-vs-runner-up interval's half-width to reach, unless timing.race_precision_pct says


def imprecise(comparison, precision_pct: float = PRECISION_PCT) -> bool:
    """Is this comparison's interval wider than ±``precision_pct``?"""
    width = half_width_pct(comparison)
    return not (math.isfinite(width) and width <= precision_pct)


def reachable(comparison, rounds_left: int | None, precision_pct: float = PRECISION_PCT) -> bool:
    """Could the rounds left bring this comparison's interval within ±``precision_pct``, if the rounds' spread stays
    what it is? On a machine whose rounds scatter widely (a VM whose neighbours steal its CPUs), no budget reaches the
    precision: racing there spends the report's time and buys no pick. Like the width rule, this looks at the spread
    alone, never at the ratio, so stopping does not lean toward any outcome."""
    if rounds_left is None:
        return True
    log_half = math.log(1 + half_width_pct(comparison) / 100) if comparison.rounds >= 2 else math.inf
    projected = projected_half_width(log_half, comparison.rounds, rounds_left)
    return math.isfinite(projected) and 100 * (math.exp(projected) - 1) <= precision_pct


def in_question(comparison, runner_up: bool, precision_pct: float = PRECISION_PCT,
                rounds_left: int | None = None) -> bool:
    """The stopping rule for one contender against the fastest: timed again while its interval is wider than the
    precision, if it is the runner-up or undetermined (one already clearly behind is not), and while the rounds left
    can still reach the precision. Once narrow it stops, whatever the outcome: an undetermined ratio known to ±5% is a
    small difference, reported with what the rounds could detect, not a reason to go on until it turns decided."""
    return (imprecise(comparison, precision_pct) and (runner_up or comparison.outcome == UNDETERMINED)
            and reachable(comparison, rounds_left, precision_pct))


def contenders_in_question(cases: list, store: ResultsStore, budget: int = RACE_ROUNDS,
                           precision_pct: float = PRECISION_PCT, futility: bool = True) -> dict[tuple, list]:
    """Per comparison group still in question with race rounds left: the fastest case, the runner-up while their
    ratio is less precise than ``precision_pct``, and every case undetermined against it and as imprecise, while the
    rounds left can reach that precision (unless ``futility`` is off)."""
    groups = defaultdict(list)
    for case in cases:
        record = store.get(case.case_id)
        if record is not None and record.get("status") == "ok":
            groups[comparison_group(case)].append((case, record))
    open_groups = {}
    for key, members in groups.items():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=lambda m: pooled_p50(m[1]))
        (fastest, best), rest = ranked[0], ranked[1:]
        planned = max(case.processes for case, _ in members)
        left = planned + budget - len(best.get("replicates") or [])
        if left <= 0:
            continue  # raced to its bound already
        close = [case for place, (case, record) in enumerate(rest)
                 if in_question(compare_records(best, record, fastest.case_id, case.case_id), place == 0,
                                precision_pct, left if futility else None)]
        if close:
            open_groups[key] = [fastest, *close]
    return open_groups


def race(cases: list, store: ResultsStore, measure, log=print, budget: int = RACE_ROUNDS,
         precision_pct: float = PRECISION_PCT, futility: bool = True) -> list[str]:
    """Race every close group: ``measure(cases, extra)`` measures one more round of ``cases`` (``extra``: the rounds
    each case gets beyond its planned processes). The ids of the cases timed again."""
    timed: list[str] = []
    for _ in range(budget):
        groups = contenders_in_question(cases, store, budget, precision_pct, futility)
        if not groups:
            break
        racing = [case for members in groups.values() for case in members]
        extra = {}
        for case in racing:
            done = len((store.get(case.case_id) or {}).get("replicates") or [])
            extra[case.case_id] = done + 1 - case.processes
        log(f"race: {len(groups)} group(s) still in question (undetermined, or wider than ±{precision_pct:g}%), "
            f"one more round of {len(racing)} contender(s)")
        measure(racing, extra)
        timed += [c.case_id for c in racing]
    return list(dict.fromkeys(timed))
