"""Every column the study writes, with its meaning and unit: one place, so tables, the importer and the
README's schema section (``python -m study.report.schema``) cannot drift apart."""

from __future__ import annotations

# A column whose meaning a tracker declares with its field (study.measure.trackers): here only its place in the table.
TRACKED = None

# The columns of latency.csv, in order, with their meaning and unit (the README shows this table); a tracker's new
# field is appended after them (``study.measure.trackers.latency_columns``).
LATENCY_COLUMNS: dict[str, str | None] = {
    "profile": "device profile the case was measured under",
    "case_id": "hash of every input that determines the measurement (model, artifact, runtime and version, threads, CPUs, batch, timing budget)",
    "model": "model name from the zoo",
    "variant": "format and precision of the artifact, e.g. tflite-fp32",
    "format": "artifact format the runtime loads (torch, torchscript, executorch, onnx, tflite, savedmodel)",
    "precision": "numeric precision of the artifact (fp32; fp16 or int8 for quantized variants)",
    "artifact_status": "validation verdict of the artifact: ok, or mismatch (its outputs differ from the source model's)",
    "runtime": "inference runtime",
    "runtime_version": "version of the runtime's distribution(s)",
    "threads": "intra-op threads (inter-op threads fixed at 1)",
    "cpus": "CPU ids the case process was pinned to, space-separated",
    "batch": "inputs per inference call",
    "status": "ok, or failed (see error)",
    "error": "first line of the error of a failed case",
    "n_runs": "timed runs after warm-up, over all its processes",
    "n_processes": "separate processes the case was measured in (interleaved with other cases)",
    "process_spread_pct": "range of the processes' own p50s, as a share of the p50 (%): rerun-to-rerun variation",
    "n_warmup": "warm-up runs",
    "import_ms": TRACKED,
    "load_ms": TRACKED,
    "first_ms": TRACKED,
    "mean_ms": "mean steady-state latency (ms)",
    "std_ms": "standard deviation of steady-state latency (ms)",
    "cv": "coefficient of variation std/mean (unitless)",
    "p50_ms": "median steady-state latency (ms)",
    "p90_ms": "90th percentile latency (ms); blank with fewer than 100 timed runs",
    "p99_ms": "99th percentile latency (ms); blank with fewer than 1000 timed runs (from fewer it is about the maximum)",
    "min_ms": "fastest timed run (ms)",
    "ci_low_ms": "lower bound of the 95% CI of p50 over processes and samples (hierarchical bootstrap, expanded; ms)",
    "ci_high_ms": "upper bound of that CI (ms): it covers rerun-to-rerun variation, not only noise within one process",
    "throughput_ips": "inferences per second at p50: batch * 1000 / p50_ms",
    "gflop_per_inference": "FLOPs of one batch-1 inference, counted on the model's ONNX graph (GFLOP; see src/study/build/flops.py)",
    "gflops": "achieved throughput at p50: gflop_per_inference * batch / p50 (GFLOP/s)",
    "peak_gflops": "the machine's fp32 GEMM throughput with the same threads and CPUs (GFLOP/s, results/<profile>/peak.json)",
    "ceiling_gflops": "the best rate measured with the same threads: peak_gflops, or the gflops of the profile's fastest case where that is higher (GFLOP/s)",
    "ceiling_source": "what set ceiling_gflops: the fp32 GEMM, or the case (model on runtime) that beat it",
    "pct_peak": "gflops as a percentage of ceiling_gflops (never above 100)",
    "arithmetic_intensity": "FLOPs per byte moved, counted on the model's ONNX graph (weights once, each activation written and read; src/study/build/flops.py)",
    "bandwidth_gbs": "the machine's streaming memory bandwidth with the same threads and CPUs (GB/s, STREAM triad; results/<profile>/bandwidth.json)",
    "attainable_gflops": "the roofline at the model's intensity: min(ceiling_gflops, arithmetic_intensity x bandwidth_gbs) (GFLOP/s)",
    "roofline_bound": "memory when the bandwidth roof is the lower one at this intensity, else compute",
    "pct_attainable": "gflops as a percentage of attainable_gflops (above 100 means the runtime moved fewer bytes than the graph count: fused layers, activations kept in cache)",
    "high_dispersion": "True when cv > 0.10: treat the numbers with care",
    "steal_pct": TRACKED,
    "others_pct": TRACKED,
    "involuntary_switches_per_s": TRACKED,
    "loadavg_1m": TRACKED,
    "contended": "True when steal_pct > 2 or others_pct > 10: something else ran on the case's CPUs; blank when not recorded",
    "temp_before_c": TRACKED,
    "temp_after_c": TRACKED,
    "freq_before_mhz": TRACKED,
    "freq_after_mhz": TRACKED,
    "throttled": TRACKED,
    "rss_import_mib": TRACKED,
    "rss_load_mib": TRACKED,
    "rss_peak_mib": TRACKED,
    "load_above_import_mib": "what loading the model added to the peak: rss_load_mib - rss_import_mib (MiB)",
    "inference_above_load_mib": "what running it added: rss_peak_mib - rss_load_mib (MiB)",
    "harness_overhead_ms": TRACKED,
    "native_lib_mib": TRACKED,
    "artifact_bytes": "size of the artifact file (bytes)",
    "artifact_sha256": "content hash of the artifact measured",
    "machine": "host name of the machine that measured the case",
    "run_id": "the run that measured the case (results/<profile>/runs/<run_id>.json has its environment)",
    "measured_at": "UTC time the case finished (ISO 8601)",
    "measurement": "measured (every number in this table is measured on the machine named)",
}


def required_latency_columns() -> list[str]:
    """The columns every latency table has: a tracker's columns are blank (absent) in a table measured before the
    tracker existed, which is still a sound table."""
    return [name for name, meaning in LATENCY_COLUMNS.items() if meaning is not TRACKED]


SAMPLE_COLUMNS: dict[str, str] = {
    "case_id": "the case, as in latency.csv",
    "process": "which of the case's processes measured it, from 0",
    "phase": "warmup or timed",
    "index": "run number within the phase, from 0",
    "latency_ms": "wall-clock time of one inference call (ms)",
}
CONVERSION_COLUMNS: dict[str, str] = {
    "model": "model name",
    "framework": "source framework (torch or keras)",
    "target": "artifact format (a source format row holds the source weights)",
    "is_source": "True for the source weights themselves",
    "status": "ok, mismatch (outputs differ beyond the thresholds), failed, or n/a (no route from this framework)",
    "error": "first line of the error, or the threshold a mismatch broke",
    "exporter": "which exporter produced it (e.g. dynamo or legacy for ONNX)",
    "note": "anything the exporter had to work around",
    "seconds": "conversion wall time (s; conversions of different models run side by side, one per CPU)",
    "bytes": "artifact size on disk (bytes; a directory's files summed)",
    "compressed_bytes": "artifact size after DEFLATE level 6, roughly what an update downloads (bytes)",
    "parameters": "parameter count of the source model",
    "validated_with": "runtime that ran the artifact on the validation inputs",
    "max_abs_diff": "largest absolute output difference from the source model",
    "max_rel_diff": "max_abs_diff divided by the largest absolute reference output",
    "cosine_min": "worst per-sample cosine similarity of outputs",
    "top1_agreement": "share of validation samples with the same arg-max class",
    "reference_informative": "whether the source outputs vary with the input enough to catch a wrong conversion",
    "delegated_share": "ExecuTorch and LiteRT: share of the model's operators inside XNNPACK's partitions (the rest "
                       "run on the runtime's own kernels; the note or outside_delegate names them)",
    "path": "artifact path",
}

ENERGY_COLUMNS: dict[str, str] = {
    "profile": "device profile",
    "case_id": "hash of every input of the energy measurement (the latency case's inputs, the window settings)",
    "latency_case_id": "the same setting's row in latency.csv (for the model, the case whose CPU time it uses)",
    "model": "model name",
    "variant": "format and precision of the artifact",
    "runtime": "inference runtime",
    "threads": "intra-op threads",
    "cpus": "CPU ids the case process was pinned to",
    "batch": "inputs per inference call",
    "status": "ok, or failed (see error)",
    "error": "first line of the error of a failed case",
    "energy_source": "rapl (powercap counters), meter (external meter CSV) or model (the profile's power model)",
    "measurement": "measured (rapl, meter) or modelled (model): never pooled in one statistic",
    "windows": "active windows per process: segments of each latency process's timed runs (model), or windows of their own after one idle window (rapl, meter)",
    "window_seconds": "minimum length of each window of its own (rapl, meter; s); empty for the model",
    "inferences": "inputs processed over all active windows",
    "ms_per_call": "mean wall time per call during the active windows (ms)",
    "cpu_utilisation": "process CPU time / (wall time x CPUs the power model counts), mean over active windows",
    "avg_watts": "mean power over the active windows (W)",
    "avg_watts_ci_low": "lower bound of the 95% t-interval of avg_watts across windows (W)",
    "avg_watts_ci_high": "upper bound of the 95% t-interval of avg_watts across windows (W)",
    "idle_watts": "idle power: the idle window's (rapl, meter) or the power model's at zero utilisation (W)",
    "gross_mj_per_inference": "energy of the active window per input, mean across windows (mJ; modelled: under the first power model)",
    "gross_mj_per_inference_ci_low": "lower bound of its 95% t-interval across windows (mJ; measured sources only)",
    "gross_mj_per_inference_ci_high": "upper bound of its 95% t-interval across windows (mJ)",
    "net_mj_per_inference": "(active energy - idle power x active time) per input: what inference adds (mJ)",
    "net_mj_per_inference_ci_low": "lower bound of its 95% t-interval across windows (mJ)",
    "net_mj_per_inference_ci_high": "upper bound of its 95% t-interval across windows (mJ)",
    "gross_mj_per_inference_model_low": "modelled: the lowest gross mJ per inference across the profile's power models",
    "gross_mj_per_inference_model_high": "modelled: the highest gross mJ per inference across them",
    "net_mj_per_inference_model_low": "modelled: the lowest net mJ per inference across the power models",
    "net_mj_per_inference_model_high": "modelled: the highest net mJ per inference across them",
    "power_models": "how many published power-coefficient sets the modelled range spans (empty when measured)",
    "cpu_ms_per_inference": "process CPU time (all threads) per input, mean across windows (ms): measured in every case",
    "cpu_ms_per_inference_ci_low": "lower bound of its 95% t-interval across windows (ms)",
    "cpu_ms_per_inference_ci_high": "upper bound of its 95% t-interval across windows (ms)",
    "inferences_per_joule": "inputs per joule of gross energy, mean across windows",
    "inferences_per_joule_ci_low": "lower bound of its 95% t-interval across windows",
    "inferences_per_joule_ci_high": "upper bound of its 95% t-interval across windows",
    "power_model": "the formula and cited source of a modelled number; empty when measured",
    "machine": "host name of the machine that measured the case",
    "run_id": "the run that measured the case",
    "measured_at": "UTC time the case finished (ISO 8601)",
}
OPERATOR_TYPE_COLUMNS: dict[str, str] = {
    "profile": "device profile",
    "model": "model name",
    "runtime": "inference runtime",
    "threads": "intra-op threads",
    "batch": "inputs per inference call",
    "status": "ok, no profiler (the runtime's Python package offers none), or failed",
    "error": "why there is no profile",
    "op_type": "convolution, depthwise convolution, matrix multiply, element-wise, data movement or other",
    "ms_per_inference": "the profiler's time in operators of this type per inference (ms; profilers add overhead)",
    "share_pct": "its share of the runtime's profiled time (%)",
    "profiled_ms_per_inference": "all operators' time per inference under the profiler (ms)",
    "runs": "profiled inferences, after warm-up",
    "latency_case_id": "the same setting's row in latency.csv",
    "machine": "host name of the machine that measured it",
    "run_id": "the run that measured it",
    "measured_at": "UTC time it finished (ISO 8601)",
    "measurement": "measured",
}
OPERATOR_COLUMNS: dict[str, str] = {
    "profile": "device profile",
    "model": "model name",
    "runtime": "inference runtime",
    "threads": "intra-op threads",
    "batch": "inputs per inference call",
    "operator": "the operator as the runtime's profiler names it (kernel, node type or ATen operator)",
    "op_type": "its type (study/measure/operators.py maps names, and weight shapes for depthwise convolutions)",
    "ms_per_inference": "its time per inference, all its calls (ms; self time for torch.profiler)",
    "calls_per_inference": "its calls per inference",
    "runs": "profiled inferences",
    "latency_case_id": "the same setting's row in latency.csv",
    "machine": "host name of the machine that measured it",
    "run_id": "the run that measured it",
    "measured_at": "UTC time it finished (ISO 8601)",
    "measurement": "measured",
}
SUSTAINED_COLUMNS: dict[str, str] = {
    "profile": "device profile",
    "model": "model name",
    "runtime": "the runtime with the best p50 for this model in the profile's latency cases",
    "threads": "intra-op threads",
    "batch": "inputs per inference call",
    "status": "ok, or failed (see error)",
    "error": "first line of the error",
    "seconds": "length of the continuous run (s)",
    "calls": "inference calls in it",
    "first_tenth_p50_ms": "p50 of the calls in the run's first tenth of time (ms)",
    "last_tenth_p50_ms": "p50 of the calls in its last tenth (ms)",
    "last_over_first": "last_tenth_p50_ms / first_tenth_p50_ms: above 1 the device slowed down (throttling, or contention)",
    "ratio_ci_low": "lower bound of its 95% bootstrap CI (each tenth resampled on its own)",
    "ratio_ci_high": "upper bound of that CI",
    "throughput_first_ips": "inferences per second over the first tenth",
    "throughput_last_ips": "inferences per second over the last tenth",
    "steal_pct": "hypervisor steal time on the CPUs during the run (%)",
    "others_pct": "other processes' share of the CPUs during the run (%)",
    "contended": "True when steal_pct > 2 or others_pct > 10",
    "latency_case_id": "the latency case whose runtime and setting it repeats",
    "machine": "host name of the machine that measured it",
    "run_id": "the run that measured it",
    "measured_at": "UTC time it finished (ISO 8601)",
    "measurement": "measured",
}
SUSTAINED_SERIES_COLUMNS: dict[str, str] = {
    "model": "model name",
    "runtime": "runtime",
    "window": "window number from 0: the run cut into equal spans of time",
    "start_s": "window start, seconds after the first call",
    "calls": "calls that started in the window",
    "throughput_ips": "inferences per second in the window",
    "p50_ms": "p50 latency of its calls (ms)",
}
WINDOW_COLUMNS: dict[str, str] = {
    "case_id": "the energy case, as in energy.csv",
    "phase": "idle or active",
    "index": "window number within the case (0 is the idle window, measured sources only)",
    "calls": "inference calls completed in the window",
    "wall_s": "window length (s)",
    "cpu_s": "process CPU time in the window, all threads (s)",
    "start_epoch": "window start, host clock (Unix epoch s): cut a meter's log here",
    "end_epoch": "window end, host clock (Unix epoch s)",
    "rapl_j": "joules between the RAPL readings at the window's bounds (rapl source only)",
    "joules": "the window's energy from the profile's source (J)",
}

COMPARISON_COLUMNS: dict[str, str] = {
    "profile": "profile name",
    "model": "model name",
    "dataset": "the data a quantized variant was trained on (blank for a zoo model or a file)",
    "threads": "threads of every contender",
    "batch": "batch size of every contender",
    "precision": "the contenders' precision (runtime duels; blank in a variant duel)",
    "role": "runner-up: the pick against the next fastest; other: the pick against another contender",
    "runtime_a": "the duel's pick: the runtime fastest over the sets",
    "variant_a": "its artifact format and precision",
    "runtime_b": "the contender it is compared with",
    "variant_b": "its artifact format and precision",
    "ratio": "time of a over time of b (below 1: a is faster), from the mean log ratio of burst medians",
    "low": "the ratio's interval: a t interval over the sets of fresh workers",
    "high": "its upper end",
    "level": "the interval's level: 95% split over the duel's planned looks (Bonferroni)",
    "outcome": "faster, slower, equivalent (within ±5% by two one-sided tests) or undetermined",
    "half_width_pct": "half the interval's width, as a % of the ratio",
    "detectable_pct": "smallest difference (%) these sets detect with 80% power",
    "cycles": "burst cycles kept (every contender one burst each), over all sets",
    "sets": "sets of fresh workers (a new process per contender each)",
    "seconds": "wall time of the duel, workers' start-up included (s)",
    "idle_cpu_pct": "the most CPU any idle worker took while another ran its burst (% of one CPU)",
    "idle_cpu_pct_a": "what a's worker took while idle (% of one CPU)",
    "idle_cpu_pct_b": "what b's worker took while idle (% of one CPU)",
    "settle_ms": "the longest median wait after a spinning contender's bursts (ms; 0: none spun)",
    "guard": "what was done against idle pools that spin, in words",
    "case_a": "a's case id (latency.csv)",
    "case_b": "b's case id",
}


def schema_markdown(latency: dict[str, str]) -> str:
    """The README's results-schema tables, generated from the column definitions so they cannot drift; ``latency``:
    latency.csv's columns with every tracker's description filled in (``study.measure.trackers.latency_columns``)."""
    def table(columns: dict[str, str]) -> str:
        return "| column | meaning (unit) |\n| --- | --- |\n" + "".join(f"| `{k}` | {v} |\n" for k, v in columns.items())

    return ("`results/<profile>/latency.csv`, one row per case of the profile's current plan (the quantization "
            "study's timed variants, `quant_latency.csv`, have the same columns plus `scheme` and `dataset`):\n\n"
            + table(latency)
            + "\n`results/<profile>/samples.csv`, every raw latency sample:\n\n" + table(SAMPLE_COLUMNS)
            + "\n`results/<profile>/comparisons.csv`, one row per pair a duel judged (each model's pick against its "
              "other contenders; `variant_comparisons.csv`, each quantized variant's duel with its fp32 twin, has the "
              "same columns; the raw bursts are in `duels/` and `variant_duels/`):\n\n" + table(COMPARISON_COLUMNS)
            + "\n`results/<profile>/conversions.csv`, the conversion matrix, one row per (model, target):\n\n"
            + table(CONVERSION_COLUMNS)
            + "\n`results/<profile>/energy.csv`, energy per inference, one row per case at the energy batch sizes:\n\n"
            + table(ENERGY_COLUMNS)
            + "\n`results/<profile>/energy_windows.csv`, every raw energy window:\n\n" + table(WINDOW_COLUMNS)
            + "\n`results/<profile>/operator_types.csv`, time per operator type from each runtime's own profiler, one "
              "row per (model, runtime, type), or one saying why there is no profile:\n\n" + table(OPERATOR_TYPE_COLUMNS)
            + "\n`results/<profile>/operators.csv`, every operator a profiler named:\n\n" + table(OPERATOR_COLUMNS)
            + "\n`results/<profile>/sustained.csv`, one continuous run per model of its fastest runtime:\n\n"
            + table(SUSTAINED_COLUMNS)
            + "\n`results/<profile>/sustained_series.csv`, that run's throughput over time:\n\n"
            + table(SUSTAINED_SERIES_COLUMNS))

