"""Group metrics of a quantized model against its fp32 twin, on the same inputs; its resampling is study.core.statistics.

- accuracy with a percentile bootstrap 95% CI (resampling test images);
- delta accuracy per group (quantized - fp32), CI from a paired bootstrap (the same resampled images
  for both, so the shared difficulty of an image cancels);
- flip rate: the share of images whose predicted class changes;
- the max-min gap between groups, before and after;
- compression-identified exemplars (Hooker et al. 2019): images where the most common prediction
  across seeds of the quantized models differs from that of the fp32 models;
- Welch's t-test of per-seed accuracies, fp32 against quantized (needs at least 2 seeds).
"""

from __future__ import annotations


import numpy as np

from study.core.statistics import bootstrap_mean_ci, paired_difference, welch_test

BOOTSTRAP = 1000
BOOTSTRAP_SEED = 0


def accuracy_ci(correct, n_boot: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Accuracy with its percentile-bootstrap 95% CI over the test images."""
    return bootstrap_mean_ci(correct, n_boot, seed)


def delta_ci(correct_quant, correct_fp32, n_boot: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED
             ) -> tuple[float, float, float]:
    """Quantized minus fp32 accuracy, with a paired bootstrap CI."""
    return bootstrap_mean_ci(np.asarray(correct_quant, dtype=float) - np.asarray(correct_fp32, dtype=float),
                             n_boot, seed)


def flip_rate(pred_a, pred_b) -> float:
    a, b = np.asarray(pred_a), np.asarray(pred_b)
    return float((a != b).mean()) if len(a) else float("nan")


def group_table(labels, pred_fp32, pred_quant, groups, n_boot: int = BOOTSTRAP) -> list[dict]:
    """One row per group (and one for everyone): n, accuracies with CIs, delta with CI, flip rate."""
    labels, pred_fp32, pred_quant, groups = map(np.asarray, (labels, pred_fp32, pred_quant, groups))
    rows = []
    for name in ["all", *sorted(set(groups.tolist()))]:
        mask = np.ones(len(labels), bool) if name == "all" else groups == name
        ok_fp, ok_q = pred_fp32[mask] == labels[mask], pred_quant[mask] == labels[mask]
        acc_fp, _, _ = accuracy_ci(ok_fp, n_boot)
        acc, lo, hi = accuracy_ci(ok_q, n_boot)
        delta, dlo, dhi = delta_ci(ok_q, ok_fp, n_boot)
        rows.append({"group": name, "n": int(mask.sum()), "acc_fp32": acc_fp, "acc": acc, "acc_ci_low": lo,
                     "acc_ci_high": hi, "delta": delta, "delta_ci_low": dlo, "delta_ci_high": dhi,
                     "flip_rate": flip_rate(pred_fp32[mask], pred_quant[mask])})
    return rows


def gap(accuracy_by_group: dict[str, float]) -> float:
    """Max minus min accuracy across groups."""
    values = [v for v in accuracy_by_group.values() if v == v]
    return float(max(values) - min(values)) if values else float("nan")


def modal(predictions: list) -> np.ndarray:
    """Most common class per image across a population of models (ties: the smallest class id)."""
    stacked = np.asarray(predictions)
    return np.array([np.bincount(column).argmax() for column in stacked.T])


def compression_identified(fp32_population: list, quant_population: list) -> np.ndarray:
    """Indices of images whose modal prediction differs between the fp32 and the quantized populations."""
    return np.flatnonzero(modal(fp32_population) != modal(quant_population))


def welch(fp32_accuracies, quant_accuracies) -> tuple[float, float]:
    """(t, two-sided p) of Welch's t-test; NaN with fewer than 2 seeds or no variance at all."""
    return welch_test(fp32_accuracies, quant_accuracies)


def paired(fp32_accuracies, quant_accuracies) -> dict:
    """A paired t-test across seeds (seed k's fp32 and quantized models share their trained weights): the mean
    change, its 95% interval, two-sided p, and the smallest change this many seeds could have detected (80% power,
    5% level). NaN with fewer than 2 seeds."""
    test = paired_difference(fp32_accuracies, quant_accuracies)
    return {"paired_mean": test["mean"], "paired_ci_low": test["low"], "paired_ci_high": test["high"],
            "paired_p": test["p"], "paired_mde": test["mde"]}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment for many comparisons (NaN stays NaN): controls the family-wise error rate."""
    p = np.asarray(p_values, float)
    adjusted = np.full(p.shape, np.nan)
    index = np.flatnonzero(~np.isnan(p))
    order = index[np.argsort(p[index])]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted
