"""The source articles' claims, each checked against this study's measurements of one profile.

Every row: the claim, the article file and its words, what this study measured (row by row, with intervals), and
one of study.analyze.verdicts' five outcomes with why. Absolute numbers from other hardware are not comparable; what is
testable here is orderings, ratios and mechanisms on the same models.
"""

from __future__ import annotations

import pandas as pd

from study.core import paths
from study.analyze import verdicts
from study.analyze.comparisons import compare
from study.analyze.duels import pair_of
from study.core.store import ResultsStore, rounds_of_samples

ARTICLES = {
    "dzone": "seeds/003_bb273c41eec2ae25.txt",
    "tflite_vs_mobile": "seeds/001_2963fdab397e4e7d.txt",
}
COLUMNS = ["claim", "article", "quote", "measured", "verdict", "why"]
ORDER = ["litert", "onnxruntime", "torchscript_lite"]  # TFLite, ONNX Runtime, PyTorch Mobile in the article
MEMORY_MARGIN = 0.10


def _read(profile: str, name: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / name
    return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else pd.DataFrame()


def check_claims(profile: str) -> pd.DataFrame:
    rows = []

    def add(claim, article, quote, measured, verdict, why):
        rows.append(dict(zip(COLUMNS, (claim, ARTICLES[article], quote, measured, verdict, why))))

    latency = _read(profile, "latency.csv")
    ok = latency[latency["status"] == "ok"] if len(latency) else latency
    if len(ok) and "artifact_status" in ok:
        ok = ok[ok["artifact_status"] == "ok"]  # an artifact that failed validation never counts
    if len(ok):
        ok = ok[(ok["batch"] == 1) & (ok["threads"] == ok["threads"].min())]
    quote = "TensorFlow Lite 23ms, ONNX Runtime 31ms, PyTorch Mobile 38ms (Samsung S21, image classification)"
    by_round = rounds_of_samples(_read(profile, "samples.csv"))
    judged = _read(profile, "comparisons.csv")
    duels = {(r["case_a"], r["case_b"]): r for r in judged.to_dict("records")} if len(judged) else {}
    for model in sorted(set(ok["model"])) if len(ok) else []:
        part = ok[ok["model"] == model].set_index("runtime")
        if not all(r in part.index for r in ORDER):
            continue
        rounds = {r: by_round.get(part.at[r, "case_id"], []) if "case_id" in part else [] for r in ORDER}
        paired = {}
        for a, b in zip(ORDER, ORDER[1:]):
            n = min(len(rounds[a]), len(rounds[b]))
            duelled = pair_of(duels, part.at[a, "case_id"], part.at[b, "case_id"], a, b) if "case_id" in part else None
            if duelled is not None:  # judged in a duel: kept-loaded workers in interleaved bursts
                paired[(a, b)] = duelled
            elif n >= 2:
                paired[(a, b)] = compare(a, b, rounds[a][:n], rounds[b][:n])
        found = verdicts.order(ORDER, {r: (part.at[r, "p50_ms"], part.at[r, "ci_low_ms"], part.at[r, "ci_high_ms"])
                                       for r in ORDER}, paired=paired)
        add(f"latency order TFLite < ONNX Runtime < PyTorch Mobile ({model})", "dzone", quote,
            "p50 ms, 95% CI: " + found.why, found.outcome,
            "p50, batch 1, fewest threads of the profile; TorchScript lite interpreter = PyTorch Mobile; a step "
            "counts when its duel (or its paired rounds) decides it, else when the intervals separate; the article timed "
            "a phone, this an x86 server CPU, so only "
            "the order is judged, never the milliseconds")
        if model == "mobilenet_v2" or model == sorted(set(ok["model"]))[0]:
            for label, what in [("what the model costs", "model_cost_mib"), ("whole process", "rss_peak_mib")]:
                costs = part.get("load_above_import_mib", pd.Series(dtype=float)) \
                    + part.get("inference_above_load_mib", pd.Series(dtype=float))
                values = (costs if what == "model_cost_mib" else part["rss_peak_mib"]).to_dict()
                if not all(pd.notna(values.get(r)) for r in ORDER):
                    continue
                found = verdicts.order(ORDER, {r: (values[r],) * 3 for r in ORDER}, margin=MEMORY_MARGIN)
                add(f"memory order 89 < 112 < 126 MB ({model}, {label})", "dzone",
                    "Memory Usage: TensorFlow Lite 89MB, ONNX Runtime 112MB, PyTorch Mobile 126MB",
                    "MiB: " + found.why, found.outcome,
                    ("load above import plus inference above load, worst process: what the model costs, without "
                     "the framework's import" if what == "model_cost_mib" else
                     "peak resident memory of the whole process (VmHWM), Python and the framework's import included")
                    + f"; a step counts when it passes {100 * MEMORY_MARGIN:g}% (memory peaks carry no interval)")
    conversions = _read(profile, "conversions.csv")
    if len(conversions) and {"target", "bytes"} <= set(conversions.columns):
        good = conversions[conversions["status"] == "ok"]
        pairs = []
        for model, part in good.groupby("model"):
            sizes = part.set_index("target")["bytes"].to_dict()
            if "torchscript" in sizes and "tflite" in sizes:
                pairs.append((model, sizes["torchscript"] / 1e6, sizes["tflite"] / 1e6))
        if pairs:
            judged = [(m, verdicts.about(3.0, 0.2, t / l, t / l, t / l, "x")) for m, t, l in pairs]
            counts = pd.Series([v.outcome for _, v in judged]).value_counts()
            add("PyTorch Mobile model 12 MB vs TFLite 4 MB", "dzone",
                "a simple classification model was 12MB in PyTorch Mobile but only 4MB in TFLite",
                "; ".join(f"{m}: TorchScript {t:.2f} MB vs TFLite {l:.2f} MB, {v.why} → {v.outcome}"
                          for (m, t, l), (_, v) in zip(pairs, judged)),
                counts.index[0] if len(counts) == 1 or counts.iloc[0] > counts.iloc[1] else verdicts.NOT_DETECTED,
                "same model, fp32, both formats, ratio against the article's 3x (± 20%); a 3x gap is what int8 "
                "quantization gives (see the quantization notebook), not the format")
    if len(ok) and "native_lib_mib" in ok:
        litert = ok.loc[ok["runtime"] == "litert", "native_lib_mib"]
        add("TFLite binary as small as 300 KB", "tflite_vs_mobile",
            "Its key features include a small binary size (as small as 300KB)",
            f"the ai-edge-litert wheel's interpreter maps {litert.max():.1f} MiB of native libraries here"
            if len(litert) else "not measured", "not testable here",
            "300 KB is a selective build for a mobile app with only the model's ops; building one needs the Android "
            "or iOS toolchain, which this study does not run. The Python wheel is the full runtime")
    energy = _read(profile, "energy.csv")
    if len(energy):
        e = energy[(energy["status"] == "ok") & (energy["batch"] == 1)]
        e = e[e["threads"] == e["threads"].min()]
        for label, kind in e.groupby("measurement"):  # measured and modelled energy are never pooled
            part = kind.groupby("runtime")[["gross_mj_per_inference", "gross_mj_per_inference_ci_low",
                                            "gross_mj_per_inference_ci_high"]].mean()
            if not all(r in part.index for r in ORDER):
                continue
            text = "Battery Impact: Low / Medium / Medium-High"
            claim = "battery impact Low (TFLite) < Medium (ONNX Runtime) < Medium-High (PyTorch Mobile)"
            if label == "modelled":
                add(claim + " (modelled)", "dzone", text, ", ".join(
                    f"{r} {part.at[r, 'gross_mj_per_inference']:.1f} mJ/inference" for r in ORDER) + " (modelled)",
                    verdicts.NOT_TESTABLE, "battery drain needs a measured source (a meter or RAPL); on this machine "
                    "energy is modelled from CPU time, shown for its ranking only")
                continue
            found = verdicts.order(ORDER, {r: tuple(part.loc[r]) for r in ORDER})
            add(claim + f" ({label})", "dzone", text, "mJ/inference, 95% CI: " + found.why, found.outcome,
                f"mean gross energy per inference, {label}; a step counts only when the intervals separate")
    quant = _read(profile, "quant_claims.csv")
    for row in quant.itertuples() if len(quant) else []:
        add(row.claim, "dzone", row.quote, row.measured, row.verdict, row.how)
    return pd.DataFrame(rows, columns=COLUMNS)


def check_all(profiles: list[str]) -> pd.DataFrame:
    tables = [check_claims(p).assign(profile=p) for p in profiles if paths.results_dir(p).exists()]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*COLUMNS, "profile"])
