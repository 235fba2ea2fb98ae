"""The quantization study's tables, rebuilt from the records (builds and variant latencies), and the views
the notebook shows: per (variant, seed, group) accuracy changes, per-variant summary, the article's claims.

- ``quant_groups.csv`` (per variant, seed, group), ``quant_summary.csv`` (per variant), ``quant_latency.csv``
  (every timed variant, the columns of latency.csv), ``quant_claims.csv``, ``quant_overview.csv`` (what was
  trained), ``quant_exemplars.csv`` (compression-identified exemplars), ``quant_calibration.csv`` (the
  calibration-set ablation), ``quant_shipped.csv`` (the shipped models' variants, judged by their task) and
  ``quant_pictures.csv`` (what each of those finds on its picture) are all a notebook reads.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from study.core.errors import StudyError
from study.core.fsutil import csv_text, display_path, write_text_atomic
from study.plan.profiles import Profile
from study.analyze import quant_metrics as metrics
from study.build.quant import FILE_ITSELF, SHIPPED
from study.plan.quant import jobs
from study.build.quant.quantizers import VARIANTS
from study.analyze.quant_verdicts import article_claims
from study.analyze.comparisons import compare
from study.analyze.duels import VARIANT_DUELS, by_contender, judge
from study.core.store import ResultsStore, derived_columns, round_p50s, table_row
from study.build.tasks import task
from study.measure.trackers import latency_columns

GROUP_COLUMNS = ["dataset", "model", "framework", "runtime", "scheme", "precision", "seed", "group_by", "group", "n",
                 "acc_fp32", "acc", "acc_ci_low", "acc_ci_high", "delta", "delta_ci_low", "delta_ci_high",
                 "flip_rate"]


def _builds(profile: Profile) -> list[dict]:
    store = ResultsStore(profile.name, records="quant")
    wanted = {j["id"] for j in jobs(profile)}
    return [r for r in store.records() if r["case_id"] in wanted]


def group_rows(profile: Profile) -> pd.DataFrame:
    rows = []
    for record in _builds(profile):
        build = record.get("build")
        if record["status"] != "ok" or not build:
            continue
        for key, variant in build["variants"].items():
            twin = build["variants"].get(VARIANTS[key].twin, {})
            if variant["status"] != "ok" or twin.get("status") != "ok":
                continue
            for group_by, groups in build["groups"].items():
                for row in metrics.group_table(build["labels"], twin["predictions"], variant["predictions"], groups):
                    rows.append({"dataset": build["dataset"], "model": build["model"],
                                 "framework": build["framework"], "runtime": variant["runtime"],
                                 "scheme": variant["scheme"], "precision": variant["precision"],
                                 "seed": build["seed"], "group_by": group_by, **row})
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


LATENCY_TABLE_COLUMNS = [*latency_columns(), "scheme", "dataset"]


def speeds(profile: Profile, latency_ids: list[str] | None = None) -> pd.DataFrame:
    """Every timed variant of the plan: latency.csv's columns, plus the quantization scheme and the dataset the
    variant was trained on (its input shape: one model name is a different network on each dataset)."""
    store = ResultsStore(profile.name, records="quant_latency")
    records = store.records(latency_ids)
    rows = [{**table_row(r), "scheme": r["inputs"].get("scheme"), "dataset": r["inputs"].get("dataset")}
            for r in records]
    table = pd.DataFrame([{c: r.get(c) for c in LATENCY_TABLE_COLUMNS} for r in rows], columns=LATENCY_TABLE_COLUMNS)
    table = derived_columns(table)[LATENCY_TABLE_COLUMNS]
    table.attrs["rounds"] = {r["case_id"]: round_p50s(r) for r in records}  # a variant and its twin share rounds
    duels = ResultsStore(profile.name, records=VARIANT_DUELS)  # and then a duel, when the profile has them
    table.attrs["duels"] = by_contender(duels.records()) if duels.cases_dir.exists() else {}
    return table


def speed_of(speed: pd.DataFrame, dataset: str, model: str, runtime: str) -> pd.DataFrame:
    """The timed variants of one trained network in one runtime: a dataset's rows never borrow another's speed."""
    return speed[(speed["dataset"] == dataset) & (speed["model"] == model) & (speed["runtime"] == runtime)]


SMALL_INPUT_SIDE = 16  # the trained networks' input, when a build does not say


def isa_of(profile: Profile) -> str:
    """The instruction-set extensions of the machine that timed the variants: they decide int8 speed."""
    import json

    from study.core.environment import cpu_flags

    path = ResultsStore(profile.name).environment_json
    # before a first run's environment record is written, the tables are built on the machine that measured
    flags = json.loads(path.read_text()).get("cpu_flags", []) if path.exists() else cpu_flags()
    return " ".join(flags) or "none of the int8-relevant extensions"


def speedup_interval(fp32: pd.Series, quant: pd.Series) -> dict:
    """The fp32-over-quantized p50 ratio's range allowed by the two p50 intervals (conservative: both extremes)."""
    try:
        return {"speedup_ci_low": float(fp32["ci_low_ms"] / quant["ci_high_ms"]),
                "speedup_ci_high": float(fp32["ci_high_ms"] / quant["ci_low_ms"])}
    except (KeyError, TypeError, ZeroDivisionError):
        return {}


def speedup_columns(timed: pd.DataFrame, scheme: str) -> dict:
    """p50 of the variant and of its fp32 twin (the timed variants of one network in one runtime), the speedup and
    its interval (from their duel, else their paired rounds, else their intervals); empty when either was not
    timed."""
    quant, fp32 = timed[timed["scheme"] == scheme], timed[timed["scheme"] == "fp32"]
    if not (len(quant) and len(fp32)):
        return {}
    q, f = quant.iloc[0], fp32.iloc[0]
    duel = timed.attrs.get("duels", {}).get(q.get("case_id"))
    if duel is not None and f.get("case_id") in (duel.get("inputs") or {}).get("contenders", {}):
        judged = judge(duel, q.get("case_id"), f.get("case_id"))  # timed in interleaved bursts, kept loaded
        if judged.rounds >= 2:
            return {"p50_ms": float(q["p50_ms"]), "p50_fp32_ms": float(f["p50_ms"]), "speedup": 1 / judged.ratio,
                    "speedup_ci_low": 1 / judged.high, "speedup_ci_high": 1 / judged.low if judged.low > 0 else None}
    rounds = timed.attrs.get("rounds", {})
    q_rounds, f_rounds = rounds.get(q.get("case_id"), []), rounds.get(f.get("case_id"), [])
    n = min(len(q_rounds), len(f_rounds))
    if n >= 2:  # timed in the same rounds: the paired ratio over rounds, as runtimes are compared
        paired = compare("variant", "fp32", q_rounds[:n], f_rounds[:n])
        return {"p50_ms": float(q["p50_ms"]), "p50_fp32_ms": float(f["p50_ms"]), "speedup": 1 / paired.ratio,
                "speedup_ci_low": 1 / paired.high, "speedup_ci_high": 1 / paired.low if paired.low > 0 else None}
    return {"p50_ms": float(q["p50_ms"]), "p50_fp32_ms": float(f["p50_ms"]), "speedup": float(f["p50_ms"] / q["p50_ms"]),
            **speedup_interval(f, q)}


def attribute(group_by: list[str]) -> str:
    """The appearance attribute of a dataset (ink, tone, group), else class."""
    others = [g for g in group_by if g != "class"]
    return others[0] if others else "class"


def summary_rows(profile: Profile, groups: pd.DataFrame, speed: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model, variant): means over seeds, worst group, gap, CIEs, Welch, size, speed."""
    rows = []
    cpu_isa = isa_of(profile)
    builds = [r for r in _builds(profile) if r["status"] == "ok" and r.get("build")]
    keys = sorted({(b["build"]["dataset"], b["build"]["model"], k) for b in builds for k in b["build"]["variants"]})
    for dataset, model, key in keys:
        population = [b["build"] for b in builds if b["build"]["dataset"] == dataset and b["build"]["model"] == model]
        variant = VARIANTS[key]
        entries = [(p, p["variants"].get(key, {}), p["variants"].get(variant.twin, {})) for p in population]
        ok = [(p, e, t) for p, e, t in entries if e.get("status") == "ok" and t.get("status") == "ok"]
        row = {"dataset": dataset, "model": model, "input_side": population[0].get("input_side", SMALL_INPUT_SIDE),
               "runtime": variant.runtime, "scheme": variant.scheme, "cpu_isa": cpu_isa,
               "precision": variant.precision, "seeds": len(ok), "status": "ok" if ok else "failed",
               "error": next((e.get("error") for _, e, _ in entries if e.get("status") != "ok"), "")}
        if ok:
            labels = np.asarray(ok[0][0]["labels"])
            acc_fp = [float(np.mean(np.asarray(t["predictions"]) == labels)) for _, _, t in ok]
            acc_q = [float(np.mean(np.asarray(e["predictions"]) == labels)) for _, e, _ in ok]
            by = attribute(list(ok[0][0]["groups"]))
            sub = groups[(groups["dataset"] == dataset) & (groups["model"] == model) & (groups["runtime"] ==
                         variant.runtime) & (groups["scheme"] == variant.scheme) & (groups["group_by"] == by)
                         & (groups["group"] != "all")]
            per_group = sub.groupby("group")[["acc_fp32", "acc", "delta", "delta_ci_high"]].mean()
            worst = per_group["delta"].idxmin() if len(per_group) else ""
            group_names = np.asarray(ok[0][0]["groups"][by])
            worst_mask = group_names == worst
            worst_fp = [float(np.mean(np.asarray(t_["predictions"])[worst_mask] == labels[worst_mask]))
                        for _, _, t_ in ok] if worst else []
            worst_q = [float(np.mean(np.asarray(e["predictions"])[worst_mask] == labels[worst_mask]))
                       for _, e, _ in ok] if worst else []
            overall_test, worst_test = metrics.paired(acc_fp, acc_q), metrics.paired(worst_fp, worst_q)
            row.update({"paired_p": overall_test["paired_p"], "paired_mde_pp": 100 * overall_test["paired_mde"],
                        "worst_group_paired_p": worst_test["paired_p"],
                        "worst_group_paired_mde_pp": 100 * worst_test["paired_mde"]})
            t, p = metrics.welch(acc_fp, acc_q)
            tw, pw = metrics.welch([float(np.mean(np.asarray(t_["predictions"])[worst_mask] == labels[worst_mask]))
                                    for _, _, t_ in ok],
                                   [float(np.mean(np.asarray(e["predictions"])[worst_mask] == labels[worst_mask]))
                                    for _, e, _ in ok]) if worst else (float("nan"), float("nan"))
            cies = metrics.compression_identified([t["predictions"] for _, _, t in ok],
                                                  [e["predictions"] for _, e, _ in ok])
            sizes = [(e["bytes"], t["bytes"]) for _, e, t in ok]
            row.update({"group_by": by, "acc_fp32": np.mean(acc_fp), "acc": np.mean(acc_q),
                        "delta_pp": 100 * (np.mean(acc_q) - np.mean(acc_fp)), "worst_group": worst,
                        "worst_group_delta_pp": 100 * per_group["delta"].min() if len(per_group) else np.nan,
                        "worst_group_delta_ci_high_pp": 100 * per_group.loc[worst, "delta_ci_high"] if worst else np.nan,
                        "gap_fp32_pp": 100 * metrics.gap(per_group["acc_fp32"].to_dict()),
                        "gap_pp": 100 * metrics.gap(per_group["acc"].to_dict()),
                        "flip_rate": float(np.mean([metrics.flip_rate(e["predictions"], t["predictions"])
                                                    for _, e, t in ok])),
                        "cie_count": len(cies), "welch_t": t, "welch_p": p, "welch_p_worst_group": pw,
                        "bytes_fp32": sizes[0][1], "bytes": sizes[0][0],
                        "size_reduction_pct": 100 * (1 - sizes[0][0] / sizes[0][1])})
            overall = groups[(groups["dataset"] == dataset) & (groups["model"] == model)
                                       & (groups["runtime"] == variant.runtime) & (groups["scheme"] == variant.scheme)
                                       & (groups["group"] == "all")]
            if len(overall):
                row.update({"delta_ci_low_pp": 100 * overall["delta_ci_low"].mean(),
                            "delta_ci_high_pp": 100 * overall["delta_ci_high"].mean()})
            if worst:
                row["worst_group_delta_ci_low_pp"] = 100 * sub[sub["group"] == worst]["delta_ci_low"].mean()
            row.update(speedup_columns(speed_of(speed, dataset, model, variant.runtime), variant.scheme))
        rows.append(row)
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return with_holm(table)


def with_holm(table: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted paired p-values over the whole family compared: every quantized variant, overall and its
    worst group (the worst group is picked from several, so it must pay for the choice)."""
    quantized = table["precision"] != "fp32"
    family = pd.concat([table.loc[quantized, "paired_p"], table.loc[quantized, "worst_group_paired_p"]])
    adjusted = metrics.holm(family.to_numpy(dtype=float))
    half = int(quantized.sum())
    table.loc[quantized, "paired_p_holm"] = adjusted[:half]
    table.loc[quantized, "worst_group_paired_p_holm"] = adjusted[half:]
    return table


SUMMARY_COLUMNS = ["dataset", "model", "input_side", "runtime", "scheme", "precision", "seeds", "status", "error",
                   "group_by", "acc_fp32", "acc", "delta_pp", "delta_ci_low_pp", "delta_ci_high_pp", "worst_group",
                   "worst_group_delta_pp", "worst_group_delta_ci_low_pp", "worst_group_delta_ci_high_pp",
                   "gap_fp32_pp", "gap_pp", "flip_rate", "cie_count", "welch_t", "welch_p", "welch_p_worst_group",
                   "paired_p", "paired_p_holm", "paired_mde_pp", "worst_group_paired_p", "worst_group_paired_p_holm",
                   "worst_group_paired_mde_pp",
                   "bytes_fp32", "bytes", "size_reduction_pct", "p50_ms", "p50_fp32_ms", "speedup", "speedup_ci_low",
                   "speedup_ci_high", "cpu_isa", "top1_agreement", "sqnr_db", "max_rel_diff", "compressed_bytes_fp32",
                   "compressed_bytes", "compressed_reduction_pct"]


def _zoo_builds(profile: Profile) -> list[dict]:
    from study.plan.quant import zoo_jobs

    store = ResultsStore(profile.name, records="quant_zoo")
    wanted = {j["id"] for j in zoo_jobs(profile)}
    return [r for r in store.records() if r["case_id"] in wanted]


def zoo_rows(profile: Profile, speed: pd.DataFrame) -> pd.DataFrame:
    """One row per full-size variant: size, compressed size, fidelity to its fp32 twin, speed at the profile's
    fewest threads (every thread count is in quant_latency.csv), or the error that stopped it."""
    rows = []
    cpu_isa = isa_of(profile)
    threads = min(profile.resolved_threads())
    for record in _zoo_builds(profile):
        build = record.get("build") or {}
        if record["status"] != "ok":
            rows.append({"dataset": "zoo", "model": record["inputs"]["model"], "status": "failed",
                         "error": record.get("error", "")})
            continue
        if build.get("dataset") == SHIPPED:
            continue  # shipped models have their own table (shipped_rows): judged by their task, not in the claims
        variants = build.get("variants", {})
        for key, v in variants.items():
            twin = variants.get(f"{v['source']}/{v['runtime']}/fp32", {})
            row = {"dataset": "zoo", "model": v["source"], "input_side": max(v["input_shape"]),
                   "runtime": v["runtime"], "scheme": v["scheme"], "precision": v["precision"], "seeds": 0,
                   "status": v["status"], "error": v.get("error", ""), "cpu_isa": cpu_isa}
            if v["status"] == "ok" and twin.get("status") == "ok":
                row.update({k: v[k] for k in FIDELITY_COLUMNS},
                           bytes_fp32=twin["bytes"], bytes=v["bytes"],
                           size_reduction_pct=100 * (1 - v["bytes"] / twin["bytes"]),
                           compressed_bytes=v["compressed_bytes"], compressed_bytes_fp32=twin["compressed_bytes"],
                           compressed_reduction_pct=100 * (1 - v["compressed_bytes"] / twin["compressed_bytes"]))
                mine = speed_of(speed, "zoo", v["source"], v["runtime"])
                row.update(speedup_columns(mine[mine["threads"] == threads] if "threads" in mine else mine,
                                           v["scheme"]))
            rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


FIDELITY_COLUMNS = ["top1_agreement", "sqnr_db", "max_rel_diff"]

SHIPPED_COLUMNS = ["model", "task", "runtime", "scheme", "precision", "status", "error", "task_fidelity",
                   "task_metrics", "sqnr_db", "bytes", "bytes_fp32", "size_reduction_pct", "compressed_bytes",
                   "compressed_reduction_pct", "p50_ms", "p50_fp32_ms", "speedup", "speedup_ci_low",
                   "speedup_ci_high", "cpu_isa", "calibration", "fidelity_images", "file_sha256"]


def shipped_rows(profile: Profile, speed: pd.DataFrame) -> pd.DataFrame:
    """One row per variant of a shipped model: what quantization changed at the level of its task (boxes, text
    regions, labels) against the shipped fp32 file on real images, with size and speed against the fp32 twin of
    the same runtime. Not evidence for the article's claims, which are about the 224x224 zoo models."""
    rows = []
    cpu_isa = isa_of(profile)
    threads = min(profile.resolved_threads())
    for record in _zoo_builds(profile):
        build = record.get("build") or {}
        if record["status"] != "ok" or build.get("dataset") != SHIPPED:
            if record["status"] != "ok" and record["inputs"]["model"] in profile.quantization.shipped_models:
                rows.append({"model": record["inputs"]["model"], "status": "failed", "error": record.get("error", "")})
            continue
        variants = build.get("variants", {})
        for v in variants.values():
            twin = variants.get(f"{v['source']}/{v['runtime']}/fp32", {})
            row = {"model": v["source"], "task": build.get("task"), "runtime": v["runtime"], "scheme": v["scheme"],
                   "precision": v["precision"], "status": v["status"], "error": v.get("error", ""),
                   "cpu_isa": cpu_isa, "calibration": build.get("calibration"),
                   "fidelity_images": build.get("validation"),
                   "file_sha256": (build.get("provenance") or {}).get("sha256")}
            if v["status"] == "ok":
                row.update(task_fidelity=v.get("task_fidelity"), sqnr_db=v.get("sqnr_db"), bytes=v["bytes"],
                           compressed_bytes=v["compressed_bytes"],
                           task_metrics="; ".join(f"{k[5:]} {_short(x)}" for k, x in v.items()
                                                  if k.startswith("task_") and k != "task_fidelity"))
            if v["status"] == "ok" and twin.get("status") == "ok":
                row.update(bytes_fp32=twin["bytes"], size_reduction_pct=100 * (1 - v["bytes"] / twin["bytes"]),
                           compressed_reduction_pct=100 * (1 - v["compressed_bytes"] / twin["compressed_bytes"]))
                mine = speed_of(speed, SHIPPED, v["source"], v["runtime"])
                row.update(speedup_columns(mine[mine["threads"] == threads] if "threads" in mine else mine,
                                           v["scheme"]))
            rows.append(row)
    return pd.DataFrame(rows, columns=SHIPPED_COLUMNS)


PICTURE_COLUMNS = ["model", "task", "image", "runtime", "scheme", "precision", "status", "error", "picture",
                   "on_every_image"]


def picture_rows(profile: Profile) -> pd.DataFrame:
    """What the shipped file and each of its variants find on the model's picture (a face photograph, a printed
    page): boxes or a packed text map as JSON, one row each, the file's own first, with what the variant's task
    fidelity was over every fidelity image (one picture can look right where the set does not). What the overlay
    figures draw."""
    rows = []
    for record in _zoo_builds(profile):
        build = record.get("build") or {}
        shown = build.get("picture")
        if record["status"] != "ok" or build.get("dataset") != SHIPPED or not shown:
            continue
        common = {"model": build["model"], "task": build.get("task"), "image": shown["image"]}
        rows.append({**common, "runtime": FILE_ITSELF, "scheme": "fp32", "precision": "fp32", "status": "ok",
                     "picture": json.dumps(shown["reference"])})
        for v in build.get("variants", {}).values():
            judged = {k[5:]: x for k, x in v.items() if k.startswith("task_")}
            rows.append({**common, "runtime": v["runtime"], "scheme": v["scheme"], "precision": v["precision"],
                         "status": v["status"], "error": v.get("error", ""),
                         "picture": json.dumps(v["picture"]) if "picture" in v else "",
                         "on_every_image": task(build["task"]).describe(judged) if judged else ""})
    return pd.DataFrame(rows, columns=PICTURE_COLUMNS)


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)

CALIBRATION_COLUMNS = ["dataset", "model", "runtime", "scheme", "mix", "minority", "calibration_minority_share",
                       "seeds", "status", "error", "minority_delta_pp", "minority_delta_ci_low_pp",
                       "minority_delta_ci_high_pp", "others_delta_pp", "change_vs_share_pp", "change_ci_low_pp",
                       "change_ci_high_pp", "change_p", "change_p_holm", "change_mde_pp", "interval", "verdict",
                       "verdict_why"]


def _seed_interval(per_seed_fp32, per_seed_quant, correct_fp32, correct_quant) -> tuple[float, float, float, str]:
    """Across seeds a paired t interval (seeds pair the models); with one seed, a bootstrap over the test images."""
    if len(per_seed_quant) >= 2:
        found = metrics.paired(per_seed_fp32, per_seed_quant)
        return found["paired_mean"], found["paired_ci_low"], found["paired_ci_high"], "paired over seeds"
    delta, low, high = metrics.delta_ci(correct_quant, correct_fp32)
    return delta, low, high, "bootstrap over test images (one seed)"


def calibration_rows(profile: Profile) -> pd.DataFrame:
    """The calibration-set ablation: each per-channel static int8 variant calibrated with the minority group at its
    training share, removed, and over-represented. Per mix: the minority's accuracy change against fp32, and how
    far that change moves from the ``share`` mix (paired by seed), judged against the bias margin."""
    from study.analyze import verdicts
    from study.analyze.quant_verdicts import BIAS_MARGIN_PP

    ablated = [r["build"] for r in _builds(profile) if r["status"] == "ok" and (r.get("build") or {}).get(
        "calibration_ablation")]
    rows = []
    keys = sorted({(b["dataset"], b["model"], k) for b in ablated for k in b["calibration_ablation"]["variants"]})
    for dataset, model, key in keys:
        builds = [b for b in ablated if b["dataset"] == dataset and b["model"] == model]
        ablation = builds[0]["calibration_ablation"]
        entry = ablation["variants"][key]
        runtime, scheme, mix = entry["runtime"], entry["scheme"], entry["mix"]
        row = {"dataset": dataset, "model": model, "runtime": runtime, "scheme": scheme, "mix": mix,
               "minority": f"{ablation['group_by']} = {ablation['minority']}",
               "calibration_minority_share": entry["minority_share"]}
        per_seed = []  # per seed: (labels, minority mask, fp32, this mix, share mix predictions)
        errors = []
        for build in builds:
            variants, mixes = build["variants"], build["calibration_ablation"]["variants"]
            twin, main = variants.get(f"{runtime}/fp32", {}), variants.get(f"{runtime}/{scheme}", {})
            this = mixes.get(key, {})
            this = main if this.get("same_as") else this
            if this.get("status") != "ok" or twin.get("status") != "ok" or main.get("status") != "ok":
                errors.append(this.get("error") or main.get("error") or twin.get("error") or "not made")
                continue
            labels = np.asarray(build["labels"])
            minority = np.asarray(build["groups"][ablation["group_by"]]) == ablation["minority"]
            per_seed.append((labels, minority, np.asarray(twin["predictions"]), np.asarray(this["predictions"]),
                             np.asarray(main["predictions"])))
        row.update(seeds=len(per_seed), status="ok" if per_seed else "failed", error=errors[0] if errors else "")
        if per_seed:
            def accuracy(predictions_at: int, where: str) -> list[float]:
                return [float(np.mean((s[predictions_at] == s[0])[s[1] if where == "minority" else ~s[1]]))
                        for s in per_seed]

            def correct(predictions_at: int) -> np.ndarray:
                return np.concatenate([(s[predictions_at] == s[0])[s[1]] for s in per_seed]).astype(float)

            delta, low, high, how = _seed_interval(accuracy(2, "minority"), accuracy(3, "minority"), correct(2),
                                                   correct(3))
            others = np.mean(accuracy(3, "others")) - np.mean(accuracy(2, "others"))
            row.update(minority_delta_pp=100 * delta, minority_delta_ci_low_pp=100 * low,
                       minority_delta_ci_high_pp=100 * high, others_delta_pp=100 * others, interval=how)
            if mix != "share":
                change, c_low, c_high, _ = _seed_interval(accuracy(4, "minority"), accuracy(3, "minority"),
                                                          correct(4), correct(3))
                test = metrics.paired(accuracy(4, "minority"), accuracy(3, "minority"))
                found = verdicts.effect(BIAS_MARGIN_PP, 100 * change, 100 * c_low, 100 * c_high, " pp")
                row.update(change_vs_share_pp=100 * change, change_ci_low_pp=100 * c_low,
                           change_ci_high_pp=100 * c_high, change_p=test["paired_p"],
                           change_mde_pp=100 * test["paired_mde"], verdict=found.outcome, verdict_why=found.why)
        rows.append(row)
    table = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    tested = table["change_p"].notna()
    table.loc[tested, "change_p_holm"] = metrics.holm(table.loc[tested, "change_p"].to_numpy(dtype=float))
    # Holm: a change "supported" by its interval alone but not surviving the family's correction is not detected
    weak = tested & (table["verdict"] == verdicts.SUPPORTED) & (table["change_p_holm"] >= 0.05)
    table.loc[weak, "verdict"] = verdicts.NOT_DETECTED
    table.loc[weak, "verdict_why"] += "; not significant after Holm's correction over the ablation's comparisons"
    return table

TABLES = ("groups", "summary", "latency", "claims", "overview", "exemplars", "calibration", "shipped", "pictures")


def write_tables(profile: Profile, latency_ids: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every table the notebook reads, rebuilt from the records."""
    directory = ResultsStore(profile.name).directory
    groups = group_rows(profile)
    speed = speeds(profile, latency_ids)
    summary = pd.concat([summary_rows(profile, groups, speed), zoo_rows(profile, speed)], ignore_index=True)
    made = {"groups": groups, "summary": summary, "latency": speed, "claims": article_claims(summary),
            "overview": overview(profile), "exemplars": exemplars(profile, summary),
            "calibration": calibration_rows(profile), "shipped": shipped_rows(profile, speed),
            "pictures": picture_rows(profile)}
    for name, table in made.items():
        write_text_atomic(directory / f"quant_{name}.csv", csv_text(table))
    return made


def load_tables(profile: str) -> dict[str, pd.DataFrame]:
    directory = ResultsStore(profile).directory
    path = directory / "quant_summary.csv"
    if not path.exists():
        raise StudyError(f"{display_path(path)}: no quantization results yet. Fix: python -m study bench --profile "
                         f"{profile} --only quantization")
    # a table added since these results were measured is empty until the next bench rebuilds the tables, and a
    # table with no rows and no columns (no small models trained in this profile) is an empty file
    return {name: _read_table(directory / f"quant_{name}.csv") for name in TABLES}


def _read_table(path) -> pd.DataFrame:
    if not path.exists() or not path.read_text().strip():
        return pd.DataFrame()
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


# --- views for the notebook -------------------------------------------------------------------------

def overview(profile: Profile) -> pd.DataFrame:
    """What was trained: dataset, model, seeds, training groups, fp32 accuracy in the source framework."""
    rows = []
    for record in _builds(profile):
        build = record.get("build")
        if not build:
            rows.append({"dataset": record["inputs"]["dataset"], "model": record["inputs"]["model"],
                         "seed": record["inputs"]["seed"], "status": record["status"], "error": record.get("error")})
            continue
        labels = np.asarray(build["labels"])
        rows.append({"dataset": build["dataset"], "model": build["model"], "framework": build["framework"],
                     "seed": build["seed"], "status": record["status"], "train_s": round(build["train_s"], 1),
                     "source_accuracy": round(float(np.mean(np.asarray(build["source_predictions"]) == labels)), 4),
                     "training groups": "; ".join(f"{k}: " + ", ".join(f"{g} {n}" for g, n in v.items())
                                                  for k, v in build["train_groups"].items() if k != "class"),
                     "test images": len(labels)})
    return pd.DataFrame(rows)


def summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    columns = ["dataset", "model", "runtime", "scheme", "seeds", "acc_fp32", "acc", "delta_pp", "paired_p_holm",
               "paired_mde_pp", "worst_group", "worst_group_delta_pp", "worst_group_paired_p_holm",
               "worst_group_paired_mde_pp", "gap_fp32_pp", "gap_pp", "flip_rate", "cie_count", "size_reduction_pct",
               "speedup"]
    ok = summary[(summary["status"] == "ok") & (summary["dataset"] != "zoo")]
    return ok[[c for c in columns if c in ok]].round(4).reset_index(drop=True)


def zoo_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The full-size variants as a reader compares them: size, speed with its interval, fidelity, the CPU's
    extensions that decide int8 speed."""
    ok = summary[(summary["status"] == "ok") & (summary["dataset"] == "zoo")].copy()
    if not len(ok):
        return pd.DataFrame(columns=["model", "runtime", "scheme", "size_reduction_pct", "speedup"])
    ok["speedup [95%]"] = [f"{r.speedup:.2f} [{r.speedup_ci_low:.2f}, {r.speedup_ci_high:.2f}]"
                           if pd.notna(r.speedup) else "not timed" for r in ok.itertuples()]
    ok["MB"] = ok["bytes"] / 1e6
    ok["compressed MB"] = ok["compressed_bytes"] / 1e6
    columns = ["model", "runtime", "scheme", "MB", "size_reduction_pct", "compressed MB", "compressed_reduction_pct",
               "p50_ms", "speedup [95%]", "top1_agreement", "sqnr_db", "max_rel_diff", "cpu_isa"]
    return ok[columns].round(4).reset_index(drop=True)


def shipped_view(shipped: pd.DataFrame) -> pd.DataFrame:
    """The shipped models' variants as a reader compares them: what each changed at the level of the task, against
    the shipped fp32 file on real images, beside what it saved in size and time."""
    if not len(shipped) or "status" not in shipped:
        return pd.DataFrame(columns=["model", "task", "runtime", "scheme", "task_fidelity"])
    ok = shipped[shipped["status"] == "ok"].copy()
    ok["speedup [95%]"] = [f"{r.speedup:.2f} [{r.speedup_ci_low:.2f}, {r.speedup_ci_high:.2f}]"
                           if pd.notna(r.speedup) else "not timed" for r in ok.itertuples()]
    columns = ["model", "task", "runtime", "scheme", "task_fidelity", "task_metrics", "size_reduction_pct", "p50_ms",
               "speedup [95%]", "cpu_isa"]
    return ok[columns].round(3).reset_index(drop=True)


def shipped_int8_view(shipped: pd.DataFrame) -> pd.DataFrame:
    """Beside the claims table: the int8 variants of the trained files people ship, what int8 did to models with
    trained weights on real images (task fidelity, size, speed against the fp32 twin in the same runtime). Not
    evidence for the articles' claims, which are judged on the full-size zoo variants the articles name."""
    view = shipped_view(shipped)
    if not len(view):
        return view
    int8 = view["scheme"].astype(str).str.contains("int8")
    return view[int8].reset_index(drop=True)


def calibration_view(calibration: pd.DataFrame) -> pd.DataFrame:
    """The ablation as a reader compares it: the minority's change per calibration mix, and the verdict on whether
    the mix moved it."""
    if not len(calibration):
        return pd.DataFrame(columns=["dataset", "model", "runtime", "scheme", "mix"])
    view = calibration.copy()

    def span(low, high) -> str:
        return f"[{low:+.1f}, {high:+.1f}]" if pd.notna(low) else ""

    def shown(estimate, low, high) -> str:
        return f"{estimate:+.2f} {span(low, high)}" if pd.notna(estimate) else ""

    view["minority Δ vs fp32 (pp) [95%]"] = [shown(r.minority_delta_pp, r.minority_delta_ci_low_pp,
                                                   r.minority_delta_ci_high_pp) for r in view.itertuples()]
    view["change vs share (pp) [95%]"] = [shown(r.change_vs_share_pp, r.change_ci_low_pp, r.change_ci_high_pp)
                                          for r in view.itertuples()]
    columns = ["dataset", "model", "runtime", "scheme", "minority", "mix", "calibration_minority_share", "seeds",
               "minority Δ vs fp32 (pp) [95%]", "others_delta_pp", "change vs share (pp) [95%]", "change_p_holm",
               "change_mde_pp", "verdict", "status", "error"]
    return view[columns].round(4).reset_index(drop=True)


def failures(summary: pd.DataFrame) -> pd.DataFrame:
    if "status" not in summary:
        return pd.DataFrame(columns=["dataset", "model", "runtime", "scheme", "error"])
    return summary.loc[summary["status"] != "ok", ["dataset", "model", "runtime", "scheme", "error"]] \
        .reset_index(drop=True)


EXEMPLAR_COLUMNS = ["dataset", "model", "variant", "seeds", "index", "label", "fp32_pred", "quant_pred", "group"]


def exemplars(profile: Profile, summary: pd.DataFrame) -> pd.DataFrame:
    """The compression-identified exemplars of the int8 variant with the most of them: test-split indices,
    labels and modal predictions over seeds (the notebook draws their images)."""
    int8 = summary[(summary["status"] == "ok") & (summary["precision"] == "int8") & summary["cie_count"].notna()] \
        if len(summary) else summary
    if not len(int8) or int8["cie_count"].max() == 0:
        return pd.DataFrame(columns=EXEMPLAR_COLUMNS)
    top = int8.loc[int8["cie_count"].idxmax()]
    key = f"{top['runtime']}/{top['scheme']}"
    population = [r["build"] for r in _builds(profile) if r["status"] == "ok" and r.get("build")
                  and r["build"]["dataset"] == top["dataset"] and r["build"]["model"] == top["model"]]
    ok = [p for p in population if p["variants"].get(key, {}).get("status") == "ok"
          and p["variants"][VARIANTS[key].twin].get("status") == "ok"]
    fp32 = metrics.modal([p["variants"][VARIANTS[key].twin]["predictions"] for p in ok])
    quant = metrics.modal([p["variants"][key]["predictions"] for p in ok])
    index = np.flatnonzero(fp32 != quant)
    labels, groups = np.asarray(ok[0]["labels"]), np.asarray(ok[0]["groups"][top["group_by"]])
    return pd.DataFrame({"dataset": top["dataset"], "model": top["model"], "variant": key, "seeds": len(ok),
                         "index": index, "label": labels[index], "fp32_pred": fp32[index],
                         "quant_pred": quant[index], "group": groups[index]}, columns=EXEMPLAR_COLUMNS)


def exemplar_images(profile: Profile, found: pd.DataFrame) -> dict | None:
    """What the exemplar gallery draws: the images behind ``quant_exemplars.csv`` (the dataset is read, not
    trained on), with their labels and predictions."""
    from study.build.quant import datasets

    if not len(found):
        return None
    name = found["dataset"].iloc[0]
    refs = {datasets.load(d).name: d for d in profile.quantization.datasets} if profile.quantization else {}
    if name not in refs:
        return None
    data = datasets.load(refs[name])
    index = found["index"].to_numpy()
    return {"images": data.x_test[index], "labels": found["label"].to_numpy(),
            "fp32_pred": found["fp32_pred"].to_numpy(), "quant_pred": found["quant_pred"].to_numpy(),
            "groups": found["group"].to_numpy(), "classes": data.classes,
            "title": f"{len(found)} compression-identified exemplars: {name} / {found['model'].iloc[0]} / "
                     f"{found['variant'].iloc[0]} (modal prediction over {found['seeds'].iloc[0]} seed(s); red: the "
                     "quantized model is wrong)"}
