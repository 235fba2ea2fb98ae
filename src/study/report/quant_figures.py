"""Figures of the quantization study (saved under figures/<profile>/ like every other figure)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from study.report.plots import RUNTIME_COLORS, runtime_label, save
from study.build.quant import FILE_ITSELF


def variant_label(runtime: str, scheme: str) -> str:
    return f"{runtime_label(runtime)} · {scheme}"


def delta_by_group(groups: pd.DataFrame, summary: pd.DataFrame, dataset: str, profile: str):
    """Accuracy change against the fp32 twin, per appearance group, every quantized variant (95% CI)."""
    by = summary.loc[summary["dataset"] == dataset, "group_by"].dropna()
    by = by.iloc[0] if len(by) else "class"
    rows = groups[(groups["dataset"] == dataset) & (groups["group_by"] == by) & (groups["scheme"] != "fp32")]
    rows = rows.groupby(["model", "runtime", "scheme", "group"], as_index=False)[
        ["delta", "delta_ci_low", "delta_ci_high"]].mean()
    models = list(dict.fromkeys(rows["model"]))
    names = sorted(set(rows["group"]))
    if not models:
        return None
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 0.9 + 0.36 * rows.groupby("model").size().max()
                                                           / max(len(names), 1) * len(names) + 0.6),
                             squeeze=False, layout="constrained", sharex=True)
    palette = plt.get_cmap("tab10").colors
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}  # a user's data may have many groups
    for ax, model in zip(axes[0], models):
        mine = rows[rows["model"] == model]
        variants = list(dict.fromkeys(zip(mine["runtime"], mine["scheme"])))
        height = 0.8 / max(len(names), 1)
        for g, name in enumerate(names):
            part = mine[mine["group"] == name].set_index(["runtime", "scheme"]).reindex(variants)
            y = np.arange(len(variants)) + (g - (len(names) - 1) / 2) * height
            ax.errorbar(100 * part["delta"], y, xerr=[100 * (part["delta"] - part["delta_ci_low"]),
                        100 * (part["delta_ci_high"] - part["delta"])], fmt="o", ms=4, capsize=2,
                        color=colours[name], label=name)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(variants)), [variant_label(r, s) for r, s in variants], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(model, fontsize=10, loc="left")
        ax.set_xlabel("accuracy change vs fp32 twin (pp)")
        ax.grid(axis="x", alpha=0.3)
    fig.legend(*axes[0][0].get_legend_handles_labels(), title=by, fontsize=8, frameon=False, loc="outside right")
    fig.suptitle(f"{dataset}: per-group accuracy change after quantization (mean over seeds, paired-bootstrap 95% CI)"
                 f" — measured, profile '{profile}'", fontsize=10, x=0.02, ha="left")
    return save(fig, profile, f"quant_delta_{dataset}")


def flip_rates(groups: pd.DataFrame, summary: pd.DataFrame, profile: str):
    """Share of test images whose predicted class changes after quantization, per appearance group."""
    parts = []
    for dataset, part in groups[groups["scheme"] != "fp32"].groupby("dataset"):
        by = summary.loc[summary["dataset"] == dataset, "group_by"].dropna()
        parts.append(part[part["group_by"] == (by.iloc[0] if len(by) else "class")])
    if not parts:
        return None
    rows = pd.concat(parts)
    rows = rows.groupby(["dataset", "model", "runtime", "scheme", "group"], as_index=False)["flip_rate"].mean()
    rows["variant"] = [f"{d} · {m} · {variant_label(r, s)}" for d, m, r, s in
                       zip(rows["dataset"], rows["model"], rows["runtime"], rows["scheme"])]
    table = rows.pivot_table(index="variant", columns="group", values="flip_rate", sort=False)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.28 * len(table)))
    table.mul(100).plot.barh(ax=ax, width=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("predictions changed by quantization (% of the group's test images)")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Flip rate per group — measured, profile '{profile}'", fontsize=10, loc="left")
    fig.tight_layout()
    return save(fig, profile, "quant_flip_rates")


def exemplar_gallery(images: np.ndarray, labels, fp32_pred, quant_pred, groups, classes, title: str, profile: str,
                     name: str, limit: int = 12):
    """Compression-identified exemplars: the image, its group, true class, fp32 and quantized predictions."""
    count = min(limit, len(images))
    if count == 0:
        return None
    cols = min(6, count)
    rows = -(-count // cols)
    # constrained layout keeps each three-line title clear of the image above it
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 2.3 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for i in range(count):
        ax = axes.flat[i]
        image = np.transpose(images[i], (1, 2, 0)) * 0.5 + 0.5
        ax.imshow(np.clip(image.squeeze(), 0, 1), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
        ax.set_title(f"{groups[i]}\ntrue {classes[labels[i]]}\nfp32 {classes[fp32_pred[i]]} → q {classes[quant_pred[i]]}",
                     fontsize=7, color="black" if quant_pred[i] == labels[i] else "#c62828")
    fig.suptitle(title, fontsize=9, x=0.02, ha="left")
    return save(fig, profile, name)


def pareto(summary: pd.DataFrame, profile: str):
    """Accuracy against artifact size, colour = latency: which variants no other beats on all three."""
    ok = summary[(summary["status"] == "ok") & summary["acc"].notna()]
    datasets = list(dict.fromkeys(ok["dataset"]))
    if not datasets:
        return None
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.6 * len(datasets), 4.4), squeeze=False, layout="constrained")
    markers = {"fp32": "o", "fp16": "s", "dynamic-int8": "v", "int8": "D", "qdq-int8-tensor": "^",
               "qdq-int8-channel": "P", "pt2e-int8": "X"}
    latency = ok["p50_ms"].dropna()
    norm = plt.Normalize(latency.min(), latency.max()) if len(latency) else None
    for ax, dataset in zip(axes[0], datasets):
        mine = ok[ok["dataset"] == dataset]
        front = _pareto_front(mine)
        for row in mine.itertuples():
            colour = plt.get_cmap("viridis")(norm(row.p50_ms)) if norm and row.p50_ms == row.p50_ms else "#cccccc"
            ax.scatter(row.bytes / 1e3, 100 * row.acc, marker=markers.get(row.scheme, "o"), s=70, color=colour,
                       edgecolor=RUNTIME_COLORS.get(row.runtime, "black"), linewidth=1.6 if row.Index in front else 0.4)
        ax.set_xscale("log")
        # plain kB at 1-2-5 steps: the default 3x10^1 labels of a narrow log range run into each other
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("artifact size (kB, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{dataset} (thick edge: on the Pareto front)", fontsize=9, loc="left")
        ax.grid(alpha=0.3, which="both")
    # one key beside the panels, so it hides no point: marker = scheme, edge colour = runtime
    key = [Line2D([], [], ls="", marker=m, mfc="white", mec="black", label=s) for s, m in markers.items()
           if s in set(ok["scheme"])]
    key += [Line2D([], [], ls="", marker="o", mfc="white", mec=RUNTIME_COLORS.get(r, "black"), mew=2, label=runtime_label(r))
            for r in dict.fromkeys(ok["runtime"])]
    fig.legend(handles=key, fontsize=8, frameon=False, loc="outside right")
    if norm:
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(),
                     label="p50 latency, batch 1 (ms)")
    fig.suptitle(f"Accuracy, size and latency of every variant (seed mean) — measured, profile '{profile}'",
                 fontsize=10, x=0.02, ha="left")
    return save(fig, profile, "quant_pareto")


def _pareto_front(rows: pd.DataFrame) -> set:
    """Rows no other row beats on accuracy (higher), size and latency (lower) at once."""
    front = set()
    values = rows[["acc", "bytes", "p50_ms"]].fillna({"p50_ms": np.inf}).to_numpy(dtype=float)
    for i, index in enumerate(rows.index):
        a = values[i]
        dominated = any((b[0] >= a[0]) and (b[1] <= a[1]) and (b[2] <= a[2]) and (b != a).any() for b in values)
        if not dominated:
            front.add(index)
    return front


def _panel_per_model(ok: pd.DataFrame, value: str):
    """One horizontal bar panel per model, a bar of ``value`` per variant (runtime colours), heights by the variant
    count: (figure, axes, [(axis, model, the model's variants in bar order)]) for the caller to annotate."""
    models = list(dict.fromkeys(ok["model"]))
    heights = [max(1.2, 0.32 * (ok["model"] == m).sum()) for m in models]
    fig, axes = plt.subplots(len(models), 1, figsize=(8.2, sum(heights) + 1.0), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    panels = []
    for ax, model in zip(axes[:, 0], models):
        mine = ok[ok["model"] == model].sort_values(["runtime", "scheme"]).reset_index(drop=True)
        y = np.arange(len(mine))
        ax.barh(y, mine[value], color=[RUNTIME_COLORS.get(r, "black") for r in mine["runtime"]], alpha=0.75)
        ax.set_yticks(y, [variant_label(r, s) for r, s in zip(mine["runtime"], mine["scheme"])], fontsize=7.5)
        ax.grid(alpha=0.3, axis="x")
        panels.append((ax, model, mine))
    return fig, axes, panels


def _titled(fig, axes, ok: pd.DataFrame, profile: str, name: str, xlabel: str, title: str):
    """A per-model panel figure's axis label and title, with the CPU extensions that decide int8 speed; saved."""
    axes[-1, 0].set_xlabel(xlabel)
    isa = ", ".join(sorted(set(ok["cpu_isa"].dropna())))
    fig.suptitle(f"{title} — measured, profile '{profile}'\nCPU extensions: {isa}", fontsize=9, x=0.02, ha="left")
    return save(fig, profile, name)


def zoo_speedups(summary: pd.DataFrame, profile: str):
    """Full-size variants: speedup over the fp32 twin of the same runtime (95% range), beside their fidelity."""
    ok = summary[(summary["status"] == "ok") & (summary["dataset"] == "zoo") & (summary["precision"] != "fp32")]
    ok = ok[ok["speedup"].notna()]
    if not len(ok):
        return None
    fig, axes, panels = _panel_per_model(ok, "speedup")
    for ax, model, mine in panels:
        ax.errorbar(mine["speedup"], np.arange(len(mine)), xerr=[mine["speedup"] - mine["speedup_ci_low"],
                                                                 mine["speedup_ci_high"] - mine["speedup"]],
                    fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        for i, row in enumerate(mine.itertuples()):
            ax.text(row.speedup_ci_high * 1.02, i, f"agree {100 * row.top1_agreement:.0f}%, {row.sqnr_db:.0f} dB, "
                    f"−{row.size_reduction_pct:.0f}% size", va="center", fontsize=6.5, color="#444444")
        ax.axvline(1.0, color="black", lw=0.8)
        ax.axvline(3.0, color="#b71c1c", lw=0.8, ls="--")
        ax.set_title(model, fontsize=9, loc="left")
    return _titled(fig, axes, ok, profile, "quant_zoo_speedups",
                   "speedup over the fp32 twin in the same runtime, p50 batch 1 (×; bar: 95% range; red dashes: the "
                   "article's 3x)", "int8 and float16 at 224x224: speed and fidelity (seeded weights: agreement with "
                   "fp32, not accuracy)")


def shipped_fidelity(shipped: pd.DataFrame, profile: str):
    """Shipped models: each variant's task fidelity against the shipped fp32 file on real images (1 = the same
    boxes, text regions or labels), with its speedup and size saving beside it."""
    ok = shipped[(shipped["status"] == "ok") & (shipped["precision"] != "fp32")] if len(shipped) else shipped
    if not len(ok):
        return None
    fig, axes, panels = _panel_per_model(ok, "task_fidelity")
    for ax, model, mine in panels:
        for i, row in enumerate(mine.itertuples()):
            speed = f"{row.speedup:.2f}x [{row.speedup_ci_low:.2f}, {row.speedup_ci_high:.2f}]" \
                if pd.notna(row.speedup) else "not timed"
            ax.text(1.02, i, f"fidelity {row.task_fidelity:.2f} · {speed} · −{row.size_reduction_pct:.0f}% size",
                    va="center", fontsize=6.5, color="#444444")
        ax.set_xlim(0, 1.75)
        ax.axvline(1.0, color="black", lw=0.8)
        ax.set_title(f"{model} ({mine['task'].iloc[0].replace('_', ' ')})", fontsize=9, loc="left")
    return _titled(fig, axes, ok, profile, "quant_shipped_fidelity",
                   "task fidelity against the shipped fp32 file on real images\n(face boxes: F1 at IoU 0.5; text: map "
                   "IoU pooled over the images; labels: agreement) · speedup over the fp32 twin [95%] · size saved",
                   "Trained models people ship: what int8 and float16 changed")


PRECISION_ORDER = {"fp32": 0, "fp16": 1, "int8": 2}  # a runtime's row reads from its fp32 twin to its smallest


def shipped_pictures(pictures: pd.DataFrame, profile: str) -> list:
    """Per shipped model with a picture, one figure: the photograph with what each variant finds on it (face
    boxes, a text map) over what the shipped fp32 file finds, a row per runtime: what quantization changed, at a
    glance."""
    import json

    from study.build.real_images import image
    from study.build.tasks import task

    if not len(pictures) or "picture" not in pictures:
        return []
    made = []
    for model, mine in pictures.groupby("model", sort=False):
        reference = mine[mine["runtime"] == FILE_ITSELF]
        if not len(reference):
            continue
        drawn = task(mine["task"].iloc[0])
        photo, original = image(mine["image"].iloc[0]), json.loads(reference["picture"].iloc[0])
        variants = mine[mine["runtime"] != FILE_ITSELF]
        runtimes = list(dict.fromkeys(variants["runtime"]))
        columns = max(variants.groupby("runtime").size().max(), 1)
        aspect = photo.shape[0] / photo.shape[1] if mine["task"].iloc[0] != "face_detection" else 1.0
        height = (2.6 * aspect + 0.3) * len(runtimes) + 0.9
        fig, axes = plt.subplots(len(runtimes), columns, figsize=(2.9 * columns, height), squeeze=False,
                                 layout="constrained")
        for row, runtime in zip(axes, runtimes):
            here = variants[variants["runtime"] == runtime]
            here = here.iloc[np.lexsort((here["scheme"], here["precision"].map(PRECISION_ORDER).fillna(3)))]
            for ax, entry in zip(row, here.itertuples()):
                if entry.status == "ok" and isinstance(entry.picture, str) and entry.picture:
                    caption = drawn.draw(ax, photo, original, json.loads(entry.picture))
                else:
                    ax.axis("off")
                    caption = f"failed: {str(entry.error)[:70]}"
                every = getattr(entry, "on_every_image", "")
                every = every if isinstance(every, str) else ""
                ax.set_title(f"{variant_label(runtime, entry.scheme)}\n{caption}\n{every}", fontsize=6.5, loc="left")
            for ax in row[len(here):]:
                ax.axis("off")
        key = ("white dashes: the shipped fp32 file's boxes; green: a variant's box matching one (IoU >= 0.5), red: "
               "one that does not" if mine["task"].iloc[0] == "face_detection" else
               "green: text both the shipped fp32 file and the variant see; red: text only the file sees (lost); "
               "blue: text only the variant sees")
        fig.suptitle(f"{model} on {mine['image'].iloc[0]}: what each variant finds — measured, profile "
                     f"'{profile}'\n{key}\nEach panel's last line is the variant's task fidelity over every "
                     "fidelity image, of which this picture is one", fontsize=8.5, x=0.02, ha="left")
        made.append(save(fig, profile, f"quant_shipped_{model}_picture"))
    return made


MIX_COLOURS = {"removed": "#b71c1c", "share": "#424242", "over": "#1565c0"}


def calibration_ablation(calibration: pd.DataFrame, profile: str):
    """The minority group's accuracy change against fp32 for each calibration mix (removed, at its share,
    over-represented), per static int8 variant: does what the calibrator saw decide who pays?"""
    ok = calibration[(calibration["status"] == "ok")] if len(calibration) else calibration
    if not len(ok):
        return None
    panels = list(dict.fromkeys(zip(ok["dataset"], ok["model"])))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 2.6, 1.6 + 0.5 * ok.groupby(
        ["dataset", "model"]).size().max() / 3), squeeze=False, sharex=True, layout="constrained")
    for ax, (dataset, model) in zip(axes[0], panels):
        mine = ok[(ok["dataset"] == dataset) & (ok["model"] == model)]
        variants = list(dict.fromkeys(zip(mine["runtime"], mine["scheme"])))
        for m, mix in enumerate(MIX_COLOURS):
            part = mine[mine["mix"] == mix].set_index(["runtime", "scheme"]).reindex(variants)
            y = np.arange(len(variants)) + (m - 1) * 0.25
            share = part["calibration_minority_share"].dropna()
            ax.errorbar(part["minority_delta_pp"], y,
                        xerr=[part["minority_delta_pp"] - part["minority_delta_ci_low_pp"],
                              part["minority_delta_ci_high_pp"] - part["minority_delta_pp"]],
                        fmt="o", ms=4, capsize=2, color=MIX_COLOURS[mix],
                        label=f"minority {mix}" + (f" ({100 * share.iloc[0]:.0f}% of the set)" if len(share) else ""))
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(variants)), [variant_label(r, s) for r, s in variants], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{model} on {dataset} ({mine['minority'].iloc[0]})", fontsize=9, loc="left")
        ax.set_xlabel("minority accuracy change vs fp32 twin (pp)")
        ax.grid(axis="x", alpha=0.3)
    fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=8, frameon=False, loc="outside right")
    fig.suptitle(f"Calibration-set ablation: the minority group removed, at its share, over-represented (mean over "
                 f"seeds, 95% CI) — measured, profile '{profile}'", fontsize=9, x=0.02, ha="left")
    return save(fig, profile, "quant_calibration_ablation")
