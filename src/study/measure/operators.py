"""Where inference time goes: each runtime's own operator profiler, its operators sorted into six types.

Each runtime's backend implements ``profile_operators`` with the profiler its Python package offers (ONNX Runtime's
session profiling, ExecuTorch's ETDump read by its Inspector, ``torch.profiler`` for eager and the lite
interpreter); one that offers none raises ``NoProfiler``, which the table records as such. Operators are mapped to
types here, by name (and, for convolutions, the weight's shape, which tells a depthwise convolution: one input
channel per group), so every runtime's breakdown is comparable.

Profilers add overhead and time what they see (a fused kernel is one operator), so the breakdown is read as
shares of each runtime's profiled time, beside the p50 measured without a profiler.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

OP_TYPES = ("convolution", "depthwise convolution", "matrix multiply", "element-wise", "data movement", "other")

_MATMUL = re.compile(r"gemm|matmul|addmm|\bmm\b|::mm$|linear|fully.connected|bmm|batch matrix")
_DATA = re.compile(r"transpose|reshape|view|copy|concat|::cat$|\bcat\b|slice|pad|permute|flatten|squeeze|gather|"
                   r"split|expand|contiguous|empty|clone|reorder|identity|^shape|::t$|as_strided|select|stack|"
                   r"::to$|memcpy|unsqueeze")
_ELEMENTWISE = re.compile(r"convert|quantize|relu|clamp|clip|add|mul|sub|div|sigmoid|hardswish|hard_swish|"
                          r"hardsigmoid|tanh|batch_?norm|batchnormalization|hardtanh|gelu|exp|sqrt|neg|abs|fill_|"
                          r"zero_|leaky|elu|prelu|minimum|maximum|square|floor|ceil|round")


class NoProfiler(Exception):
    """The runtime's Python package exposes no operator profiler."""


def op_type(name: str, weight_shape=None) -> str:
    """One of OP_TYPES for an operator as a profiler names it; ``weight_shape`` tells a depthwise convolution."""
    lowered = name.lower()
    if "dwconv" in lowered or "depthwise" in lowered:
        return "depthwise convolution"
    if "conv" in lowered and "convert" not in lowered:
        shape = list(weight_shape or [])
        if len(shape) >= 3 and shape[1] == 1 and shape[0] > 1:  # [out, in / groups, *kernel]: one channel per group
            return "depthwise convolution"
        return "convolution"
    if _MATMUL.search(lowered):
        return "matrix multiply"
    if _DATA.search(lowered):
        return "data movement"
    if _ELEMENTWISE.search(lowered):
        return "element-wise"
    return "other"


def entry(operator: str, ms: float, calls: int = 1, weight_shape=None) -> dict:
    return {"operator": operator, "op_type": op_type(operator, weight_shape), "ms": float(ms), "calls": int(calls)}


def torch_profile(run, runs: int) -> list[dict]:
    """``torch.profiler`` around ``runs`` calls: every ATen operator's own (self) CPU time, so nested operators
    (conv2d > convolution > mkldnn_convolution) are counted once; its input shapes tell a depthwise convolution."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        for _ in range(runs):
            run()
    found = []
    for event in profiler.key_averages(group_by_input_shape=True):
        if event.self_cpu_time_total <= 0:
            continue
        shapes = event.input_shapes or []
        weight = shapes[1] if "conv" in event.key and len(shapes) > 1 else None
        found.append(entry(event.key, event.self_cpu_time_total / 1e3, event.count, weight))
    return found


def by_type(operators: list[dict], runs: int) -> dict[str, float]:
    """ms per inference of each operator type."""
    totals = dict.fromkeys(OP_TYPES, 0.0)
    for found in operators:
        totals[found["op_type"]] += found["ms"] / runs
    return totals


# --- tables, rebuilt from the records (never measured here) --------------------------------------------------

OPERATORS_VERSION = 1


def status_of(record: dict) -> str:
    """ok, no profiler (the runtime offers none to Python), or failed."""
    if record["status"] == "ok":
        return "ok"
    return "no profiler" if str(record.get("error", "")).startswith("NoProfiler") else "failed"


def write_operator_tables(profile, record_ids: list[str]):
    """operators.csv (every operator a profiler named, ms per inference) and operator_types.csv (per model and
    runtime: ms per inference and share of each op type, or why there is no profile)."""
    import pandas as pd

    from study.core.fsutil import csv_text, write_rows_atomic, write_text_atomic
    from study.core.store import ResultsStore
    from study.core.schema import OPERATOR_COLUMNS, OPERATOR_TYPE_COLUMNS

    store = ResultsStore(profile.name, records="operators")
    operator_rows, type_rows = [], []
    for record in store.records(record_ids):
        label, runs = record["label"], record["inputs"]["runs"]
        status = status_of(record)
        base = {"profile": profile.name, "model": label["model"], "runtime": label["runtime"],
                "threads": label["threads"], "batch": label["batch"], "latency_case_id": label["latency_case_id"],
                "runs": runs, "machine": record["machine"], "run_id": record["run_id"],
                "measured_at": record["measured_at"], "measurement": "measured"}
        if status != "ok":
            type_rows.append({**base, "status": status, "error": record.get("error", "")})
            continue
        operators = record.get("operators") or []
        total = sum(o["ms"] for o in operators) / runs
        for found in operators:
            operator_rows.append({**base, "operator": found["operator"], "op_type": found["op_type"],
                                  "ms_per_inference": found["ms"] / runs, "calls_per_inference": found["calls"] / runs})
        for kind, ms in by_type(operators, runs).items():
            type_rows.append({**base, "status": "ok", "error": "", "op_type": kind, "ms_per_inference": ms,
                              "share_pct": 100.0 * ms / total if total else None, "profiled_ms_per_inference": total})
    operators_table = pd.DataFrame(operator_rows, columns=list(OPERATOR_COLUMNS))
    if len(operators_table):  # one row per operator name and type: a profiler lists each call site on its own
        key = [c for c in OPERATOR_COLUMNS if c not in ("ms_per_inference", "calls_per_inference")]
        operators_table = operators_table.groupby(key, as_index=False, dropna=False)[
            ["ms_per_inference", "calls_per_inference"]].sum()[list(OPERATOR_COLUMNS)]
    write_text_atomic(store.directory / "operators.csv", csv_text(operators_table))
    return write_rows_atomic(store.directory / "operator_types.csv", type_rows, OPERATOR_TYPE_COLUMNS)


def load_operator_types(profile: str):
    import pandas as pd

    from study.core import paths
    from study.core.errors import StudyError
    from study.core.fsutil import display_path

    path = paths.results_dir(profile) / "operator_types.csv"
    if not path.exists():
        raise StudyError(f"{display_path(path)}: no operator profiles yet. Fix: python -m study bench --profile "
                         f"{profile} --only operators")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def breakdown(types) -> "pd.DataFrame":
    """ms per inference of each op type (columns) per model and runtime (rows), with the profiled total."""
    ok = types[types["status"] == "ok"]
    table = ok.pivot_table(index=["model", "runtime"], columns="op_type", values="ms_per_inference", aggfunc="sum")
    table = table.reindex(columns=[t for t in OP_TYPES if t in table.columns])
    table["profiled total"] = table.sum(axis=1)
    return table.reset_index()


def without_profile(types) -> "pd.DataFrame":
    """The runtimes with no operator profile, and why."""
    return types.loc[types["status"] != "ok", ["model", "runtime", "status", "error"]].reset_index(drop=True)


GAP_GROUPS = {  # convolution and matrix multiply are one group: XNNPACK runs 1x1 convolutions as matrix multiplies
    "convolution and matrix multiply": ("convolution", "matrix multiply"),
    "depthwise convolution": ("depthwise convolution",), "element-wise": ("element-wise",),
    "data movement": ("data movement",), "other": ("other",)}


def largest_gap(types) -> str:
    """One sentence per model: between its fastest and slowest profiled runtime, which kinds of operator make
    the difference in profiled time (the two largest)."""
    sentences = []
    table = breakdown(types)
    for model, part in table.groupby("model"):
        if len(part) < 2:
            continue
        fast, slow = part.loc[part["profiled total"].idxmin()], part.loc[part["profiled total"].idxmax()]
        gaps = {group: float(sum(slow.get(k, 0.0) - fast.get(k, 0.0) for k in kinds if k in part.columns))
                for group, kinds in GAP_GROUPS.items()}
        first, second = sorted(gaps, key=gaps.get, reverse=True)[:2]
        difference = float(slow["profiled total"] - fast["profiled total"])
        share = (lambda ms: f"{100.0 * ms / difference:.0f}%") if difference > 0 else (lambda ms: "n/a")
        sentences.append(f"{model}: {slow['runtime']} spends {difference:.2f} ms more per inference than "
                         f"{fast['runtime']} under their profilers; {first} account(s) for {gaps[first]:.2f} ms of it "
                         f"({share(gaps[first])}), then {second} for {gaps[second]:.2f} ms ({share(gaps[second])}).")
    return " ".join(sentences) or "Fewer than two runtimes were profiled for any model."
