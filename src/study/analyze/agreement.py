"""Does a rerun confirm the picks? Per comparison group (model, threads, batch) of two runs' latency records: the
fastest runtime, its paired comparison with the runner-up (``study.analyze.comparisons``), and whether the second
run says the same. A "faster" call is confirmed when the rerun picks the same runtime and does not find it slower
than the runner-up; an "equivalent" call when the rerun does not tell the two apart (neither faster). Stricter, and
shown beside it: the rerun gives the same pair the same outcome. An undetermined first call claims nothing and is
not counted."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from study.analyze.comparisons import EQUIVALENT, FASTER, SLOWER, UNDETERMINED, compare_records, half_width_pct
from study.core.store import pooled_p50

AGREEMENT_COLUMNS = ["model", "threads", "batch", "pick", "runner_up", "outcome", "ratio", "low", "high",
                     "half_width_pct", "rounds", "second_pick", "second_outcome", "second_ratio", "second_low", "second_high", "confirmed", "same_outcome",
                     "inside_first", "consistent"]


def picks(records: list[dict]) -> dict[tuple, tuple]:
    """Per group: (pick, runner-up, their comparison) from the fp32 latency records that measured every round."""
    groups = defaultdict(list)
    for record in records:
        inputs = record.get("inputs") or {}
        if record.get("status") == "ok" and not inputs.get("scheme"):
            groups[(inputs["model"], inputs["threads"], inputs["batch"])].append(record)
    found = {}
    for key, members in groups.items():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=pooled_p50)  # as the race ranks them
        best, second = ranked[0], ranked[1]
        a, b = best["inputs"]["runtime"], second["inputs"]["runtime"]
        found[key] = (a, b, compare_records(best, second, a, b))
    return found


def pair_outcome(records: list[dict], key: tuple, a: str, b: str):
    """The comparison of ``a`` against ``b`` in one run's group ``key``, or None if either is missing."""
    found = {r["inputs"]["runtime"]: r for r in records if r.get("status") == "ok"
             and not (r.get("inputs") or {}).get("scheme")
             and (r["inputs"]["model"], r["inputs"]["threads"], r["inputs"]["batch"]) == key}
    if a not in found or b not in found:
        return None
    return compare_records(found[a], found[b], a, b)


def duel_picks(table: pd.DataFrame) -> dict[tuple, tuple]:
    """Per group: (pick, runner-up, their comparison) as the run's duels judged them (``comparisons.csv``)."""
    from study.analyze.comparisons import from_row

    if table is None or table.empty:
        return {}
    return {(r["model"], r["threads"], r["batch"]): (r["runtime_a"], r["runtime_b"],
                                                     from_row(r, r["runtime_a"], r["runtime_b"]))
            for r in table[table["role"] == "runner-up"].to_dict("records")}


def duel_pair(table: pd.DataFrame, key: tuple, a: str, b: str):
    """``a`` against ``b`` in one run's duel of group ``key``, when that duel judged the pair."""
    from study.analyze.comparisons import flipped, from_row

    if table is None or table.empty:
        return None
    for r in table.to_dict("records"):
        if (r["model"], r["threads"], r["batch"]) != key:
            continue
        if (r["runtime_a"], r["runtime_b"]) == (a, b):
            return from_row(r, a, b)
        if (r["runtime_a"], r["runtime_b"]) == (b, a):
            return flipped(from_row(r, b, a))
    return None


def agreement(first: list[dict], second: list[dict], first_duels: pd.DataFrame | None = None,
              second_duels: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per group of the first run: its call and what the second run says of the same pair, from the runs'
    duels (their ``comparisons.csv``) where they had them, else from their rounds."""
    later = {**picks(second), **duel_picks(second_duels)}
    rows = []
    for key, (pick, runner_up, call) in sorted({**picks(first), **duel_picks(first_duels)}.items()):
        again = duel_pair(second_duels, key, pick, runner_up) or pair_outcome(second, key, pick, runner_up)
        second_pick = later[key][0] if key in later else ""
        confirmed = same = None
        if call.outcome in (FASTER, EQUIVALENT):
            same = again is not None and again.outcome == call.outcome
            if call.outcome == FASTER:
                confirmed = again is not None and second_pick == pick and again.outcome != SLOWER
            else:
                confirmed = again is not None and again.outcome in (EQUIVALENT, UNDETERMINED)
        rows.append({"model": key[0], "threads": key[1], "batch": key[2], "pick": pick, "runner_up": runner_up,
                     "outcome": call.outcome, "ratio": call.ratio, "low": call.low, "high": call.high,
                     "half_width_pct": half_width_pct(call), "rounds": call.rounds, "second_pick": second_pick,
                     "second_outcome": again.outcome if again else "", "second_ratio": again.ratio if again else None,
                     "second_low": again.low if again else None, "second_high": again.high if again else None,
                     "confirmed": confirmed, "same_outcome": same, **_between(call, again)})
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _between(call, again) -> dict:
    """Do the two runs' ratios agree within their intervals? ``inside_first``: the rerun's ratio lies in the first
    run's interval (even exact intervals miss it often: the rerun's ratio has its own noise, about 1 time in 6 for
    two 95% intervals of equal width). ``consistent``: the difference of the two log ratios lies within the two
    half-widths combined (sqrt(h1² + h2²)), the test that counts both runs' noise."""
    import math

    if again is None or not all(math.isfinite(v) and v > 0 for v in (call.low, call.high, again.low, again.high)):
        return {"inside_first": None, "consistent": None}
    first_h, second_h = math.log(call.high / call.low) / 2, math.log(again.high / again.low) / 2
    difference = abs(math.log(call.ratio) - math.log(again.ratio))
    return {"inside_first": bool(call.low <= again.ratio <= call.high),
            "consistent": bool(difference <= math.hypot(first_h, second_h))}


def headline(table: pd.DataFrame) -> str:
    """The rerun figures in one line: the confirmed share of decided calls, the undetermined ones, the median
    half-width of the pick-vs-runner-up ratios."""
    decided = table[table["outcome"] != UNDETERMINED]
    confirmed = int(decided["confirmed"].astype(bool).sum())
    same = int(decided["same_outcome"].astype(bool).sum())
    share = f"{100 * confirmed / len(decided):.0f}%" if len(decided) else "n/a"
    return (f"{confirmed} of {len(decided)} decided picks confirmed by the rerun ({share}; {same} with the same "
            f"outcome); "
            f"{len(table) - len(decided)} of {len(table)} undetermined; median half-width of the pick-vs-runner-up "
            f"ratio {table['half_width_pct'].median():.1f}%"
            + _agreeing(table))


def _agreeing(table: pd.DataFrame) -> str:
    paired = table[table["consistent"].notna()] if "consistent" in table else table.iloc[0:0]
    if not len(paired):
        return ""
    return (f"; the two runs' ratios consistent within their intervals in {int(paired['consistent'].astype(bool).sum())}"
            f" of {len(paired)} groups ({int(paired['inside_first'].astype(bool).sum())} rerun ratios inside the "
            "first run's interval)")
