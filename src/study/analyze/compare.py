"""`study compare`'s table and answer: one row per runtime a user's model was sent to, and the pick in one
sentence, read from the conversion matrix, the latency rounds and the duel (``comparisons.csv``).

A row's status says how far the model got: passed (converted, parity held, timed), parity failed (converted,
its outputs differ from the source's), or failed / no route (with the cause). The answer ships the duel's pick
among the runtimes that passed and meet the user's limits; where the duel did not judge them (one contender, a
pick outside the limits), it says that the order comes from the rounds alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from study.analyze.comparisons import EQUIVALENT, FASTER, UNDETERMINED, from_row
from study.core.runtimes import RUNTIMES

PASSED, MISMATCH, FAILED, NO_ROUTE = "passed", "parity failed", "failed", "no route"
MARKS = {PASSED: "✅", MISMATCH: "❎", FAILED: "❌", NO_ROUTE: "❌"}
TABLE_COLUMNS = ["runtime", "status", "threads", "batch", "p50_ms", "ci_low_ms", "ci_high_ms", "cold_start_ms",
                 "peak_mib", "size_mb", "delegated_pct", "max_rel_diff", "cosine_min", "top1_agreement", "why"]


@dataclass(frozen=True)
class Limits:
    """What the user asked the pick to fit: None where not asked."""
    budget_ms: float | None = None
    max_size_mb: float | None = None
    max_memory_mb: float | None = None

    def broken(self, row: dict) -> list[str]:
        """The limits a passed row breaks, in words."""
        broken = []
        if self.budget_ms is not None and row["p50_ms"] > self.budget_ms:
            broken.append(f"p50 {row['p50_ms']:.3g} ms over your {self.budget_ms:g} ms budget")
        if self.max_size_mb is not None and row["size_mb"] > self.max_size_mb:
            broken.append(f"{row['size_mb']:.3g} MB over your {self.max_size_mb:g} MB")
        if self.max_memory_mb is not None and _known(row["peak_mib"]) and row["peak_mib"] > self.max_memory_mb:
            broken.append(f"peak memory {row['peak_mib']:.0f} MiB over your {self.max_memory_mb:g} MiB")
        return broken


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def label(runtime: str) -> str:
    return RUNTIMES[runtime].label if runtime in RUNTIMES else runtime


def _first_line(text, limit: int = 160) -> str:
    text = "" if not _known(text) else str(text).strip()
    return text.splitlines()[0][:limit] if text else ""


def compare_table(model: str, runtimes: list[str], conversions: pd.DataFrame, latency: pd.DataFrame,
                  inputs_parity: dict | None = None) -> pd.DataFrame:
    """One row per runtime and (threads, batch) of the latency table, sorted by p50 (the rest after, by status).
    ``inputs_parity``: per runtime, parity on the user's own inputs, which replaces the seeded inputs' figures."""
    conversions = conversions[conversions["model"] == model] if len(conversions) else conversions
    latency = latency[(latency["model"] == model) & (latency["precision"] == "fp32")] if len(latency) else latency
    settings = sorted({(int(t), int(b)) for t, b in zip(latency["threads"], latency["batch"])}) if len(latency) \
        else [(None, None)]
    rows = []
    for runtime in runtimes:
        fmt = RUNTIMES[runtime].artifact_format
        converted = conversions[conversions["target"] == fmt] if len(conversions) else conversions
        conversion = converted.iloc[0].to_dict() if len(converted) else {}
        parity = {**conversion, **((inputs_parity or {}).get(runtime) or {})}
        for threads, batch in settings:
            case = latency[(latency["runtime"] == runtime) & (latency["threads"] == threads)
                           & (latency["batch"] == batch)] if len(latency) else latency
            case = case.iloc[0].to_dict() if len(case) else {}
            rows.append(_row(runtime, threads, batch, conversion, parity, case))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    order = {PASSED: 0, MISMATCH: 1, FAILED: 2, NO_ROUTE: 3}
    table["_order"] = table["status"].map(order)
    return table.sort_values(["threads", "batch", "_order", "p50_ms"], na_position="last", kind="stable") \
        .drop(columns="_order").reset_index(drop=True)


def _row(runtime: str, threads, batch, conversion: dict, parity: dict, case: dict) -> dict:
    row = {"runtime": runtime, "threads": threads, "batch": batch}
    for column in ("max_rel_diff", "cosine_min", "top1_agreement"):
        row[column] = parity.get(column) if _known(parity.get(column)) else None
    share = conversion.get("delegated_share")
    row["delegated_pct"] = 100.0 * float(share) if _known(share) and share != "" else None
    conversion_status = conversion.get("status")
    if not conversion:
        row.update(status=FAILED, why="not converted: no record (run again)")
    elif conversion_status == "n/a":
        row.update(status=NO_ROUTE, why=_first_line(conversion.get("error")) or "no route from this format")
    elif conversion_status == "failed":
        row.update(status=FAILED, why=_first_line(conversion.get("error")))
    elif parity.get("status") == "mismatch" or conversion_status == "mismatch":
        row.update(status=MISMATCH, why=_first_line(parity.get("error") or conversion.get("error")))
    elif not case:
        row.update(status=FAILED, why="converted, not timed (run again to time it)")
    elif case.get("status") != "ok":
        row.update(status=FAILED, why=_first_line(case.get("error")))
    else:
        row.update(status=PASSED, why="")
    if case and case.get("status") == "ok":
        row.update(p50_ms=case["p50_ms"], ci_low_ms=case.get("ci_low_ms"), ci_high_ms=case.get("ci_high_ms"),
                   cold_start_ms=sum(float(case.get(k) or 0) for k in ("import_ms", "load_ms", "first_ms")),
                   peak_mib=case.get("rss_peak_mib"), size_mb=float(case["artifact_bytes"]) / 1e6)
    elif _known(conversion.get("bytes")) and conversion.get("bytes") != "":
        row["size_mb"] = float(conversion["bytes"]) / 1e6
    return row


def answer(table: pd.DataFrame, comparisons: pd.DataFrame, model: str, threads: int, batch: int,
           limits: Limits = Limits()) -> dict:
    """The pick for one (threads, batch) in one sentence: {"ship", "sentence", "outcome", "basis"}; "ship" is None
    when nothing can be shipped (no runtime ran the model, or none fits the limits)."""
    rows = table[(table["threads"] == threads) & (table["batch"] == batch)]
    passed = [r for r in rows.to_dict("records") if r["status"] == PASSED]
    if not passed:
        return {"ship": None, "outcome": "none ran", "basis": "",
                "sentence": "No runtime ran the model with parity: see each row's cause and fix."}
    fitting = [r for r in passed if not limits.broken(r)]
    if not fitting:
        fastest = min(passed, key=lambda r: r["p50_ms"])
        return {"ship": None, "outcome": "none fits", "basis": "rounds",
                "sentence": f"No runtime fits your limits: the fastest, {label(fastest['runtime'])}, has "
                            + "; ".join(limits.broken(fastest)) + "."}
    fitting.sort(key=lambda r: r["p50_ms"])
    names = {r["runtime"] for r in fitting}
    duel = _duel_rows(comparisons, model, threads, batch)
    pick = next((r for r in duel if r["runtime_a"] in names), None)
    rivals = [r for r in duel if pick is not None and r["runtime_a"] == pick["runtime_a"] and r["runtime_b"] in names]
    ship = pick["runtime_a"] if pick is not None and rivals else fitting[0]["runtime"]
    chosen = next(r for r in fitting if r["runtime"] == ship)
    tail = _tail(chosen, limits)
    if len(fitting) == 1:
        alone = "the only runtime that passed" if len(passed) == 1 else "the only one within your limits"
        return {"ship": ship, "outcome": "alone", "basis": "rounds",
                "sentence": f"Ship {label(ship)}: {alone}, p50 {chosen['p50_ms']:.3g} ms{tail}."}
    if not rivals:  # no duel judged the fitting runtimes against each other: the rounds' order, said so
        second = fitting[1]
        return {"ship": ship, "outcome": "rounds only", "basis": "rounds",
                "sentence": f"{label(ship)} is fastest in the rounds (p50 {chosen['p50_ms']:.3g} ms against "
                            f"{label(second['runtime'])}'s {second['p50_ms']:.3g} ms), not judged in a duel{tail}."}
    rival = next((r for r in rivals if r["role"] == "runner-up"), rivals[0])
    comparison = from_row(rival, ship, rival["runtime_b"])
    a, b = label(ship), label(rival["runtime_b"])
    if comparison.outcome == FASTER:
        words = (f"Ship {a}: {comparison.faster_pct:.0f}% faster than {b} "
                 f"[{100 * (1 - comparison.high):.0f}, {100 * (1 - comparison.low):.0f}]")
    elif comparison.outcome == EQUIVALENT:
        words = (f"Ship {a} or {b}: equivalent within ±{100 * comparison.margin:.0f}% (ratio {comparison.ratio:.3f} "
                 f"[{comparison.low:.3f}, {comparison.high:.3f}])")
    elif comparison.outcome == UNDETERMINED:
        detect = f"; the duel detects {comparison.detectable_pct:.0f}% or more" \
            if math.isfinite(comparison.detectable_pct) else ""
        words = (f"{a} or {b}: not told apart (ratio {comparison.ratio:.3f} [{comparison.low:.3f}, "
                 f"{comparison.high:.3f}]{detect}); {a} leads")
    else:  # the duel's pick is slower than a rival: cannot be, the pick is the faster over the sets
        words = f"Ship {a}: {comparison.short(label)}"
    return {"ship": ship, "outcome": comparison.outcome, "basis": "duel", "sentence": words + tail + ".",
            "ratio": comparison.ratio, "low": comparison.low, "high": comparison.high,
            "runner_up": rival["runtime_b"], "sets": comparison.rounds, "cycles": comparison.cycles}


def _tail(row: dict, limits: Limits) -> str:
    parts = []
    if _known(row.get("max_rel_diff")):
        parts.append(f"parity {row['max_rel_diff']:.0e}")
    if limits.budget_ms is not None:
        parts.append(f"within your {limits.budget_ms:g} ms budget")
    return (", " + ", ".join(parts)) if parts else ""


def _duel_rows(comparisons: pd.DataFrame, model: str, threads: int, batch: int) -> list[dict]:
    if comparisons is None or not len(comparisons):
        return []
    found = comparisons[(comparisons["model"] == model) & (comparisons["threads"] == threads)
                        & (comparisons["batch"] == batch)]
    found = found.assign(_first=found["role"] != "runner-up").sort_values("_first", kind="stable")
    return found.drop(columns="_first").to_dict("records")


def markdown(table: pd.DataFrame) -> str:
    """The table as a user reads it: marks, rounded numbers, one line per row."""
    shown = pd.DataFrame({
        "runtime": [label(r) for r in table["runtime"]],
        "status": [f"{MARKS[s]} {s}" for s in table["status"]],
        "threads": [_number(v, "{:.0f}") for v in table["threads"]],
        "p50 ms [95% CI]": [_interval(r) for r in table.to_dict("records")],
        "cold start ms": [_number(v, "{:.0f}") for v in table["cold_start_ms"]],
        "peak MiB": [_number(v, "{:.0f}") for v in table["peak_mib"]],
        "size MB": [_number(v, "{:.2f}") for v in table["size_mb"]],
        "XNNPACK %": [_number(v, "{:.0f}") for v in table["delegated_pct"]],
        "parity": [_number(v, "{:.0e}") for v in table["max_rel_diff"]],
        "why": table["why"],
    })
    return shown.to_markdown(index=False)


def _number(value, spelled: str) -> str:
    return spelled.format(float(value)) if _known(value) and value != "" else ""


def _interval(row: dict) -> str:
    if not _known(row.get("p50_ms")):
        return ""
    low, high = row.get("ci_low_ms"), row.get("ci_high_ms")
    return f"{row['p50_ms']:.3g} [{low:.3g}, {high:.3g}]" if _known(low) and _known(high) else f"{row['p50_ms']:.3g}"
