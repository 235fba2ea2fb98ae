"""The source article's int8 claims, each judged (study.analyze.verdicts: five outcomes) on the quantization summary,
with the evidence listed row by row (model, runtime, scheme, value, 95% interval).

Speed and size are judged only on full-size variants (a MobileNet-class input, as in the article); the trained
16x16 networks' speed is per-call overhead and their files mostly graph, so on them the claims are not comparable.
Accuracy claims are judged on trained models only (a seeded zoo model's accuracy means nothing).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from study.analyze import verdicts

ARTICLE = "seeds/003_bb273c41eec2ae25.txt (DZone, Edge AI: TensorFlow Lite vs. ONNX Runtime vs. PyTorch Mobile)"
QUOTES = {
    "speed": "saw it run 3x faster with only a 2% accuracy drop",
    "accuracy": "saw it run 3x faster with only a 2% accuracy drop",
    "size": "quantization reduced size by 75%",
    "bias": "introduced bias against certain skin tones",
}
FULL_SIZE_SIDE = 224         # the article's models: MobileNet-class at 224x224
SPEED_MARGIN = 0.2           # "3x" holds for 2.4x-3.6x
SIZE_MARGIN = 0.1            # "75%" holds for 67.5%-82.5%
ACCURACY_BOUND_PP = 2.0      # "only a 2% drop": any drop up to 2 pp
BIAS_MARGIN_PP = 1.0         # a group "hurt" loses at least 1 pp, with an interval excluding zero
STATIC_INT8 = ("int8", "qdq-int8-channel", "qdq-int8-tensor", "pt2e-int8")
COLUMNS = ["claim", "article", "quote", "measured", "verdict", "how"]


def _name(row) -> str:
    return f"{row.dataset}/{row.model}/{row.runtime}/{row.scheme}"


def _overall(row_verdicts: list[verdicts.Verdict]) -> str:
    """The claim's verdict over its evidence rows: the most common outcome; a tie is not a detection either way."""
    counts = Counter(v.outcome for v in row_verdicts).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return verdicts.NOT_DETECTED
    return counts[0][0]


def _rows_text(rows: list[tuple[str, verdicts.Verdict]]) -> str:
    tally = Counter(v.outcome for _, v in rows)
    head = ", ".join(f"{n} {o}" for o, n in tally.most_common())
    return f"{len(rows)} rows ({head}): " + "; ".join(f"{name}: {v.why} → {v.outcome}" for name, v in rows)


def article_claims(summary: pd.DataFrame) -> pd.DataFrame:
    """The source article's int8 claims, each with its evidence rows and a verdict."""
    ok = summary[(summary["status"] == "ok")] if len(summary) and "status" in summary else summary.iloc[0:0]
    int8 = ok[ok["precision"] == "int8"] if len(ok) else ok
    side = int8["input_side"].fillna(16) if "input_side" in int8 else pd.Series(16, index=int8.index)
    full, small = int8[side >= FULL_SIZE_SIDE], int8[side < FULL_SIZE_SIDE]
    trained = int8[int8["acc"].notna()] if "acc" in int8 else int8.iloc[0:0]
    rows = []

    def claim(topic: str, text: str, measured: str, verdict: str, how: str):
        rows.append({"claim": text, "article": ARTICLE, "quote": QUOTES[topic], "measured": measured,
                     "verdict": verdict, "how": how})

    def judged(text, topic, table, judge, how, small_reason):
        if not len(table):
            if len(small):
                v = verdicts.comparable("MobileNet-class models at 224x224", small_reason)
                claim(topic, text, f"{len(small)} int8 variants of 16x16 networks only", v.outcome, v.why)
            else:
                claim(topic, text, "no int8 variant", verdicts.NOT_TESTABLE, "no int8 variant was made and measured")
            return
        evidence = [(_name(r), judge(r)) for r in table.itertuples()]
        claim(topic, text, _rows_text(evidence), _overall([v for _, v in evidence]), how)

    timed = full[full["scheme"].isin(STATIC_INT8) & full["speedup"].notna()] if len(full) else full
    isa = ", ".join(sorted(set(full["cpu_isa"].dropna()))) if len(full) and "cpu_isa" in full else ""
    judged("int8 quantization made the model 3x faster", "speed", timed,
           lambda r: verdicts.about(3.0, SPEED_MARGIN, r.speedup, r.speedup_ci_low, r.speedup_ci_high, "x"),
           "p50 of each static-int8 full-size variant against its fp32 twin in the same runtime, batch 1; interval "
           f"from the two p50 intervals; CPU extensions: {isa or 'see environment.json'}",
           "16x16 networks whose p50 is tens of microseconds, dominated by per-call overhead")
    judged("75% size reduction", "size", full,
           lambda r: verdicts.about(75.0, SIZE_MARGIN, r.size_reduction_pct, r.size_reduction_pct,
                                    r.size_reduction_pct, "%"),
           "file bytes of each full-size int8 variant against its fp32 twin (exact: bytes have no noise)",
           "16x16 networks whose files are mostly graph, not weights")
    judged("a 2% accuracy drop", "accuracy", trained,
           lambda r: verdicts.at_most(ACCURACY_BOUND_PP, -r.delta_pp, -_or(r, "delta_ci_high_pp", r.delta_pp),
                                      -_or(r, "delta_ci_low_pp", r.delta_pp), " pp"),
           "overall test accuracy drop (fp32 twin minus quantized, paired bootstrap interval, mean over seeds) of "
           "trained models; any drop up to 2 pp supports the claim", "")
    judged("quantization introduced bias against a group", "bias", trained,
           _bias,
           "the worst group's accuracy change beyond the overall change, with its paired bootstrap interval; with "
           "2 or more seeds a detection must also pass the paired t-test across seeds after Holm's correction for "
           "every variant and group compared; "
           "appearance groups (ink, tone, your groups); the article's face model and skin tones are not available "
           "here", "")
    return pd.DataFrame(rows, columns=COLUMNS)


def _bias(row) -> verdicts.Verdict:
    found = verdicts.effect(BIAS_MARGIN_PP, row.worst_group_delta_pp - row.delta_pp,
                            _or(row, "worst_group_delta_ci_low_pp", row.worst_group_delta_pp) - row.delta_pp,
                            _or(row, "worst_group_delta_ci_high_pp", row.worst_group_delta_pp) - row.delta_pp, " pp")
    holm = _or(row, "worst_group_paired_p_holm", np.nan)
    if found.outcome == verdicts.SUPPORTED and holm >= 0.05:
        mde = _or(row, "worst_group_paired_mde_pp", np.nan)
        return verdicts.Verdict(verdicts.NOT_DETECTED, f"{found.why}, but across seeds the Holm-adjusted paired "
                                                       f"p = {holm:.2g}; the seeds detect {mde:.2g} pp or more")
    return found


def _or(row, column: str, default: float) -> float:
    value = getattr(row, column, np.nan)
    return default if value is None or pd.isna(value) else float(value)
