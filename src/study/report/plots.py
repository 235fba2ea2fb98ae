"""Figures of the study. Each returns a matplotlib Figure and saves a PNG under ``figures/<profile>/``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from study.core import paths
from study.core.runtimes import RUNTIMES

RUNTIME_LABELS = {name: entry.label for name, entry in RUNTIMES.items()}
RUNTIME_COLORS = {name: entry.colour for name, entry in RUNTIMES.items() if entry.colour}


def machine_of(profile: str) -> str:
    """Which machine measured a profile's numbers (this one, or the one its results were imported from)."""
    import json

    env = paths.results_dir(profile) / "environment.json"
    if not env.exists():
        return "machine not recorded"
    data = json.loads(env.read_text())
    imported = (paths.results_dir(profile) / "imported.json").exists()
    device = data.get("timed_on")
    if device:  # built on this host, timed on the profile's device
        return f"{device.get('machine')} ({device.get('cpu_model')}, {device.get('architecture')}), over SSH"
    return f"{data.get('machine')} ({data.get('cpu_model')}, {data.get('architecture')})" + (", imported" if imported
                                                                                              else "")


def contended_flags(cases: pd.DataFrame) -> list[bool]:
    """Per case, whether it was measured under contention (blank, or a table from before it was tracked: no)."""
    return [c is True or c == "True" for c in cases.get("contended", [None] * len(cases))]


def save(fig, profile: str, name: str, measurement: str = "measured"):
    """Save under figures/<profile>/; every figure says which machine its numbers came from, and whether they
    are measured there or modelled from what was measured there."""
    stamp = "measured on" if measurement == "measured" else "MODELLED from CPU time measured on"
    fig.text(0.995, -0.005, f"profile {profile} · {stamp} {machine_of(profile)}", ha="right", va="top",
             fontsize=6.5, color="#666666" if measurement == "measured" else "#b71c1c")
    directory = paths.figures_dir(profile)
    directory.mkdir(parents=True, exist_ok=True)
    fig.savefig(directory / f"{name}.png", dpi=120, bbox_inches="tight")
    return fig


def latency_distributions(table: pd.DataFrame, samples: pd.DataFrame, profile: str, model: str):
    """Steady-state latency of every runtime for one model: box of the raw samples, p50 and p90 marked."""
    cases = table[(table["status"] == "ok") & (table["model"] == model)]
    settings = sorted({(int(t), int(b)) for t, b in zip(cases["threads"], cases["batch"])})
    fig, axes = plt.subplots(len(settings) or 1, 1, figsize=(8, 0.9 + 1.1 * max(1, cases["runtime"].nunique())
                                                             * max(1, len(settings))), squeeze=False,
                             layout="constrained")
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
        ax.set_yticks(range(1, len(here) + 1), [RUNTIME_LABELS.get(r, r) + ("\n(contended)" if f else "")
                                                for r, f in zip(here["runtime"], contended_flags(here))])
        ax.set_xlim(left=0, right=max([np.percentile(d, 99) for d in data if len(d)] + [1]) * 1.8)
        ax.set_title(f"{threads} thread{'s' if threads > 1 else ''}, batch {batch}", fontsize=10, loc="left")
        ax.set_xlabel("latency per call (ms)  ·  dot = p50, tall bar = p90, box = p25–p75, whiskers = p1–p99")
        ax.grid(axis="x", alpha=0.3)
    machines = ", ".join(sorted(set(map(str, cases["machine"])))) or "?"
    fig.suptitle(f"{model}: inference latency by runtime — measured on {machines}, profile '{profile}'",
                 fontsize=11, x=0.02, ha="left")
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


def human_bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"


STATUS_COLORS = {"ok": "#2e7d32", "mismatch": "#f9a825", "failed": "#c62828", "n/a": "#e0e0e0"}


def conversion_heatmap(matrix: pd.DataFrame, profile: str):
    """Model x target, coloured by verdict, each cell labelled with its size or its status."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from study.build.export import conversion_targets

    statuses = list(STATUS_COLORS)
    models = list(dict.fromkeys(matrix["model"]))
    targets = conversion_targets()
    grid = np.full((len(models), len(targets)), statuses.index("n/a"))
    labels = [["" for _ in targets] for _ in models]
    for row in matrix[~matrix["is_source"].astype(bool) | (matrix["status"] == "failed")].itertuples():
        i = models.index(row.model)
        if row.target not in targets:  # a model that could not be loaded at all: its whole row failed
            grid[i, :] = statuses.index("failed")
            labels[i] = ["load failed"] * len(targets)
            continue
        j = targets.index(row.target)
        grid[i, j] = statuses.index(row.status if row.status in statuses else "failed")
        labels[i][j] = human_bytes(float(row.bytes)) if row.status == "ok" else str(row.status)
    for row in matrix[matrix["is_source"].astype(bool) & (matrix["status"] != "failed")].itertuples():
        if row.target in targets:  # the model's own format (a PyTorch state_dict, your ONNX file): not a conversion
            labels[models.index(row.model)][targets.index(row.target)] = "source"
    fig, ax = plt.subplots(figsize=(1.5 + 1.35 * len(targets), 0.8 + 0.45 * len(models)))
    ax.imshow(grid, cmap=ListedColormap([STATUS_COLORS[s] for s in statuses]), vmin=0, vmax=len(statuses) - 1,
              aspect="auto")
    for i in range(len(models)):
        for j in range(len(targets)):
            dark = statuses[grid[i, j]] in ("ok", "failed")
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(targets)), targets)
    ax.set_yticks(range(len(models)), models)
    ax.xaxis.tick_top()
    ax.legend(handles=[Patch(color=STATUS_COLORS[s], label=s) for s in statuses], loc="upper left",
              bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    ax.set_title(f"Conversion matrix — measured (converted, then run against the source model), profile '{profile}'",
                 fontsize=10, loc="left", pad=24)
    fig.tight_layout()
    return save(fig, profile, "conversion_matrix")


def model_sizes(sizes: pd.DataFrame, profile: str):
    """Artifact size per model and format: solid = on disk, hatched = compressed (what an update downloads)."""
    models = list(dict.fromkeys(sizes["model"]))
    targets = list(dict.fromkeys(sizes["target"]))
    palette = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(targets))
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(models)), 4.2))
    for k, target in enumerate(targets):
        here = sizes[sizes["target"] == target].set_index("model")
        x = [i + k * width for i, m in enumerate(models) if m in here.index]
        on_disk = [here.loc[m, "mb"] for m in models if m in here.index]
        packed = [here.loc[m, "compressed_mb"] for m in models if m in here.index]
        ax.bar(x, on_disk, width, color=palette(k), alpha=0.45, label=f"{target}")
        ax.bar(x, packed, width, color=palette(k), hatch="///", edgecolor="white")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("MB (log scale)")
    ax.legend(fontsize=8, ncol=2, frameon=False, title="light = on disk, hatched = compressed", title_fontsize=8)
    ax.set_title(f"Model size by format, fp32 — measured, profile '{profile}'", fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, profile, "model_sizes")


def runtime_label(runtime: str) -> str:
    return RUNTIME_LABELS.get(runtime, runtime)



def latency_vs_threads(table: pd.DataFrame, profile: str):
    """p50 (with its 95% CI) against thread count, batch 1, one panel per model. None with one thread count."""
    ok = table[(table["status"] == "ok") & (table["batch"] == table["batch"].min())]
    if ok["threads"].nunique() < 2:
        return None
    models = list(dict.fromkeys(ok["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.6), squeeze=False, layout="constrained")
    for ax, model in zip(axes[0], models):
        for runtime, group in ok[ok["model"] == model].groupby("runtime"):
            group = group.sort_values("threads")
            ax.errorbar(group["threads"], group["p50_ms"], yerr=[group["p50_ms"] - group["ci_low_ms"],
                        group["ci_high_ms"] - group["p50_ms"]], marker="o", capsize=3, label=runtime_label(runtime),
                        color=RUNTIME_COLORS.get(runtime))
        ax.set_xticks(sorted(ok["threads"].unique()))
        ax.set_yscale("log")
        ax.set_title(model, fontsize=10, loc="left")
        ax.set_xlabel("threads")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("p50 latency (ms, log scale)")
    handles = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    axes[0][-1].legend(handles.values(), handles.keys(), fontsize=8, frameon=False, bbox_to_anchor=(1.02, 1),
                       loc="upper left")
    fig.suptitle(f"Latency against threads, batch {ok['batch'].min()} — measured, profile '{profile}'", fontsize=11,
                 x=0.02, ha="left")
    return save(fig, profile, "latency_vs_threads")


def memory_split(table: pd.DataFrame, profile: str):
    """Peak resident memory of each case's process, split into import, load and inference (batch 1)."""
    ok = table[(table["status"] == "ok") & (table["batch"] == table["batch"].min())]
    ok = ok[ok["threads"] == ok["threads"].max()].sort_values(["model", "rss_peak_mib"])
    labels = [f"{m} · {runtime_label(r)}" for m, r in zip(ok["model"], ok["runtime"])]
    imported = ok["rss_import_mib"].to_numpy()
    loaded = (ok["rss_load_mib"] - ok["rss_import_mib"]).clip(lower=0).to_numpy()
    inferred = (ok["rss_peak_mib"] - ok["rss_load_mib"]).clip(lower=0).to_numpy()
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.32 * len(ok)))
    ax.barh(labels, imported, color="#90a4ae", label="after import")
    ax.barh(labels, loaded, left=imported, color="#42a5f5", label="+ model load")
    ax.barh(labels, inferred, left=imported + loaded, color="#ef5350", label="+ inference")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("peak resident memory of the case's process (MiB, log scale)")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Memory by stage — measured (VmHWM per fresh process), profile '{profile}'", fontsize=10, loc="left")
    fig.tight_layout()
    return save(fig, profile, "memory_split")


def speed_vs_size(table: pd.DataFrame, profile: str):
    """p50 latency against artifact size, batch 1: which formats are both small and fast."""
    ok = table[(table["status"] == "ok") & (table["batch"] == table["batch"].min())]
    ok = ok[ok["threads"] == ok["threads"].max()]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = dict(zip(dict.fromkeys(ok["model"]), "osD^vP*X"))
    for row in ok.itertuples():
        ax.scatter(row.artifact_bytes / 1e6, row.p50_ms, marker=markers[row.model], s=60,
                   color=RUNTIME_COLORS.get(row.runtime, "#999999"), edgecolor="black", linewidth=0.4)
    _log_axes_with_legend(ax, ok["runtime"], markers, "artifact size (MB, log scale)", "p50 latency (ms, log scale)")
    ax.set_title(f"Speed against size, batch 1 — measured, profile '{profile}'", fontsize=10, loc="left")
    fig.tight_layout()
    return save(fig, profile, "speed_vs_size")


def energy_per_inference(energy: pd.DataFrame, profile: str):
    """Gross and net mJ per inference of every runtime, one panel per model: measured with 95% CIs across
    windows; modelled as the range across the profile's power models (no CI), stamped MODELLED."""
    ok = energy[energy["status"] == "ok"]
    ok = ok[ok["batch"] == ok["batch"].min()]
    modelled = bool(len(ok)) and (ok["measurement"] == "modelled").all()
    models = list(dict.fromkeys(ok["model"]))
    counts = [int((ok["model"] == m).sum()) for m in models]
    fig, axes = plt.subplots(len(models), 1, figsize=(8, 1.0 + 0.3 * len(ok) + 0.45 * len(models)), squeeze=False,
                             layout="constrained", gridspec_kw={"height_ratios": counts or [1]})
    for ax, model in zip(axes[:, 0], models):
        rows = ok[ok["model"] == model].sort_values(["threads", "gross_mj_per_inference"], ascending=[True, False])
        labels = [f"{runtime_label(r.runtime)} · {r.threads}t" for r in rows.itertuples()]
        y = np.arange(len(rows))
        for column, color, label in (("gross_mj_per_inference", "#b0bec5", "gross"),
                                     ("net_mj_per_inference", "#2e7d32", "net (idle subtracted)")):
            if modelled:  # bars from the lowest to the highest power model: the model's uncertainty, not noise
                low, high = (pd.to_numeric(rows[f"{column}_model_{end}"]) for end in ("low", "high"))
                ax.barh(y, high - low, left=low, color=color, label=f"{label}, range across power models",
                        height=0.7 if label == "gross" else 0.4, hatch="//", edgecolor="white")
            else:
                err = [rows[column] - rows[f"{column}_ci_low"], rows[f"{column}_ci_high"] - rows[column]]
                ax.barh(y, rows[column], xerr=err, color=color, label=f"{label} (95% CI)", capsize=2,
                        height=0.7 if label == "gross" else 0.4)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_title(model, fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(left=0)
    axes[-1, 0].set_xlabel("energy per inference (mJ, batch 1)" + (" — MODELLED from measured CPU time" if modelled
                                                                  else ""))
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=8, frameon=False, loc="outside lower left", ncols=1)
    measurement = "/".join(sorted(set(ok["measurement"]))) or "no data"
    fig.suptitle(f"Energy per inference — {measurement.upper()} ({', '.join(sorted(set(ok['energy_source'])))}), "
                 f"profile '{profile}'", fontsize=11, x=0.02, ha="left")
    return save(fig, profile, "energy_per_inference", "modelled" if modelled else "measured")


def energy_vs_latency(joined: pd.DataFrame, profile: str):
    """Gross mJ per inference against p50 latency, for measured energy only: a power model's energy is latency
    times utilisation rescaled, so against latency it would show the model, not the machine."""
    ok = joined[(joined["status"] == "ok") & joined["p50_ms"].notna() & (joined["measurement"] == "measured")]
    if ok.empty:
        from IPython.display import Markdown

        return Markdown("*Not drawn: no energy here is measured. Modelled energy is CPU time rescaled by a power "
                        "model, so plotting it against latency would only show the model's formula.*")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = dict(zip(dict.fromkeys(ok["model"]), "osD^vP*X"))
    for row in ok.itertuples():
        ax.errorbar(row.p50_ms, row.gross_mj_per_inference,
                    yerr=[[row.gross_mj_per_inference - row.gross_mj_per_inference_ci_low],
                          [row.gross_mj_per_inference_ci_high - row.gross_mj_per_inference]],
                    marker=markers[row.model], ms=7, color=RUNTIME_COLORS.get(row.runtime, "#999999"),
                    mec="black", mew=0.4, capsize=2, alpha=0.45 + 0.55 * (row.threads == ok["threads"].max()))
    _log_axes_with_legend(ax, ok["runtime"], markers, "p50 latency (ms, log scale) — measured",
                          "gross energy per inference (mJ, log scale) — measured")
    ax.set_title(f"Energy against latency — both MEASURED, profile '{profile}'", fontsize=10, loc="left")
    fig.tight_layout()
    return save(fig, profile, "energy_vs_latency")


def _log_axes_with_legend(ax, runtimes, markers: dict, xlabel: str, ylabel: str) -> None:
    """Log-log axes with a legend of runtime colours and model markers, outside on the right."""
    for runtime in dict.fromkeys(runtimes):
        ax.scatter([], [], color=RUNTIME_COLORS.get(runtime), label=runtime_label(runtime))
    for model, marker in markers.items():
        ax.scatter([], [], marker=marker, color="white", edgecolor="black", label=model)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.grid(alpha=0.3, which="both")


def cross_profile(side: pd.DataFrame):
    """p50 at batch 1 with the fewest threads, per model and runtime, one bar per profile (log scale)."""
    if side.empty:
        return None
    models = list(dict.fromkeys(side["model"]))
    profiles = list(dict.fromkeys(side["profile"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False, layout="constrained")
    palette = plt.get_cmap("tab20").colors
    colours = {profile: palette[i % len(palette)] for i, profile in enumerate(profiles)}  # any number of profiles
    for ax, model in zip(axes[0], models):
        mine = side[side["model"] == model]
        runtimes = list(dict.fromkeys(mine.sort_values("p50_ms_min_threads")["runtime"]))
        width = 0.8 / len(profiles)
        for i, profile in enumerate(profiles):
            part = mine[mine["profile"] == profile].set_index("runtime").reindex(runtimes)
            ax.barh(np.arange(len(runtimes)) + (i - (len(profiles) - 1) / 2) * width, part["p50_ms_min_threads"],
                    height=width, color=colours[profile], label=f"{profile} ({part['machine'].dropna().iloc[0]})"
                    if part["machine"].notna().any() else profile)
        ax.set_yticks(range(len(runtimes)), [runtime_label(r) for r in runtimes], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set_xlabel("p50 latency, batch 1, fewest threads (ms)")
        ax.set_title(model, fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, frameon=False, loc="outside lower center")
    fig.suptitle("Every profile side by side — measured (each on the machine named)", fontsize=11, x=0.02, ha="left")
    directory = paths.figures_dir("summary")
    directory.mkdir(parents=True, exist_ok=True)
    fig.savefig(directory / "cross_profile.png", dpi=120, bbox_inches="tight")
    return fig


def relative_latency(table: pd.DataFrame, profile: str):
    """The headline: per model, each runtime's p50 relative to the fastest runtime's, with its 95% interval
    (batch 1, the profile's most threads). 1.0 is the fastest; a bar crossing another's is not a real difference."""
    ok = table[(table["status"] == "ok") & (table["batch"] == 1)]
    ok = ok[ok["threads"] == ok["threads"].max()]
    models = sorted(ok["model"].unique())
    if not models:
        return None
    heights = [max(1, ok[ok["model"] == m]["runtime"].nunique()) for m in models]
    fig, axes = plt.subplots(len(models), 1, figsize=(7.5, 0.8 + 0.32 * sum(heights) + 0.35 * len(models)),
                             squeeze=False, sharex=True, gridspec_kw={"height_ratios": heights}, layout="constrained")
    right = 1.0
    for ax, model in zip(axes[:, 0], models):
        part = ok[ok["model"] == model].sort_values("p50_ms", ascending=False)
        best = float(part["p50_ms"].min())
        y = np.arange(len(part))
        ratio = part["p50_ms"].to_numpy() / best
        low = part["ci_low_ms"].to_numpy() / best
        high = part["ci_high_ms"].to_numpy() / best
        ax.errorbar(ratio, y, xerr=[ratio - low, high - ratio], fmt="o", color="black", ecolor="#555555",
                    capsize=3, ms=5)
        for yy, r, runtime, p50 in zip(y, ratio, part["runtime"], part["p50_ms"]):
            ax.annotate(f"{p50:.3g} ms", (r, yy), xytext=(7, 3), textcoords="offset points", fontsize=7.5,
                        color="#444444")
        ax.set_yticks(y, [runtime_label(r) + (" (contended)" if f else "")
                          for r, f in zip(part["runtime"], contended_flags(part))], fontsize=8.5)
        ax.axvline(1.0, color="#1f6feb", lw=1, alpha=0.5)
        ax.set_ylim(-0.6, len(part) - 0.4)
        ax.set_title(model, fontsize=9.5, loc="left")
        ax.grid(axis="x", alpha=0.3)
        right = max(right, float(high.max()))
    _ratio_axis(axes[-1, 0], right * 1.5,
                "p50 latency relative to the fastest runtime for the model (log scale; bars: 95% CI)")
    threads = int(ok["threads"].max())
    fig.suptitle(f"Which runtime is fastest, per model — measured, {threads} thread(s), batch 1", fontsize=10.5,
                 x=0.02, ha="left")
    return save(fig, profile, "headline_relative_latency")


def duel_ratios(comparisons: pd.DataFrame, profile: str, margin: float = 0.05):
    """Per model (and thread count), each contender's time relative to the pick's as its duel judged it, with the
    interval over sets of fresh workers; the equivalence band (±``margin``) shaded. None without duels."""
    if comparisons is None or comparisons.empty:
        return None
    groups = list(comparisons.groupby(["model", "threads", "batch", "precision"], sort=True))
    heights = [len(part) + 1 for _, part in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(7.5, 0.9 + 0.3 * sum(heights) + 0.3 * len(groups)),
                             squeeze=False, sharex=True, gridspec_kw={"height_ratios": heights}, layout="constrained")
    right = 1.1
    for ax, ((model, threads, batch, precision), part) in zip(axes[:, 0], groups):
        part = part.iloc[::-1]
        ratio, low, high = 1 / part["ratio"].to_numpy(), 1 / part["high"].to_numpy(), 1 / part["low"].to_numpy()
        y = np.arange(1, len(part) + 1)
        ax.axvspan(1 / (1 + margin), 1 + margin, color="#1f6feb", alpha=0.12, lw=0)
        ax.errorbar(ratio, y, xerr=[ratio - low, np.minimum(high, 1e3) - ratio], fmt="o", color="black",
                    ecolor="#555555", capsize=3, ms=5)
        ax.plot([1.0], [0], "D", color="#1f6feb", ms=6)
        for yy, r, outcome in zip(y, ratio, part["outcome"]):
            ax.annotate(f"{r:.3f}x, {outcome}", (r, yy), xytext=(7, 3), textcoords="offset points", fontsize=7.5,
                        color="#444444")
        pick = runtime_label(str(part["runtime_a"].iloc[0]))
        ax.set_yticks([0, *y], [f"{pick} (pick)", *[runtime_label(str(r)) for r in part["runtime_b"]]], fontsize=8.5)
        ax.set_ylim(-0.6, len(part) + 0.6)
        ax.set_title(f"{model}, {int(threads)} thread(s), batch {int(batch)}, {precision}: {int(part['sets'].max())} "
                     f"sets of fresh workers, {int(part['cycles'].max())} cycles", fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
        right = max(right, float(np.nanmax(np.minimum(high, 64))))
    _ratio_axis(axes[-1, 0], right * 1.3, f"time relative to the pick, per duel (log scale; bars: the interval over "
                                          f"sets; band: ±{100 * margin:g}%)")
    fig.suptitle("Each contender against the pick, timed in interleaved bursts — measured", fontsize=10.5, x=0.02,
                 ha="left")
    return save(fig, profile, "duel_ratios")


def _ratio_axis(ax, right: float, label: str) -> None:
    """A log axis of ratios to the fastest, from just under 1x to ``right``, ticked as "1.5x"."""
    ax.set_xscale("log")
    ax.set_xlim(0.85, right)
    ticks = [t for t in (0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 6, 8, 12, 16, 32) if t <= right]
    ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(label)


def across_devices(tables: dict[str, pd.DataFrame]):
    """Every runtime's p50 on every device (profile), relative to the fastest runtime for the same model on that
    device (batch 1, fp32 files, each profile's fewest threads): one panel per model, one marker per device, so a
    runtime that wins on the host and loses on the board shows at a glance. None with fewer than two profiles."""
    rows = []
    for profile, table in tables.items():
        ok = table[(table["status"] == "ok") & (table["batch"] == 1)]
        if "precision" in ok:
            ok = ok[ok["precision"].isin(["fp32", "float32"]) | ok["precision"].isna()]
        ok = ok[ok["threads"] == ok["threads"].min()]
        for model, part in ok.groupby("model"):
            best = float(part["p50_ms"].min())
            rows += [{"profile": profile, "model": model, "runtime": r.runtime, "ratio": r.p50_ms / best,
                      "threads": int(r.threads)} for r in part.itertuples()]
    frame = pd.DataFrame(rows)
    if frame.empty or frame["profile"].nunique() < 2:
        return None
    models = sorted(frame["model"].unique())
    profiles = list(dict.fromkeys(frame["profile"]))
    markers = "osD^vP*X<>"
    heights = [max(1, frame[frame["model"] == m]["runtime"].nunique()) for m in models]
    fig, axes = plt.subplots(len(models), 1, figsize=(7.5, 1.0 + 0.34 * sum(heights) + 0.35 * len(models)),
                             squeeze=False, sharex=True, gridspec_kw={"height_ratios": heights}, layout="constrained")
    right = 1.0
    for ax, model in zip(axes[:, 0], models):
        part = frame[frame["model"] == model]
        runtimes = sorted(part["runtime"].unique(), key=lambda r: -part[part["runtime"] == r]["ratio"].median())
        for index, profile in enumerate(profiles):
            mine = part[part["profile"] == profile]
            y = [runtimes.index(r) + (index - (len(profiles) - 1) / 2) * 0.12 for r in mine["runtime"]]
            ax.plot(mine["ratio"], y, markers[index % len(markers)], ms=5.5, alpha=0.85, ls="none",
                    label=f"{profile} ({int(mine['threads'].min())}t)" if len(mine) else profile)
        ax.set_yticks(range(len(runtimes)), [runtime_label(r) for r in runtimes], fontsize=8.5)
        ax.axvline(1.0, color="#1f6feb", lw=1, alpha=0.5)
        ax.set_ylim(-0.6, len(runtimes) - 0.4)
        ax.set_title(model, fontsize=9.5, loc="left")
        ax.grid(axis="x", alpha=0.3)
        right = max(right, float(part["ratio"].max()))
    axes[0, 0].legend(fontsize=7.5, loc="lower right", title="device (profile)", title_fontsize=7.5)
    _ratio_axis(axes[-1, 0], right * 1.4,
                "p50 relative to the fastest runtime for the model on the same device (log scale)")
    fig.suptitle("The same runtimes on every device — measured, batch 1, fp32, each profile's fewest threads",
                 fontsize=10.5, x=0.02, ha="left")
    return fig


OP_TYPE_COLORS = {"convolution": "#1565c0", "depthwise convolution": "#64b5f6", "matrix multiply": "#6a1b9a",
                  "element-wise": "#ef6c00", "data movement": "#9e9e9e", "other": "#d7ccc8"}


def operator_breakdown(types: pd.DataFrame, profile: str):
    """Per model, each runtime's profiled time per inference stacked by operator type; runtimes without a
    profiler named under the panel."""
    from study.measure.operators import OP_TYPES, breakdown

    table = breakdown(types)
    missing = types[types["status"] != "ok"]
    models = list(dict.fromkeys(types["model"]))
    if not models:
        return None
    fig, axes = plt.subplots(len(models), 1, figsize=(8.5, 1.4 + sum(0.34 * max(1, (table["model"] == m).sum()) + 0.5
                                                                      for m in models)),
                             squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": [max(1, int((table["model"] == m).sum())) for m in models]})
    for ax, model in zip(axes[:, 0], models):
        part = table[table["model"] == model].sort_values("profiled total", ascending=False)
        y = np.arange(len(part))
        left = np.zeros(len(part))
        for kind in OP_TYPES:
            if kind in part:
                values = part[kind].fillna(0).to_numpy()
                ax.barh(y, values, left=left, color=OP_TYPE_COLORS[kind], label=kind, height=0.65)
                left += values
        ax.set_yticks(y, [runtime_label(r) for r in part["runtime"]], fontsize=8.5)
        none = missing[missing["model"] == model]
        title = model + (f"  (no profiler: {', '.join(runtime_label(r) for r in none['runtime'])})" if len(none)
                         else "")
        ax.set_title(title, fontsize=9.5, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("time per inference under each runtime's own profiler (ms; profilers add overhead)")
    handles = {label: handle for ax in axes[:, 0] for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), fontsize=8, frameon=False, loc="outside lower left", ncols=3)
    fig.suptitle(f"Where inference time goes, by operator type — measured, profile '{profile}'", fontsize=10.5,
                 x=0.02, ha="left")
    return save(fig, profile, "operator_breakdown")


def roofline(table: pd.DataFrame, profile: str):
    """Each case's achieved GFLOP/s at its model's arithmetic intensity, under the machine's roofs: the memory
    roof (streaming bandwidth x intensity) and the compute ceiling, per thread count."""
    ok = table[(table["status"] == "ok") & table["arithmetic_intensity"].notna() & table["gflops"].notna()]
    ok = ok[ok["batch"] == ok["batch"].min()]
    if ok.empty:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    markers = dict(zip(dict.fromkeys(ok["model"]), "osD^vP*X"))
    ridges = pd.to_numeric(ok["ceiling_gflops"]) / pd.to_numeric(ok["bandwidth_gbs"])  # where the two roofs meet
    low = float(min(ok["arithmetic_intensity"].min(), ridges.min())) / 4
    high = float(max(ok["arithmetic_intensity"].max(), ridges.max())) * 4
    intensity = np.geomspace(low, high, 200)
    for (threads, part), style in zip(ok.groupby("threads"), ("-", "--", ":", "-.")):
        bandwidth, ceiling = float(part["bandwidth_gbs"].iloc[0]), float(part["ceiling_gflops"].iloc[0])
        ax.plot(intensity, np.minimum(ceiling, intensity * bandwidth), style, color="black", lw=1.2,
                label=f"roof, {threads} thread(s): {bandwidth:.0f} GB/s, {ceiling:.0f} GFLOP/s")
    for row in ok.itertuples():
        ax.scatter(row.arithmetic_intensity, row.gflops, marker=markers[row.model], s=55,
                   color=RUNTIME_COLORS.get(row.runtime, "#999999"), edgecolor="black", linewidth=0.4,
                   alpha=0.5 + 0.5 * (row.threads == ok["threads"].max()))
    _log_axes_with_legend(ax, ok["runtime"], markers, "arithmetic intensity (FLOP per byte, from the ONNX graph)",
                          "achieved GFLOP/s at p50")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(low, high)
    ax.set_title(f"Roofline — measured (bandwidth, ceiling and rates), profile '{profile}'", fontsize=10, loc="left")
    fig.tight_layout()
    return save(fig, profile, "roofline")


def sustained_throughput(series: pd.DataFrame, table: pd.DataFrame, profile: str):
    """Throughput over a continuous run, relative to its first window, one line per model (its fastest runtime)."""
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for row in ok.itertuples():
        part = series[(series["model"] == row.model) & (series["runtime"] == row.runtime)].sort_values("window")
        if part.empty:
            continue
        first = float(part["throughput_ips"].iloc[0]) or 1.0
        ax.plot(part["start_s"], part["throughput_ips"] / first, marker=".", color=RUNTIME_COLORS.get(row.runtime),
                label=f"{row.model} on {runtime_label(row.runtime)}: last/first p50 {row.last_over_first:.3f}"
                      + (" (contended)" if row.contended is True else ""))
    ax.axhline(1.0, color="#999999", lw=0.8)
    ax.set_xlabel("seconds into the continuous run")
    ax.set_ylabel("throughput relative to the first window")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, frameon=False, loc="lower left")
    ax.set_title(f"Sustained load — measured, profile '{profile}'", fontsize=10, loc="left")
    fig.tight_layout()
    return save(fig, profile, "sustained_throughput")
