"""The source article's int8 claims, each checked against the quantization study's summary table."""

from __future__ import annotations

import pandas as pd

ARTICLE = "seeds/003_bb273c41eec2ae25.txt (DZone, Edge AI: TensorFlow Lite vs. ONNX Runtime vs. PyTorch Mobile)"
QUOTES = {
    "speed": "saw it run 3x faster with only a 2% accuracy drop",
    "accuracy": "saw it run 3x faster with only a 2% accuracy drop",
    "size": "quantization reduced size by 75%",
    "bias": "introduced bias against certain skin tones",
}


def article_claims(summary: pd.DataFrame) -> pd.DataFrame:
    """The source article's int8 claims, each with what this study measured and a verdict."""
    int8 = summary[(summary.get("precision", pd.Series(dtype=str)) == "int8") & (summary.get("status") == "ok")] \
        if len(summary) else summary
    full = int8[int8["scheme"].isin(["int8", "qdq-int8-channel", "qdq-int8-tensor", "pt2e-int8"])] if len(int8) else int8
    rows = []

    def claim(text, measured, verdict, how):
        topic = {"3x": "speed", "2%": "accuracy", "75%": "size", "bias": "bias"}
        quote = next(QUOTES[v] for k, v in topic.items() if k in text)
        rows.append({"claim": text, "article": ARTICLE, "quote": quote, "measured": measured, "verdict": verdict,
                     "how": how})

    if len(full) and "speedup" in full and full["speedup"].notna().any():
        s = full["speedup"].dropna()
        claim("int8 quantization made the model 3x faster", f"speedup {s.median():.2f}x median "
              f"(range {s.min():.2f}-{s.max():.2f}x) over {len(s)} static-int8 variants",
              "supported" if s.median() >= 2.5 else "contradicted",
              "p50 of each int8 variant against its fp32 twin in the same runtime, batch 1")
    else:
        claim("int8 quantization made the model 3x faster", "no timed int8 variant", "not testable here",
              "no int8 variant was timed")
    if len(int8):
        d = int8["delta_pp"]
        claim("a 2% accuracy drop", f"{d.median():+.2f} pp median (range {d.min():+.2f} to {d.max():+.2f}) over "
              f"{len(d)} int8 variants", "supported" if -3.0 <= d.median() <= -1.0 else "contradicted",
              "overall test accuracy, quantized minus fp32 twin, mean over seeds")
        r = int8["size_reduction_pct"]
        claim("75% size reduction", f"{r.median():.1f}% median (range {r.min():.1f}-{r.max():.1f}%)",
              "supported" if 65 <= r.median() <= 80 else "contradicted",
              "file bytes of each int8 variant against its fp32 twin")
        worst = int8["worst_group_delta_pp"]
        # a group is hurt when its loss is >= 1 pp beyond the overall change AND its 95% CI excludes no change
        biased = int8[(int8["worst_group_delta_pp"] < int8["delta_pp"] - 1.0)
                      & (int8["worst_group_delta_ci_high_pp"] < 0)]
        claim("quantization introduced bias against a group", f"worst group {worst.min():+.2f} pp vs overall "
              f"{int8['delta_pp'].median():+.2f} pp median; {len(biased)} of {len(int8)} int8 variants lose >= 1 pp "
              "more on one group than overall with a CI excluding zero" + (": " + ", ".join(
                  f"{r.model}/{r.runtime}/{r.scheme} on {r.worst_group}" for r in biased.itertuples()) if len(biased)
                  else ""), "supported" if len(biased) else "contradicted",
              "per-group accuracy change against the fp32 twin (paired bootstrap CI, mean over seeds), appearance "
              "groups (ink, tone, your groups); the article's face model and skin tones are not available here")
    return pd.DataFrame(rows, columns=["claim", "article", "quote", "measured", "verdict", "how"])


