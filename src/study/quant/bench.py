"""The quantization study of a profile: build records, speed records, and the tables made from them.

- ``results/<p>/quant/<id>.json``: one (dataset, model, seed): the trained model's test predictions
  and those of every variant in its runtime (or the variant's error). Its id hashes the dataset, model,
  seed, epochs and the study's quantization code, so a rerun trains nothing already trained.
- ``results/<p>/quant_speed/<id>.json``: the latency samples of one variant (first dataset, seed 0),
  measured with the inference-time harness in a fresh pinned process.
- ``quant_groups.csv`` (per variant, seed, group) and ``quant_summary.csv`` (per variant) are rebuilt
  from the records; ``quant_claims.csv`` checks the source article's claims against them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from study import environment, paths
from study.errors import StudyError
from study.fsutil import write_json_atomic, write_text_atomic
from study.isolate import run_isolated
from study.measure import HARNESS_VERSION, summarize
from study.profiles import Profile
from study.quant import metrics
from study.quant.nets import QUANT_MODELS
from study.quant.quantizers import VARIANTS
from study.results import ResultsStore, _display, _to_csv

QUANT_VERSION = 1


MEASURING_CODE = ("datasets.py", "nets.py", "quantizers.py", "build.py")  # tables and figures never re-measure


def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in MEASURING_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def _dataset_hash(ref: str) -> str:
    path = Path(ref) if Path(ref).is_absolute() else paths.root() / ref
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.suffix == ".csv" and path.is_file() else ref


def jobs(profile: Profile) -> list[dict]:
    q = profile.quantization
    planned = []
    for dataset in q.datasets:
        for model in q.models:
            for seed in range(q.seeds):
                inputs = {"dataset": dataset, "dataset_hash": _dataset_hash(dataset), "model": model, "seed": seed,
                          "epochs": q.epochs, "code": _code_hash(), "version": QUANT_VERSION,
                          "versions": environment.versions(["torch", "tensorflow", "onnxruntime", "executorch",
                                                            "ai-edge-litert"])}
                job_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
                planned.append({"id": job_id, "inputs": inputs})
    return planned


def bench_quantization(profile: Profile, force: bool = False, progress: bool = True, say=tqdm.write) -> list[str]:
    """Train, quantize and evaluate what is missing; then time every variant; rewrite the tables."""
    store = ResultsStore(profile.name, records="quant")
    planned = jobs(profile)
    pending = [j for j in planned if force or store.get(j["id"]) is None]
    threads = len(profile.allowed_cpus())
    say(f"[{profile.name}] quantization: {len(planned)} (dataset, model, seed) builds, {len(pending)} to run")
    for job in tqdm(pending, desc=f"{profile.name}: quantization", unit="model", disable=None if progress else True):
        i = job["inputs"]
        say(f"[{profile.name}] training {i['model']} on {i['dataset']} (seed {i['seed']}), then every variant")
        directory = paths.artifacts_dir() / "quant" / job["id"]
        cached = directory / "build.json"
        if cached.exists() and not force:  # built for another profile of this machine: same inputs, same record
            result = json.loads(cached.read_text())
        else:
            spec = {"kind": "quant_build", "dataset": i["dataset"], "model": i["model"], "seed": i["seed"],
                    "epochs": i["epochs"], "threads": threads, "cpus": list(profile.allowed_cpus()),
                    "directory": str(directory)}
            result = run_isolated(spec, 3600, threads=threads,
                                  log_path=store.directory / "logs" / f"quant-{job['id']}.log")
            if result["status"] == "ok":
                write_json_atomic(cached, result)
        store.put({"case_id": job["id"], "status": result["status"], "inputs": i, "error": result.get("error", ""),
                   "build": result.get("record"), "machine": environment.machine_name(),
                   "measured_at": environment.utc_now()})
        built = result.get("record") or {}
        failed = [k for k, v in built.get("variants", {}).items() if v["status"] != "ok"]
        say(f"[{profile.name}]   {result['status']}" + (f": {result.get('error')}" if result["status"] != "ok" else
            f", {len(built.get('variants', {})) - len(failed)} variants ok" + (f", failed: {failed}" if failed else "")))
    measured = [j["id"] for j in pending] + bench_speed(profile, planned, force, progress, say)
    tables_key = _tables_key(profile, planned)
    key_file = store.directory / "quant_tables.key"
    if measured or not key_file.exists() or key_file.read_text() != tables_key:
        write_tables(profile)  # the bootstraps take a while: only when a record or the table code changed
        write_text_atomic(key_file, tables_key)
    return measured


def _tables_key(profile: Profile, planned: list[dict]) -> str:
    digest = hashlib.sha256()
    for name in ("bench.py", "metrics.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    digest.update(json.dumps(sorted(j["id"] for j in planned)).encode())
    for directory in ("quant", "quant_speed"):
        for record in sorted((ResultsStore(profile.name).directory / directory).glob("*.json")):
            digest.update(f"{record.name}:{record.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


def bench_speed(profile: Profile, planned: list[dict], force: bool, progress: bool, say) -> list[str]:
    """Latency of every variant of the first dataset's seed-0 models (speed does not depend on the weights)."""
    store = ResultsStore(profile.name, records="quant_speed")
    builds = ResultsStore(profile.name, records="quant")
    threads = min(profile.resolved_threads())
    timing = {k: getattr(profile.timing, k) for k in ("warmup_runs", "warmup_seconds", "min_runs", "min_seconds",
                                                      "max_seconds", "target_ci")}
    todo = []
    for job in planned:
        i = job["inputs"]
        if i["seed"] != 0 or i["dataset"] != profile.quantization.datasets[0]:
            continue
        record = builds.get(job["id"])
        for key, variant in ((record or {}).get("build") or {}).get("variants", {}).items():
            if variant["status"] != "ok" or not Path(variant["path"]).exists():
                continue
            sha = hashlib.sha256(Path(variant["path"]).read_bytes()).hexdigest()
            inputs = {"artifact": sha, "runtime": variant["runtime"], "threads": threads, "timing": timing,
                      "harness": HARNESS_VERSION, "cpus": list(profile.allowed_cpus())}
            speed_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
            if force or store.get(speed_id) is None:
                todo.append((speed_id, inputs, i, key, variant, record["build"]))
    for speed_id, inputs, i, key, variant, build in tqdm(todo, desc=f"{profile.name}: variant latency", unit="case",
                                                         disable=None if progress else True):
        say(f"[{profile.name}] timing {i['model']} {key}")
        spec = {"kind": "quant_speed", "artifact": variant["path"], "runtime": variant["runtime"],
                "framework": build["framework"], "channels": _channels(build), "threads": threads,
                "cpus": list(profile.allowed_cpus()), "timing": timing}
        result = run_isolated(spec, 2 * timing["max_seconds"] + 300, threads=threads)
        store.put({"case_id": speed_id, "status": result["status"], "inputs": inputs, "model": i["model"],
                   "dataset": i["dataset"], "variant": key, "error": result.get("error", ""),
                   "samples_ms": result.get("samples_ms"), "warmup_ms": result.get("warmup_ms"),
                   "machine": environment.machine_name(), "measured_at": environment.utc_now()})
    return [t[0] for t in todo]


def _channels(build: dict) -> int:
    return 1 if build["dataset"] == "digits" else 3


# --- tables ---------------------------------------------------------------------------------------

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


def speeds(profile: Profile) -> pd.DataFrame:
    store = ResultsStore(profile.name, records="quant_speed")
    rows = []
    for record in store.records():
        if record["status"] != "ok":
            continue
        runtime, scheme = record["variant"].split("/")
        rows.append({"model": record["model"], "runtime": runtime, "scheme": scheme,
                     **{k: v for k, v in summarize(record["samples_ms"], batch=1).items()
                        if k in ("p50_ms", "ci_low_ms", "ci_high_ms", "n_runs")}})
    return pd.DataFrame(rows, columns=["model", "runtime", "scheme", "p50_ms", "ci_low_ms", "ci_high_ms", "n_runs"])


def attribute(group_by: list[str]) -> str:
    """The appearance attribute of a dataset (ink, tone, group), else class."""
    others = [g for g in group_by if g != "class"]
    return others[0] if others else "class"


def summary_rows(profile: Profile, groups: pd.DataFrame, speed: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model, variant): means over seeds, worst group, gap, CIEs, Welch, size, speed."""
    rows = []
    builds = [r for r in _builds(profile) if r["status"] == "ok" and r.get("build")]
    keys = sorted({(b["build"]["dataset"], b["build"]["model"], k) for b in builds for k in b["build"]["variants"]})
    for dataset, model, key in keys:
        population = [b["build"] for b in builds if b["build"]["dataset"] == dataset and b["build"]["model"] == model]
        variant = VARIANTS[key]
        entries = [(p, p["variants"].get(key, {}), p["variants"].get(variant.twin, {})) for p in population]
        ok = [(p, e, t) for p, e, t in entries if e.get("status") == "ok" and t.get("status") == "ok"]
        row = {"dataset": dataset, "model": model, "runtime": variant.runtime, "scheme": variant.scheme,
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
            mine = speed[(speed["model"] == model) & (speed["runtime"] == variant.runtime)]
            p50 = mine.loc[mine["scheme"] == variant.scheme, "p50_ms"]
            p50_fp = mine.loc[mine["scheme"] == "fp32", "p50_ms"]
            if len(p50) and len(p50_fp):
                row.update({"p50_ms": float(p50.iloc[0]), "p50_fp32_ms": float(p50_fp.iloc[0]),
                            "speedup": float(p50_fp.iloc[0] / p50.iloc[0])})
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


SUMMARY_COLUMNS = ["dataset", "model", "runtime", "scheme", "precision", "seeds", "status", "error", "group_by",
                   "acc_fp32", "acc", "delta_pp", "worst_group", "worst_group_delta_pp", "worst_group_delta_ci_high_pp", "gap_fp32_pp", "gap_pp",
                   "flip_rate", "cie_count", "welch_t", "welch_p", "welch_p_worst_group", "bytes_fp32", "bytes",
                   "size_reduction_pct", "p50_ms", "p50_fp32_ms", "speedup"]


def write_tables(profile: Profile) -> dict[str, pd.DataFrame]:
    directory = ResultsStore(profile.name).directory
    groups = group_rows(profile)
    speed = speeds(profile)
    summary = summary_rows(profile, groups, speed)
    claims = article_claims(summary)
    for name, table in (("quant_groups", groups), ("quant_summary", summary), ("quant_speed", speed),
                        ("quant_claims", claims)):
        write_text_atomic(directory / f"{name}.csv", _to_csv(table))
    return {"groups": groups, "summary": summary, "speed": speed, "claims": claims}


def load_tables(profile: str) -> dict[str, pd.DataFrame]:
    directory = ResultsStore(profile).directory
    path = directory / "quant_summary.csv"
    if not path.exists():
        raise StudyError(f"{_display(path)}: no quantization results yet. Fix: python -m study bench --profile {profile}")
    return {name: pd.read_csv(directory / f"quant_{name}.csv", keep_default_na=False, na_values=[""])
            for name in ("groups", "summary", "speed", "claims")}


# --- the article's claims -------------------------------------------------------------------------

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
    columns = ["dataset", "model", "runtime", "scheme", "seeds", "acc_fp32", "acc", "delta_pp", "worst_group",
               "worst_group_delta_pp", "gap_fp32_pp", "gap_pp", "flip_rate", "cie_count", "welch_p",
               "size_reduction_pct", "speedup"]
    ok = summary[summary["status"] == "ok"]
    return ok[[c for c in columns if c in ok]].round(4).reset_index(drop=True)


def failures(summary: pd.DataFrame) -> pd.DataFrame:
    if "status" not in summary:
        return pd.DataFrame(columns=["dataset", "model", "runtime", "scheme", "error"])
    return summary.loc[summary["status"] != "ok", ["dataset", "model", "runtime", "scheme", "error"]] \
        .reset_index(drop=True)


def exemplars(profile: Profile, summary: pd.DataFrame) -> dict | None:
    """The compression-identified exemplars of the int8 variant with the most of them (seed 0's images)."""
    from study.quant import datasets

    int8 = summary[(summary["status"] == "ok") & (summary["precision"] == "int8")]
    if not len(int8) or int8["cie_count"].max() == 0:
        return None
    top = int8.loc[int8["cie_count"].idxmax()]
    key = f"{top['runtime']}/{top['scheme']}"
    population = [r["build"] for r in _builds(profile) if r["status"] == "ok" and r.get("build")
                  and r["build"]["dataset"] == top["dataset"] and r["build"]["model"] == top["model"]]
    ok = [p for p in population if p["variants"].get(key, {}).get("status") == "ok"
          and p["variants"][VARIANTS[key].twin].get("status") == "ok"]
    fp32 = metrics.modal([p["variants"][VARIANTS[key].twin]["predictions"] for p in ok])
    quant = metrics.modal([p["variants"][key]["predictions"] for p in ok])
    index = np.flatnonzero(fp32 != quant)
    data = datasets.load(profile.quantization.datasets[[datasets.load(d).name for d in
                                                        profile.quantization.datasets].index(top["dataset"])])
    by = top["group_by"]
    return {"images": data.x_test[index], "labels": data.y_test[index], "fp32_pred": fp32[index],
            "quant_pred": quant[index], "groups": np.asarray(ok[0]["groups"][by])[index], "classes": data.classes,
            "title": f"{len(index)} compression-identified exemplars: {top['dataset']} / {top['model']} / {key} "
                     f"(modal prediction over {len(ok)} seed(s); red: the quantized model is wrong)"}
