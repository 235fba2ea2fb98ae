"""How a claim is judged against its evidence: five outcomes, and a difference counts only when intervals separate
or it passes a stated margin.

- supported: the evidence agrees with the claim (within its margin, or its bound holds for the whole interval);
- contradicted: the evidence disagrees, and the interval is clear of the claim (beyond the margin);
- not detected: the interval is too wide to tell; the ``why`` says the smallest effect this data could have detected;
- not comparable: the evidence is about other models or other hardware than the claim (and says which);
- not testable here: nothing was measured that bears on it.

Each judge takes point estimates with their 95% intervals and returns a :class:`Verdict`; callers add the
comparability check first (:func:`comparable`).
"""

from __future__ import annotations

from dataclasses import dataclass

from study.core.statistics import detectable_per_half_width

SUPPORTED, CONTRADICTED, NOT_DETECTED = "supported", "contradicted", "not detected"
NOT_COMPARABLE, NOT_TESTABLE = "not comparable", "not testable here"
OUTCOMES = (SUPPORTED, CONTRADICTED, NOT_DETECTED, NOT_COMPARABLE, NOT_TESTABLE)

# a 95% interval's half-width is 1.96 standard errors; an effect is detected with 80% power at 2.80 of them
DETECTABLE_PER_HALF_WIDTH = detectable_per_half_width()


@dataclass(frozen=True)
class Verdict:
    outcome: str
    why: str


def smallest_detectable(low: float, high: float) -> float:
    """The smallest true effect a 95% interval this wide would show as separated from zero 80% of the time."""
    return DETECTABLE_PER_HALF_WIDTH * (high - low) / 2


def _g(x: float, sign: str = "") -> str:
    return format(float(x) + 0.0, f"{sign}.3g")  # + 0.0: a zero is never printed as -0


def _interval(low: float, high: float, unit: str) -> str:
    return f"[{_g(low)}, {_g(high)}]{unit}"


def at_most(bound: float, estimate: float, low: float, high: float, unit: str = "") -> Verdict:
    """A claim that a quantity is no larger than ``bound`` ("only a 2% drop"): any value up to the bound supports it."""
    if high <= bound:
        return Verdict(SUPPORTED, f"{_g(estimate)}{unit}, 95% CI {_interval(low, high, unit)}, within {bound:g}{unit}")
    if low > bound:
        return Verdict(CONTRADICTED, f"{_g(estimate)}{unit}, 95% CI {_interval(low, high, unit)}, all above "
                                     f"{bound:g}{unit}")
    return Verdict(NOT_DETECTED, f"{_g(estimate)}{unit}, 95% CI {_interval(low, high, unit)} straddles {bound:g}{unit}; "
                                 f"this data detects an excess of {smallest_detectable(low, high):.2g}{unit} or more")


def about(claimed: float, margin: float, estimate: float, low: float, high: float, unit: str = "") -> Verdict:
    """A claim of a value ("3x faster", "75% smaller"), held within a relative ``margin`` (0.2: 20%)."""
    lo_band, hi_band = claimed * (1 - margin), claimed * (1 + margin)
    band = f"{claimed:g}{unit} ± {100 * margin:g}% ({lo_band:.3g}–{hi_band:.3g}{unit})"
    measured = f"{_g(estimate)}{unit}, 95% CI {_interval(low, high, unit)}"
    if high < lo_band or low > hi_band:
        return Verdict(CONTRADICTED, f"{measured}, clear of {band}")
    if lo_band <= estimate <= hi_band:
        return Verdict(SUPPORTED, f"{measured}, inside {band}")
    return Verdict(NOT_DETECTED, f"{measured} reaches {band} without settling inside it; this data resolves "
                                 f"differences of {smallest_detectable(low, high):.2g}{unit} or more")


def effect(margin: float, estimate: float, low: float, high: float, unit: str = "") -> Verdict:
    """A claim that an effect exists ("quantization introduced bias"): supported when its interval excludes zero and
    the estimate passes ``margin``; contradicted when the whole interval is inside ±margin (shown to be negligible)."""
    measured = f"{_g(estimate, '+')}{unit}, 95% CI {_interval(low, high, unit)}"
    if (low > 0 or high < 0) and abs(estimate) >= margin:
        return Verdict(SUPPORTED, f"{measured}: excludes zero and passes the {margin:g}{unit} margin")
    if -margin < low and high < margin:
        return Verdict(CONTRADICTED, f"{measured}: inside ±{margin:g}{unit}, so any effect is smaller than the margin")
    return Verdict(NOT_DETECTED, f"{measured}; the smallest effect this data could have detected is "
                                 f"{smallest_detectable(low, high):.2g}{unit}")


def order(claimed: list[str], values: dict[str, tuple[float, float, float]], margin: float = 0.0,
          paired: dict | None = None) -> Verdict:
    """A claim that ``claimed[0] < claimed[1] < ...``; ``values`` maps each name to (estimate, low, high).

    A pair with a paired comparison over shared rounds (``paired[(a, b)]``, ``study.analyze.comparisons``) is decided
    by it, as runtimes are compared everywhere in the study. Otherwise a pair is decided when both have intervals
    and they separate, or (with a ``margin``) when the ratio passes it. A value without an interval (low == high:
    one peak reading) separates from nothing: only the margin decides."""
    from study.analyze.comparisons import FASTER, SLOWER

    missing = [name for name in claimed if name not in values]
    if missing:
        return Verdict(NOT_TESTABLE, "not measured: " + ", ".join(missing))
    undecided, wrong = [], []
    for a, b in zip(claimed, claimed[1:]):
        rounds = (paired or {}).get((a, b))
        if rounds is not None and rounds.rounds >= 2:
            if rounds.outcome == SLOWER:
                wrong.append(f"{b} < {a} ({rounds.rounds} paired {rounds.unit})")
            elif rounds.outcome != FASTER:
                undecided.append((a, b, rounds.detectable_pct / 100 if rounds.detectable_pct == rounds.detectable_pct
                                  else 1.0))
            continue
        (ea, la, ha), (eb, lb, hb) = values[a], values[b]
        with_intervals = la < ha and lb < hb
        separated = (with_intervals and (ha < lb or hb < la)) or bool(margin and abs(eb / ea - 1) > margin)
        if not separated:
            width = (ha - la + hb - lb) / 2 / max(ea, eb)
            undecided.append((a, b, max(DETECTABLE_PER_HALF_WIDTH * width, margin)))
        elif eb < ea:
            wrong.append(f"{b} < {a}")
    shown = ", ".join(f"{n} {values[n][0]:.3g} [{values[n][1]:.3g}, {values[n][2]:.3g}]" for n in claimed)
    how = "intervals separated" if not margin else f"intervals separated or apart by more than {100 * margin:g}%"
    if paired:
        how += " (a duel or paired rounds where shared)"
    if wrong:
        return Verdict(CONTRADICTED, f"{shown}: " + "; ".join(wrong) + f", {how}")
    if undecided:
        pairs = "; ".join(f"{a} vs {b}" for a, b, _ in undecided)
        resolution = max(r for _, _, r in undecided)
        return Verdict(NOT_DETECTED, f"{shown}: {pairs} not separated; this data separates differences of "
                                     f"{100 * resolution:.2g}% or more")
    return Verdict(SUPPORTED, f"{shown}: every step {how}")


def comparable(claim_context: str, evidence_context: str | None) -> Verdict | None:
    """``None`` when the evidence is about what the claim is about; else why it is not comparable."""
    if evidence_context:
        return Verdict(NOT_COMPARABLE, f"the claim is about {claim_context}; the evidence here is {evidence_context}")
    return None
