"""A race for the close calls: after a group's planned rounds, if its fastest runtime is undetermined against the
runner-up (``study.analyze.comparisons``), more rounds of just the contenders still in question, until every
comparison with the fastest is decided or the group has had ``RACE_ROUNDS`` more rounds (bounded, as MLPerf's early
stopping is). A runtime already clearly behind is not timed again; a group raced to its bound is not raced again
by a later run (its records hold the rounds)."""

from __future__ import annotations

from collections import defaultdict

from study.analyze.comparisons import UNDETERMINED, compare_records
from study.core.store import ResultsStore, pooled_p50
from study.measure.cases import comparison_group

RACE_ROUNDS = 4  # extra rounds per comparison group at most, unless the profile's timing.race_rounds says otherwise


def contenders_in_question(cases: list, store: ResultsStore, budget: int = RACE_ROUNDS) -> dict[tuple, list]:
    """Per comparison group that is still close and has race rounds left: the fastest case and those undetermined
    against it."""
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
        if len(best.get("replicates") or []) >= planned + budget:
            continue  # raced to its bound already
        close = [case for case, record in rest
                 if compare_records(best, record, fastest.case_id, case.case_id).outcome == UNDETERMINED]
        if close and compare_records(best, rest[0][1], fastest.case_id, rest[0][0].case_id).outcome == UNDETERMINED:
            open_groups[key] = [fastest, *close]
    return open_groups


def race(cases: list, store: ResultsStore, measure, log=print, budget: int = RACE_ROUNDS) -> list[str]:
    """Race every close group: ``measure(cases, extra)`` measures one more round of ``cases`` (``extra``: the rounds
    each case gets beyond its planned processes). The ids of the cases timed again."""
    timed: list[str] = []
    for _ in range(budget):
        groups = contenders_in_question(cases, store, budget)
        if not groups:
            break
        racing = [case for members in groups.values() for case in members]
        extra = {}
        for case in racing:
            done = len((store.get(case.case_id) or {}).get("replicates") or [])
            extra[case.case_id] = done + 1 - case.processes
        log(f"race: {len(groups)} close group(s), one more round of {len(racing)} contender(s)")
        measure(racing, extra)
        timed += [c.case_id for c in racing]
    return list(dict.fromkeys(timed))
