"""The summary: every profile side by side, and "which runtime should I ship" computed from the measurements
for the reader's constraints (latency budget, size budget, largest accepted accuracy drop overall and per group).
"""

from __future__ import annotations

import pandas as pd

from study.core import paths
from study.core.store import ResultsStore, rounds_of_samples


def profiles_with_results() -> list[str]:
    root = paths.root() / "results"
    return sorted(p.parent.name for p in root.glob("*/latency.csv")) if root.exists() else []


def _read(profile: str, name: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / name
    return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else pd.DataFrame()


def _machine(profile: str) -> str:
    from study.report.plots import machine_of

    return machine_of(profile)


def cross_profile(profiles: list[str]) -> pd.DataFrame:
    """p50 at batch 1 (fewest and most threads), peak memory and energy, per profile, model and runtime."""
    rows = []
    for profile in profiles:
        latency = _read(profile, "latency.csv")
        if latency.empty:
            continue
        ok = latency[(latency["status"] == "ok") & (latency["batch"] == 1)]
        energy = _read(profile, "energy.csv")
        for (model, runtime), part in ok.groupby(["model", "runtime"]):
            low, high = part.loc[part["threads"].idxmin()], part.loc[part["threads"].idxmax()]
            row = {"profile": profile, "machine": _machine(profile), "model": model, "runtime": runtime,
                   "p50_ms_min_threads": low["p50_ms"], "min_threads": int(low["threads"]),
                   "p50_ms_max_threads": high["p50_ms"], "max_threads": int(high["threads"]),
                   "rss_peak_mib": low["rss_peak_mib"], "artifact_mb": low["artifact_bytes"] / 1e6}
            if len(energy):
                e = energy[(energy["latency_case_id"] == low["case_id"]) & (energy["status"] == "ok")]
                if len(e):
                    row["mj_per_inference"] = float(e["gross_mj_per_inference"].iloc[0])
                    row["energy"] = e["measurement"].iloc[0]
            rows.append(row)
    return pd.DataFrame(rows).round(2)




BUDGET_KEYS = ("latency_budget_ms", "size_budget_mb", "max_accuracy_drop_pp", "max_group_drop_pp")


def round_p50s(profile: str) -> dict[str, list[float]]:
    """Each case's p50 per round (its processes, in order): the paired comparisons' evidence."""
    return rounds_of_samples(_read(profile, "samples.csv"))


def comparisons(profile: str) -> pd.DataFrame:
    """``comparisons.csv``: every pair a duel judged (``study.analyze.duels``); empty when the profile had none."""
    return _read(profile, "comparisons.csv")


def duel_rows(profile: str) -> dict[tuple[str, str], dict]:
    """The pairs each duel judged (``comparisons.csv``), by (the pick's case id, the other's)."""
    table = comparisons(profile)
    return {(r["case_a"], r["case_b"]): r for r in table.to_dict("records")} if len(table) else {}


def _with_duels(candidates: list[dict], duels: dict) -> list[dict]:
    """Each candidate with the duels it took part in, ordered by them: a duel's pick keeps its p50, another contender
    sorts at the pick's p50 times its duel ratio (its rounds' p50 is still the one shown)."""
    by_case = {c.get("case_id"): c for c in candidates}
    for (pick, other), row in duels.items():
        if pick in by_case and other in by_case:
            by_case[other]["order_ms"] = by_case[pick]["p50_ms"] / float(row["ratio"])
    return [{**c, "duels": duels} for c in candidates]


def budgets(profile: str | None = None, **given) -> dict:
    """The constraints of the pick: each one ``given`` (a notebook parameter), else the default that
    params/notebooks.yaml sets for the summary notebook: the one place the default budgets are written."""
    from study.core.errors import StudyError
    from study.plan.parameters import notebook_parameters

    own = notebook_parameters(paths.notebooks_dir() / "05_summary.ipynb", profile or "")
    chosen = {}
    for key in BUDGET_KEYS:
        value = given.get(key)
        if value is None:
            if own.get(key) is None:
                raise StudyError(f"params/notebooks.yaml: 05_summary: no {key}. Fix: set the default budget there, "
                                 f"e.g. '{key}: 20.0'")
            value = own[key]
        chosen[key] = float(value)
    return chosen


def recommend(profile: str, latency_budget_ms: float, size_budget_mb: float, max_accuracy_drop_pp: float,
              max_group_drop_pp: float) -> pd.DataFrame:
    """For each zoo model (and model of your own): the runtime to ship (fastest meeting every constraint), ties, the
    runner-up and the margin.

    Zoo models run fp32; their artifacts are validated against the source model (fidelity), their accuracy is not
    measured (seeded weights), so only an artifact that failed validation breaks the accuracy constraint.
    """
    rows = []
    latency = _read(profile, "latency.csv")
    rounds, duels = round_p50s(profile), duel_rows(profile)
    if len(latency):
        ok = latency[(latency["status"] == "ok") & (latency["batch"] == 1)]
        ok = ok[ok["threads"] == ok["threads"].max()]
        for model, part in ok.groupby("model"):
            if _is_shipped(model):  # a trained file gets its own pick, with its quantized variants (recommend_shipped)
                continue
            rows.append(pick_runtime(model, f"fp32, {int(part['threads'].iloc[0])} thread(s), batch 1", _with_duels([
                {"runtime": r.runtime, "variant": r.variant, "p50_ms": r.p50_ms, "ci_low_ms": r.ci_low_ms,
                 "ci_high_ms": r.ci_high_ms, "size_mb": r.artifact_bytes / 1e6, "case_id": getattr(r, "case_id", None),
                 "drop_pp": None if r.artifact_status == "ok" else float("inf"), "group_drop_pp": None,
                 "rounds": rounds.get(getattr(r, "case_id", None)), "block": "latency"}
                for r in part.itertuples()], duels),
                latency_budget_ms, size_budget_mb, max_accuracy_drop_pp, max_group_drop_pp))
    return pd.DataFrame(rows, columns=PICK_COLUMNS)


def variant_rounds(profile: str) -> dict[tuple, list[float]]:
    """Each quantization variant's p50 per round, by (model, dataset, runtime, scheme): the variants of one model
    are timed in the same rounds (``study.measure.cases.interleaved``), so their picks are paired too."""
    from study.core.store import round_p50s as record_rounds

    store = ResultsStore(profile, records="quant_latency")
    if not store.cases_dir.exists():
        return {}
    found = {}
    for record in store.records():
        i = record.get("inputs") or {}
        if record.get("status") == "ok" and i.get("scheme"):
            found[(i.get("model"), i.get("dataset"), i.get("runtime"), i.get("scheme"))] = record_rounds(record)
    return found


def recommend_small_models(profile: str, latency_budget_ms: float, size_budget_mb: float,
                           max_accuracy_drop_pp: float, max_group_drop_pp: float) -> pd.DataFrame:
    """The same pick for the quantization study's small trained models (16x16 or 64x64, accuracy measured over seeds):
    a separate table, since these models say nothing about which runtime to ship a MobileNet on."""
    quant = _read(profile, "quant_summary.csv")
    rows = []
    rounds = variant_rounds(profile)
    if len(quant) and "p50_ms" in quant:
        good = quant[(quant["status"] == "ok") & quant["p50_ms"].notna() & quant["acc"].notna()]
        for (dataset, model), part in good.groupby(["dataset", "model"]):
            rows.append(pick_runtime(f"{model} on {dataset}", "small trained model, accuracy measured (mean over seeds)", [
                {"runtime": r.runtime, "variant": r.scheme, "p50_ms": r.p50_ms, "size_mb": r.bytes / 1e6,
                 "drop_pp": -r.delta_pp, "group_drop_pp": -r.worst_group_delta_pp,
                 "rounds": rounds.get((r.model, r.dataset, r.runtime, r.scheme)), "block": "variants"}
                for r in part.itertuples()], latency_budget_ms, size_budget_mb, max_accuracy_drop_pp,
                max_group_drop_pp))
    return pd.DataFrame(rows, columns=PICK_COLUMNS)


def recommend_shipped(profile: str, latency_budget_ms: float, size_budget_mb: float, max_accuracy_drop_pp: float,
                      max_group_drop_pp: float) -> pd.DataFrame:
    """The pick for each trained file people ship (the shipped family): fp32 in every runtime it reached
    (``latency.csv``), and its float16 and int8 variants (``quant_latency.csv``), at one thread count, batch 1.

    These files come without labelled data, so a variant's "drop" is what its task fidelity against the shipped
    fp32 file lost: 100 x (1 - fidelity) points (face boxes: F1 at IoU 0.5; text: map IoU; labels: agreement). An
    fp32 artifact counts as no drop once it passed validation, as for the zoo; a variant never judged cannot be
    picked. No groups: the group constraint does not apply. The two tables are two phases of the profile's run on
    this machine (latency, then quantization): their intervals cover process-to-process noise, not a drift of the
    machine between the phases, so a close call between a file and a variant is left a tie by the 5% margin."""
    from study.build.quant import SHIPPED

    latency, quant = _read(profile, "latency.csv"), _read(profile, "quant_latency.csv")
    rounds, duels = round_p50s(profile), duel_rows(profile)
    judged = _read(profile, "quant_shipped.csv")
    fidelity = {} if judged.empty else {(r.model, r.runtime, r.scheme): r.task_fidelity
                                       for r in judged[judged["status"] == "ok"].itertuples()}
    files = judged["model"].unique().tolist() if len(judged) else []
    fp32 = latency[(latency["status"] == "ok") & (latency["batch"] == 1)] if len(latency) else latency
    files += [m for m in (fp32["model"].unique() if len(fp32) else []) if _is_shipped(m) and m not in files]
    variants = quant[(quant["status"] == "ok") & (quant["dataset"] == SHIPPED)] if len(quant) else quant
    rows = []
    for model in files:
        mine, theirs = (fp32[fp32["model"] == model] if len(fp32) else fp32,
                        variants[variants["model"] == model] if len(variants) else variants)
        threads = mine["threads"].max() if len(mine) else theirs["threads"].max() if len(theirs) else None
        if threads is None or pd.isna(threads):
            continue
        candidates = [{"runtime": r.runtime, "variant": r.variant, "p50_ms": r.p50_ms, "ci_low_ms": r.ci_low_ms,
                       "ci_high_ms": r.ci_high_ms, "size_mb": r.artifact_bytes / 1e6,
                       "case_id": getattr(r, "case_id", None),
                       "drop_pp": None if r.artifact_status == "ok" else float("inf"), "group_drop_pp": None,
                       "rounds": rounds.get(getattr(r, "case_id", None)), "block": "latency"}
                      for r in mine[mine["threads"] == threads].itertuples()] if len(mine) else []
        reached = {c["runtime"] for c in candidates}
        for r in theirs[theirs["threads"] == threads].itertuples() if len(theirs) else []:
            if r.scheme == "fp32" and r.runtime in reached:  # the file itself in that runtime is already there
                continue
            kept = fidelity.get((model, r.runtime, r.scheme))
            candidates.append({"runtime": r.runtime, "variant": r.scheme, "p50_ms": r.p50_ms,
                               "ci_low_ms": r.ci_low_ms, "ci_high_ms": r.ci_high_ms, "size_mb": r.artifact_bytes / 1e6,
                               "drop_pp": float("inf") if kept is None or pd.isna(kept) else 100 * (1 - kept),
                               "group_drop_pp": None, "drop_of": "task fidelity",
                               "unjudged": "variant not judged by its task"})
        candidates = _with_duels(candidates, duels)
        if candidates:
            rows.append(pick_runtime(model, f"trained file, {int(threads)} thread(s), batch 1; a variant's drop is "
                                     "100 x (1 - task fidelity against the shipped fp32 file)", candidates,
                                     latency_budget_ms, size_budget_mb, max_accuracy_drop_pp, max_group_drop_pp))
    return pd.DataFrame(rows, columns=PICK_COLUMNS)


def _is_shipped(model: str) -> bool:
    from study.build.models import MODELS, get_model

    return model in MODELS and get_model(model).task is not None


PICK_COLUMNS = ["model", "ship", "variant", "p50_ms", "size_mb", "answer", "outcome", "runner_up", "margin_pct",
                "margin_low_pct", "margin_high_pct", "rounds", "misses", "basis", "reason"]


def pick_view(picks: pd.DataFrame) -> pd.DataFrame:
    """The picks as a reader scans them: one sentence per model (the runtime, and how it compares with the
    runner-up), the budgets it misses if any, and why in full."""
    return pd.DataFrame([{"model": pick["model"], "ship": pick["answer"], "p50_ms": pick["p50_ms"],
                          "rounds": pick["rounds"], "reason": pick["reason"]} for pick in picks.to_dict("records")],
                        columns=["model", "ship", "p50_ms", "rounds", "reason"])


def duels_view(profile: str) -> pd.DataFrame:
    """Every pair a duel judged, as a reader scans it: the contender's time relative to the pick with its interval
    over sets of fresh workers, the outcome, what the duel took, and the idle workers' CPU (with what guarded it)."""
    table = _read(profile, "comparisons.csv")
    columns = ["model", "threads", "pick", "contender", "time vs pick", "outcome", "sets", "cycles", "seconds",
               "idle CPU %", "guard"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    rows = [{"model": r["model"], "threads": int(r["threads"]), "pick": _label(str(r["runtime_a"])),
             "contender": _label(str(r["runtime_b"])),
             "time vs pick": f"{1 / r['ratio']:.3f}x [{1 / r['high']:.3f}, {1 / r['low']:.3f}]",
             "outcome": r["outcome"], "sets": int(r["sets"]), "cycles": int(r["cycles"]), "seconds": r["seconds"],
             "idle CPU %": round(float(r["idle_cpu_pct"]), 2)
             if float(r["idle_cpu_pct"]) <= 1.0 else f"{float(r['idle_cpu_pct']):.1f} (over 1%)",
             "guard": r["guard"]} for r in table.to_dict("records")]
    return pd.DataFrame(rows, columns=columns)


def _no_gain(drop_pp: float) -> float:
    """A drop, with gains shown as 0 (and never as -0.00)."""
    return max(drop_pp, 0.0) + 0.0


def _interval(c: dict) -> tuple[float, float]:
    low, high = c.get("ci_low_ms"), c.get("ci_high_ms")
    if low is None or high is None or low != low or high != high:
        return c["p50_ms"], c["p50_ms"]
    return float(low), float(high)


def _ms(value: float, low: float | None = None, high: float | None = None) -> str:
    """A latency as its interval supports it (three significant digits without one): never '0.00 ms'."""
    from study.report.display import decimals_for_interval, significant_decimals

    decimals = decimals_for_interval(low, high) if low is not None and high is not None else None
    return f"{value:.{significant_decimals(float(value)) if decimals is None else decimals}f}"


def versus(best: dict, other: dict):
    """``best`` against ``other``: from their duel when they met in one (``comparisons.csv``), else paired over the
    rounds both were timed in when they come from the same table's rounds, else from their intervals alone (faster
    when they separate, otherwise undetermined)."""
    from study.analyze.comparisons import compare, unpaired

    from study.analyze.comparisons import flipped, from_row

    a, b = _name(best), _name(other)
    duels, pair = best.get("duels") or {}, (best.get("case_id"), other.get("case_id"))
    if pair in duels:  # judged in a duel: contenders timed in interleaved bursts by workers that stay loaded
        return from_row(duels[pair], a, b)
    if pair[::-1] in duels:
        return flipped(from_row(duels[pair[::-1]], b, a))
    if best.get("rounds") and other.get("rounds") and best.get("block") == other.get("block"):
        n = min(len(best["rounds"]), len(other["rounds"]))
        if n >= 2:
            return compare(a, b, best["rounds"][:n], other["rounds"][:n])
    return unpaired(a, b, best["p50_ms"], *_interval(best), other["p50_ms"], *_interval(other))


def _name(c: dict) -> str:
    return f"{c['runtime']} {c['variant']}"


def pick_runtime(model: str, basis: str, candidates: list[dict], latency_budget: float, size_budget: float,
                 max_drop: float, max_group_drop: float) -> dict:
    """The runtime to ship: the fastest candidate meeting every constraint, compared with each other one (paired
    rounds where they share them). When none meets them all, the fastest with what it misses: a budget the model
    cannot meet does not hide the answer."""
    def problems(c):
        found = []
        if c["p50_ms"] > latency_budget:
            found.append(f"p50 {_ms(c['p50_ms'])} ms > {latency_budget:g} ms")
        if c["size_mb"] > size_budget:
            found.append(f"{c['size_mb']:.2f} MB > {size_budget:g} MB")
        if c.get("drop_pp") is not None and c["drop_pp"] == float("inf"):
            found.append(c.get("unjudged", "artifact failed validation against its source model"))
        elif c.get("drop_pp") is not None and c["drop_pp"] > max_drop:
            found.append(f"{c.get('drop_of', 'accuracy')} -{c['drop_pp']:.2f} pp > {max_drop:g} pp")
        if c.get("group_drop_pp") is not None and c["group_drop_pp"] > max_group_drop:
            found.append(f"worst group -{c['group_drop_pp']:.2f} pp > {max_group_drop:g} pp")
        return found

    ranked = sorted(candidates, key=lambda c: (c.get("order_ms", c["p50_ms"]), c["size_mb"]))
    passing = [c for c in ranked if not problems(c)]
    pool = passing or [c for c in ranked if c.get("drop_pp") != float("inf")] or ranked
    best, others = pool[0], pool[1:]
    misses = "; ".join(problems(best))
    distinct = len({c["runtime"] for c in pool}) == len(pool)  # one variant per runtime: the runtime names it

    def label(name: str) -> str:
        return _label(name.partition(" ")[0] if distinct else name)

    compared = [(c, versus(best, c)) for c in others]
    if best.get("drop_pp") is None:
        accuracy = "fidelity-checked against its source, accuracy not measured"
    elif best.get("group_drop_pp") is None:
        accuracy = f"{best.get('drop_of', 'accuracy')} drop {_no_gain(best['drop_pp']):.2f} pp"
    else:
        accuracy = (f"accuracy drop {_no_gain(best['drop_pp']):.2f} pp (worst group "
                    f"{_no_gain(best['group_drop_pp']):.2f} pp)")
    low, high = _interval(best)
    bounds = (low, high) if high > low else (None, None)
    interval = f" [95% CI {_ms(low, *bounds)}, {_ms(high, *bounds)}]" if high > low else ""
    which = (f"fastest of {len(passing)} of {len(candidates)} candidates meeting every constraint" if passing else
             f"no candidate meets every constraint; the fastest misses: {misses}")
    reason = f"{which}: p50 {_ms(best['p50_ms'], *bounds)} ms{interval}, {_ms(best['size_mb'])} MB, {accuracy}"
    if compared:  # the runner-up alone: every contender's ratio to the pick is the duel figure's and table's
        reason += "; " + compared[0][1].sentence(label)
    row = {"model": model, "ship": best["runtime"], "variant": best["variant"], "p50_ms": best["p50_ms"],
           "size_mb": best["size_mb"], "outcome": "", "runner_up": "", "margin_pct": None, "margin_low_pct": None,
           "margin_high_pct": None, "rounds": 0, "misses": misses, "basis": basis}
    if compared:
        runner, comparison = compared[0]
        row.update(outcome=comparison.outcome, runner_up=_name(runner), rounds=comparison.rounds,
                   margin_pct=100 * (1 / comparison.ratio - 1),
                   margin_low_pct=100 * (1 / comparison.high - 1) if comparison.high < float("inf") else None,
                   margin_high_pct=100 * (1 / comparison.low - 1) if comparison.low > 0 else None)
        row["answer"] = f"{label(_name(best))}, {comparison.short(label)}"
    else:
        row["answer"] = f"{label(_name(best))}, the only candidate"
    if misses:
        row["answer"] += f"; misses the budgets: {misses}"
    row["reason"] = reason
    return row


def _label(runtime: str) -> str:
    """A runtime's name as a reader knows it, with the variant after it where a tie names one."""
    from study.report.plots import runtime_label

    name, _, variant = runtime.partition(" ")
    return runtime_label(name) + (f" {variant}" if variant else "")


def _fastest(part: pd.DataFrame, rounds: dict[str, list[float]] | None = None) -> list[str]:
    """The fastest runtime of one setting and every runtime it is not shown faster than: paired over their rounds
    where the samples hold them, as the picks are (``versus``), else by their intervals."""
    rows = [{**r, "variant": "", "rounds": (rounds or {}).get(r.get("case_id")), "block": r.get("profile")}
            for r in part.sort_values("p50_ms").to_dict("records")]
    from study.analyze.comparisons import FASTER

    return [r["runtime"] for r in rows if r is rows[0] or versus(rows[0], r).outcome != FASTER]


def _ok_batch1(profile: str) -> pd.DataFrame:
    latency = _read(profile, "latency.csv")
    if latency.empty:
        return latency
    return latency[(latency["status"] == "ok") & (latency["batch"] == 1)]


def findings(profiles: list[str]) -> list[str]:
    """Three to five sentences a reader should take away, each computed from the measurements it cites."""
    found = []
    settings = pd.concat([_ok_batch1(p).assign(profile=p) for p in profiles if len(_ok_batch1(p))],
                         ignore_index=True) if profiles else pd.DataFrame()
    if settings.empty:
        return found
    rounds = {case: p50s for p in profiles for case, p50s in round_p50s(p).items()}  # paired within a profile
    # the largest gap between two runtimes on one model and setting
    gaps = []
    for (profile, model, threads), part in settings.groupby(["profile", "model", "threads"]):
        if part["runtime"].nunique() > 1:
            fast, slow = part.loc[part["p50_ms"].idxmin()], part.loc[part["p50_ms"].idxmax()]
            gaps.append((slow["p50_ms"] / fast["p50_ms"], profile, model, threads, fast, slow))
    if gaps:
        ratio, profile, model, threads, fast, slow = max(gaps, key=lambda g: g[0])
        found.append(f"The largest gap: on {model} ({profile}, {threads} thread(s)), {_label(slow['runtime'])} takes "
                     f"{ratio:.1f}x the p50 of {_label(fast['runtime'])} ({_ms(slow['p50_ms'])} vs "
                     f"{_ms(fast['p50_ms'])} ms).")
    # whether the fastest runtime depends on the model
    for profile, part in settings.groupby("profile"):
        top = part[part["threads"] == part["threads"].max()]
        fastest = {model: _fastest(rows, rounds) for model, rows in top.groupby("model")
                   if rows["runtime"].nunique() > 1}
        if len(fastest) < 2:
            continue
        common = set.intersection(*(set(v) for v in fastest.values()))
        if common:
            names = " and ".join(_label(r) for r in sorted(common))
            found.append(f"{names} is fastest (or not shown slower than the fastest) on every model of {profile} "
                         f"({len(fastest)} models, {int(top['threads'].max())} thread(s)).")
        else:
            per_model = "; ".join(f"{model}: {', '.join(_label(r) for r in runtimes)}"
                                  for model, runtimes in fastest.items())
            found.append(f"The fastest runtime depends on the model ({profile}, {int(top['threads'].max())} "
                         f"thread(s); runtimes not told apart listed together): {per_model}.")
        break  # one profile is enough: the ranking per model is the point, not its repetition
    # whether the ranking changes with the thread count, on one machine (profiles measured on the same machine)
    for (machine, model), part in settings.groupby(["machine", "model"]):
        counts = sorted(part["threads"].unique())
        if len(counts) < 2:
            continue
        low = part[part["threads"] == counts[0]].drop_duplicates("runtime")
        high = part[part["threads"] == counts[-1]].drop_duplicates("runtime")
        both = sorted(set(low["runtime"]) & set(high["runtime"]))
        if len(both) < 2:
            continue
        low, high = low[low["runtime"].isin(both)], high[high["runtime"].isin(both)]
        scaling = {r: float(low.loc[low["runtime"] == r, "p50_ms"].iloc[0] / high.loc[high["runtime"] == r, "p50_ms"].iloc[0])
                   for r in both}
        first, last = _fastest(low, rounds), _fastest(high, rounds)
        change = ("the fastest stays " + ", ".join(map(_label, first)) if set(first) & set(last) else
                  f"the fastest changes from {', '.join(map(_label, first))} to {', '.join(map(_label, last))}")
        best, worst = max(scaling, key=scaling.get), min(scaling, key=scaling.get)
        slower = [r for r, x in scaling.items() if x < 1]
        found.append(f"From {counts[0]} to {counts[-1]} threads on {model}, {change}; the speed-up from the extra "
                     f"threads ranges from {scaling[worst]:.2f}x ({_label(worst)}) to {scaling[best]:.2f}x "
                     f"({_label(best)})" + (f"; {', '.join(map(_label, slower))} got slower with more threads"
                                            if slower else "") + ".")
        break
    # what int8 bought, on the models it was measured on
    for profile in profiles:
        quant = _read(profile, "quant_summary.csv")
        if quant.empty or "speedup" not in quant:
            continue
        int8 = quant[(quant["status"] == "ok") & (quant["precision"] == "int8") & quant["speedup"].notna()]
        full = int8[int8["dataset"] == "zoo"]
        if len(full):
            best = full.loc[full["speedup"].idxmax()]
            found.append(f"int8 on the full-size zoo models of {profile} ({len(full)} variants, 224x224): median "
                         f"speed {full['speedup'].median():.2f}x its fp32 twin (best {best['speedup']:.2f}x, "
                         f"{best['model']} {_label(best['runtime'])} {best['scheme']}), files "
                         f"{full['size_reduction_pct'].median():.0f}% smaller, top-1 agreement with fp32 median "
                         f"{100 * full['top1_agreement'].median():.0f}% (fidelity: seeded weights, no accuracy); CPU "
                         f"{best['cpu_isa']}.")
            break
        int8 = int8[int8["dataset"] != "zoo"]
        if int8.empty:
            continue
        best = int8.loc[int8["speedup"].idxmax()]
        sides = "/".join(f"{int(x)}x{int(x)}" for x in sorted(set(int8["input_side"].fillna(16)))) \
            if "input_side" in int8 else "16x16"
        found.append(f"int8 on the small trained models of {profile} ({len(int8)} variants, {sides} inputs): median "
                     f"speed {int8['speedup'].median():.2f}x its fp32 twin (best {best['speedup']:.2f}x, "
                     f"{_label(best['runtime'])} {best['scheme']}), files {int8['size_reduction_pct'].median():.0f}% "
                     f"smaller, accuracy change median {int8['delta_pp'].median():+.2f} pp. Models this small say "
                     "little about int8 on a MobileNet.")
        break
    # memory: what the lightest and the heaviest runtime cost for the same model
    top = settings[settings["profile"] == settings["profile"].iloc[0]]
    memory = [(part.loc[part["rss_peak_mib"].idxmax()], part.loc[part["rss_peak_mib"].idxmin()], model)
              for model, part in top.groupby("model") if part["runtime"].nunique() > 1]
    if memory:
        heavy, light, model = max(memory, key=lambda m: m[0]["rss_peak_mib"] / m[1]["rss_peak_mib"])
        found.append(f"Memory: running {model} peaks at {light['rss_peak_mib']:.0f} MiB in {_label(light['runtime'])} "
                     f"and {heavy['rss_peak_mib']:.0f} MiB in {_label(heavy['runtime'])} (whole process, imports "
                     "included).")
    return found[:5]
