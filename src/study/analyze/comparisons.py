"""Two runtimes compared as the field compares them: paired, round by round.

A round times every contender of one comparison group (same model, threads, batch, precision) back to back, so a
slow spell of the shared machine slows all of them alike. Each round gives one ratio of p50s, A over B; the
comparison is a t interval on the mean log ratio over rounds (the drift common to both cancels in each ratio).

One of three outcomes, never a tie by default:

- **faster** (or slower): the interval of the ratio excludes 1;
- **equivalent** within a stated margin (5% by default): two one-sided tests, i.e. the (1 - 2 alpha) interval
  lies inside [1 / (1 + margin), 1 + margin];
- **undetermined**: neither, with the smallest difference this many rounds could have detected (80% power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from study.core.statistics import log_ratio_test

FASTER, SLOWER, EQUIVALENT, UNDETERMINED = "faster", "slower", "equivalent", "undetermined"
OUTCOMES = (FASTER, SLOWER, EQUIVALENT, UNDETERMINED)
EQUIVALENCE_MARGIN = 0.05
LEVEL = 0.95
POWER = 0.80


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    rounds: int
    ratio: float        # p50(a) / p50(b): below 1, a is faster
    low: float          # its interval at LEVEL
    high: float
    outcome: str        # of a against b
    wins: int           # rounds in which a was faster
    detectable_pct: float  # smallest difference (%) these rounds detect with 80% power; nan under 2 rounds
    margin: float = EQUIVALENCE_MARGIN
    unit: str = "rounds"  # what ``rounds`` counts: rounds of processes, or a duel's sets of fresh workers
    cycles: int = 0       # a duel's burst cycles over those sets

    @property
    def faster_pct(self) -> float:
        """How much faster a is than b, in % of b's time (negative: slower)."""
        return 100.0 * (1.0 - self.ratio)

    def short(self, label=lambda name: name) -> str:
        """The comparison after the name of ``a``: "15% faster than ONNX Runtime [8, 22], 3 of 3 rounds"."""
        words = self.sentence(label)
        prefix = f"{label(self.a)} is "
        return words[len(prefix):] if words.startswith(prefix) else words

    def sentence(self, label=lambda name: name) -> str:
        """The comparison in words: "LiteRT is 15% faster than ONNX Runtime [8, 22], 3 of 3 rounds"."""
        a, b = label(self.a), label(self.b)
        unit = self.unit + (f", {self.cycles} cycles" if self.cycles else "")
        rounds = ((f"{self.wins} of " if self.unit == "rounds" else "") + f"{self.rounds} {unit}" if self.rounds
                  else "from intervals, no paired rounds")
        if self.outcome == FASTER:
            return (f"{a} is {self.faster_pct:.0f}% faster than {b} "
                    f"[{100 * (1 - self.high):.0f}, {100 * (1 - self.low):.0f}], {rounds}")
        if self.outcome == SLOWER:
            return (f"{a} is {100 * (self.ratio - 1):.0f}% slower than {b} "
                    f"[{100 * (self.low - 1):.0f}, {100 * (self.high - 1):.0f}], "
                    + (f"{self.rounds - self.wins} of {self.rounds} {unit}" if self.unit == "rounds" else rounds))
        if self.outcome == EQUIVALENT:
            return (f"{a} and {b} are equivalent within ±{100 * self.margin:.0f}% "
                    f"(ratio {self.ratio:.3f} [{self.low:.3f}, {self.high:.3f}], {self.rounds} {unit})")
        if not self.rounds:
            why = "no interval to compare" if math.isinf(self.high) else "their intervals overlap"
            return f"{a} is not told apart from {b}: {why} (p50 ratio {self.ratio:.3f}, no paired rounds)"
        detect = (f"one {self.unit.split()[0].rstrip('s')} detects nothing" if not math.isfinite(self.detectable_pct)
                  else f"these {self.unit.split()[0]} detect a {self.detectable_pct:.0f}% difference or more")
        return (f"{a} is undetermined against {b}: ratio {self.ratio:.3f} [{self.low:.3f}, {self.high:.3f}] over "
                f"{self.rounds} {unit}; {detect}")


def compare(a: str, b: str, a_p50s, b_p50s, level: float = LEVEL, margin: float = EQUIVALENCE_MARGIN) -> Comparison:
    """``a`` against ``b`` from their p50s in the same rounds (``a_p50s[i]`` and ``b_p50s[i]`` from round i)."""
    a_p50s, b_p50s = np.asarray(a_p50s, dtype=float), np.asarray(b_p50s, dtype=float)
    if a_p50s.shape != b_p50s.shape or a_p50s.ndim != 1:
        raise ValueError("paired p50s: one of each contender per round")
    keep = np.isfinite(a_p50s) & np.isfinite(b_p50s) & (a_p50s > 0) & (b_p50s > 0)
    logs = np.log(a_p50s[keep]) - np.log(b_p50s[keep])
    n = int(logs.size)
    wins = int((logs < 0).sum())
    if n == 0:
        return Comparison(a, b, 0, math.nan, math.nan, math.nan, UNDETERMINED, 0, math.nan, margin)
    if n < 2:
        return Comparison(a, b, n, math.exp(float(logs.mean())), 0.0, math.inf, UNDETERMINED, wins, math.nan, margin)
    test = log_ratio_test(logs, level, margin, POWER)
    low, high = test["low"], test["high"]
    if high < 1:
        outcome = FASTER
    elif low > 1:
        outcome = SLOWER
    elif test["equivalent"]:
        outcome = EQUIVALENT
    else:
        outcome = UNDETERMINED
    detectable = 100.0 * test["detectable"]
    return Comparison(a, b, n, test["ratio"], low, high, outcome, wins, detectable, margin)


def compare_records(a: dict, b: dict, a_name: str, b_name: str) -> Comparison:
    """Two cases' records compared over the rounds both were timed in (each process's p50, in order)."""
    from study.core.store import round_p50s

    a_p50s, b_p50s = round_p50s(a), round_p50s(b)
    n = min(len(a_p50s), len(b_p50s))
    return compare(a_name, b_name, a_p50s[:n], b_p50s[:n])


def unpaired(a: str, b: str, a_p50: float, a_low: float, a_high: float, b_p50: float, b_low: float,
             b_high: float) -> Comparison:
    """``a`` against ``b`` without shared rounds (two phases of a run): faster only where their 95% intervals
    separate, the ratio's range what the intervals allow; equivalence cannot be shown this way."""
    ratio = a_p50 / b_p50
    if not (a_low < a_high and b_low < b_high):  # a point value separates from nothing
        return Comparison(a, b, 0, ratio, 0.0, math.inf, UNDETERMINED, 0, math.nan)
    low, high = a_low / b_high, a_high / b_low if b_low > 0 else math.inf
    outcome = FASTER if high < 1 else SLOWER if low > 1 else UNDETERMINED
    return Comparison(a, b, 0, ratio, low, high, outcome, 0, math.nan)


def flipped(comparison: Comparison) -> Comparison:
    """``b`` against ``a``: the same evidence read the other way round."""
    from dataclasses import replace

    outcome = {FASTER: SLOWER, SLOWER: FASTER}.get(comparison.outcome, comparison.outcome)
    return replace(comparison, a=comparison.b, b=comparison.a, ratio=1 / comparison.ratio,
                   low=1 / comparison.high if comparison.high else math.inf,
                   high=1 / comparison.low if comparison.low else math.inf, outcome=outcome,
                   wins=comparison.rounds - comparison.wins)


def from_row(row: dict, a: str, b: str) -> Comparison:
    """A judged pair as ``comparisons.csv`` keeps it (``study.analyze.duels``), named ``a`` and ``b``."""
    return Comparison(a, b, int(row["sets"]), float(row["ratio"]), float(row["low"]), float(row["high"]),
                      str(row["outcome"]), 0, float(row["detectable_pct"]), unit="sets of fresh workers",
                      cycles=int(row["cycles"]))


def decided(comparison: Comparison) -> bool:
    return comparison.outcome != UNDETERMINED


def half_width_pct(comparison: Comparison) -> float:
    """Half the interval's width in log terms, as a % of the ratio: the precision of one comparison."""
    if not (comparison.rounds >= 2 and math.isfinite(comparison.high)):
        return math.nan
    return 100.0 * (math.sqrt(comparison.high / comparison.low) - 1.0)
