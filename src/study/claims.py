"""The source articles' claims, each checked against this study's measurements of one profile.

Every row: the claim, the article file and its words, what this study measured, and a verdict:
supported, contradicted, or not testable here (with why). Absolute numbers from other hardware are not
comparable; what is testable here is orderings, ratios and mechanisms on the same models.
"""

from __future__ import annotations

import pandas as pd

from study import paths
from study.results import ResultsStore

ARTICLES = {
    "dzone": "seeds/003_bb273c41eec2ae25.txt",
    "tflite_vs_mobile": "seeds/001_2963fdab397e4e7d.txt",
}
COLUMNS = ["claim", "article", "quote", "measured", "verdict", "why"]
ORDER = ["litert", "onnxruntime", "torchscript_lite"]  # TFLite, ONNX Runtime, PyTorch Mobile in the article


def _read(profile: str, name: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / name
    return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else pd.DataFrame()


def _ordering(values: dict[str, float]) -> bool:
    return all(values[a] < values[b] for a, b in zip(ORDER, ORDER[1:]))


def check_claims(profile: str) -> pd.DataFrame:
    rows = []

    def add(claim, article, quote, measured, verdict, why):
        rows.append(dict(zip(COLUMNS, (claim, ARTICLES[article], quote, measured, verdict, why))))

    latency = _read(profile, "latency.csv")
    ok = latency[latency["status"] == "ok"] if len(latency) else latency
    if len(ok):
        ok = ok[(ok["batch"] == 1) & (ok["threads"] == ok["threads"].min())]
    quote = "TensorFlow Lite 23ms, ONNX Runtime 31ms, PyTorch Mobile 38ms (Samsung S21, image classification)"
    for model in sorted(set(ok["model"])) if len(ok) else []:
        p50 = ok[ok["model"] == model].set_index("runtime")["p50_ms"].to_dict()
        if not all(r in p50 for r in ORDER):
            continue
        measured = ", ".join(f"{r} {p50[r]:.1f} ms" for r in ORDER) + \
            f" (ratios {p50['onnxruntime'] / p50['litert']:.2f} and {p50['torchscript_lite'] / p50['litert']:.2f}; " \
            "article 1.35 and 1.65)"
        add(f"latency order TFLite < ONNX Runtime < PyTorch Mobile ({model})", "dzone", quote, measured,
            "supported" if _ordering(p50) else "contradicted",
            "p50, batch 1, fewest threads of the profile; TorchScript lite interpreter = PyTorch Mobile; absolute "
            "milliseconds are hardware-specific, the order is what transfers")
        if model == "mobilenet_v2" or model == sorted(set(ok["model"]))[0]:
            rss = ok[ok["model"] == model].set_index("runtime")["rss_peak_mib"].to_dict()
            add(f"memory order 89 < 112 < 126 MB ({model})", "dzone",
                "Memory Usage: TensorFlow Lite 89MB, ONNX Runtime 112MB, PyTorch Mobile 126MB",
                ", ".join(f"{r} {rss[r]:.0f} MiB" for r in ORDER),
                "supported" if _ordering(rss) else "contradicted",
                "peak resident memory of each case's own process (VmHWM), Python interpreter included")
    conversions = _read(profile, "conversions.csv")
    if len(conversions) and {"target", "bytes"} <= set(conversions.columns):
        good = conversions[conversions["status"] == "ok"]
        pairs = []
        for model, part in good.groupby("model"):
            sizes = part.set_index("target")["bytes"].to_dict()
            if "torchscript" in sizes and "tflite" in sizes:
                pairs.append((model, sizes["torchscript"] / 1e6, sizes["tflite"] / 1e6))
        if pairs:
            ratio = [t / l for _, t, l in pairs]
            add("PyTorch Mobile model 12 MB vs TFLite 4 MB", "dzone",
                "a simple classification model was 12MB in PyTorch Mobile but only 4MB in TFLite",
                "; ".join(f"{m}: {t:.2f} vs {l:.2f} MB" for m, t, l in pairs[:4]) +
                f" (TorchScript/TFLite {min(ratio):.2f}-{max(ratio):.2f}x over {len(pairs)} models)",
                "contradicted" if max(ratio) < 1.5 else "supported",
                "same model, fp32, both formats: a 3x gap is what int8 quantization gives (see the quantization "
                "notebook), not the format")
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
        mean = e.groupby("runtime")["gross_mj_per_inference"].mean().to_dict()
        if all(r in mean for r in ORDER):
            label = ", ".join(sorted(set(e["measurement"])))
            add("battery impact Low (TFLite) < Medium (ONNX Runtime) < Medium-High (PyTorch Mobile)", "dzone",
                "Battery Impact: Low / Medium / Medium-High",
                ", ".join(f"{r} {mean[r]:.1f} mJ/inference" for r in ORDER) + f" ({label})",
                "not testable here" if label == "modelled" else ("supported" if _ordering(mean) else "contradicted"),
                "battery drain needs a measured source (a meter or RAPL); on this machine energy is modelled from CPU "
                "time, shown for its ranking only" if label == "modelled" else "mean gross energy per inference")
    quant = _read(profile, "quant_claims.csv")
    for row in quant.itertuples() if len(quant) else []:
        add(row.claim, "dzone", row.quote, row.measured, row.verdict, row.how)
    return pd.DataFrame(rows, columns=COLUMNS)


def check_all(profiles: list[str]) -> pd.DataFrame:
    tables = [check_claims(p).assign(profile=p) for p in profiles if paths.results_dir(p).exists()]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*COLUMNS, "profile"])
