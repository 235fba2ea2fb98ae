"""Figures of the study. Each returns a matplotlib Figure and saves a PNG under ``figures/<profile>/``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from study import paths

RUNTIME_LABELS = {"torch_eager": "PyTorch eager", "onnxruntime": "ONNX Runtime", "litert": "LiteRT (TFLite)"}
RUNTIME_COLORS = {"torch_eager": "#ee4c2c", "onnxruntime": "#1f6feb", "litert": "#ff8f00"}


def save(fig, profile: str, name: str):
    directory = paths.figures_dir(profile)
    directory.mkdir(parents=True, exist_ok=True)
    fig.savefig(directory / f"{name}.png", dpi=120, bbox_inches="tight")
    return fig


def latency_distributions(table: pd.DataFrame, samples: pd.DataFrame, profile: str, model: str):
    """Steady-state latency of every runtime for one model: box of the raw samples, p50 and p90 marked."""
    cases = table[(table["status"] == "ok") & (table["model"] == model)]
    settings = sorted({(int(t), int(b)) for t, b in zip(cases["threads"], cases["batch"])})
    fig, axes = plt.subplots(len(settings) or 1, 1, figsize=(8, 0.9 + 1.1 * max(1, cases["runtime"].nunique())
                                                             * max(1, len(settings))), squeeze=False)
    for ax, (threads, batch) in zip(axes[:, 0], settings):
        here = cases[(cases["threads"] == threads) & (cases["batch"] == batch)].sort_values("p50_ms", ascending=False)
        timed = samples[samples["phase"] == "timed"]
        data = [timed.loc[timed["case_id"] == cid, "latency_ms"].to_numpy() for cid in here["case_id"]]
        boxes = ax.boxplot(data, vert=False, widths=0.55, whis=(1, 99), showfliers=False, patch_artist=True,
                           medianprops={"linewidth": 0})
        for patch, runtime in zip(boxes["boxes"], here["runtime"]):
            patch.set(facecolor=RUNTIME_COLORS.get(runtime, "#999999"), alpha=0.35)
        for position, (data_of_case, (_, row)) in enumerate(zip(data, here.iterrows()), start=1):
            ax.plot(row["p50_ms"], position, "o", color="black", ms=5, zorder=3)
            ax.plot(row["p90_ms"], position, "|", color="black", ms=14, mew=2, zorder=3)
            right = max(row["p90_ms"], float(np.percentile(data_of_case, 99)) if len(data_of_case) else 0.0)
            ax.annotate(f"p50 {row['p50_ms']:.2f} ms  (95% CI {row['ci_low_ms']:.2f}–{row['ci_high_ms']:.2f})",
                        (right, position), xytext=(6, -3), textcoords="offset points", fontsize=8)
        ax.set_yticks(range(1, len(here) + 1), [RUNTIME_LABELS.get(r, r) for r in here["runtime"]])
        ax.set_xlim(left=0, right=max([np.percentile(d, 99) for d in data if len(d)] + [1]) * 1.8)
        ax.set_title(f"{threads} thread{'s' if threads > 1 else ''}, batch {batch}", fontsize=10, loc="left")
        ax.set_xlabel("latency per call (ms)  ·  dot = p50, tall bar = p90, box = p25–p75, whiskers = p1–p99")
        ax.grid(axis="x", alpha=0.3)
    machines = ", ".join(sorted(set(map(str, cases["machine"])))) or "?"
    fig.suptitle(f"{model}: inference latency by runtime — measured on {machines}, profile '{profile}'",
                 fontsize=11, x=0.02, ha="left")
    fig.tight_layout()
    return save(fig, profile, f"latency_{model}")


def reading(table: pd.DataFrame) -> str:
    """One sentence per (model, threads, batch): the runtimes ranked by measured p50."""
    ok = table[table["status"] == "ok"]
    sentences = []
    for (model, threads, batch), group in ok.groupby(["model", "threads", "batch"]):
        ranked = group.sort_values("p50_ms")
        parts = [f"{RUNTIME_LABELS.get(r.runtime, r.runtime)} {r.p50_ms:.2f} ms" for r in ranked.itertuples()]
        fastest, slowest = ranked.iloc[0], ranked.iloc[-1]
        sentences.append(f"{model}, {threads} thread(s), batch {batch}: " + " < ".join(parts)
                         + f" (p50; the slowest takes {slowest.p50_ms / fastest.p50_ms:.1f}x the fastest).")
    failed = table[table["status"] != "ok"]
    for row in failed.itertuples():
        sentences.append(f"{row.model} on {row.runtime} failed: {row.error}")
    return "\n".join(sentences) or "No case was measured."
