"""The results store of one profile: ``results/<profile>/``.

Each measured case is one JSON record in ``cases/<case_id>.json``, written atomically: that record is
the measurement. The tidy tables (``latency.csv`` one row per case, ``samples.csv`` every raw sample)
are views rebuilt from the records, also atomically, so an interrupted run leaves at worst one case
unmeasured and never a torn or duplicated row. A case whose record exists is skipped on rerun, since
its id is a hash of everything that determines the measurement.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from study.core import paths
from study.core.errors import StudyError
from study.core.fsutil import csv_text, display_path, write_json_atomic, write_text_atomic
from study.core.statistics import MIN_RUNS_FOR, attainable_gflops, summarize
from study.core.schema import LATENCY_COLUMNS, SAMPLE_COLUMNS, required_latency_columns

RECORD_KEYS = ("case_id", "status", "inputs")
QUARANTINE_FOLDER = "quarantine"  # records that could not be read, moved aside: results/<profile>/quarantine/<kind>/
RUNS_FOLDER, LOGS_FOLDER = "runs", "logs"  # a results folder's run records and process logs; every other folder
#                                             in it holds per-case records (``cases``, and each phase's own)


def record_folders(directory: Path) -> list[Path]:
    """The folders of per-case records in a results folder, whatever phase wrote them: all its folders but the run
    records and the logs, so a phase added later is checked and counted on import without a list to extend."""
    if not directory.is_dir():
        return []
    return sorted(d for d in directory.iterdir()
                  if d.is_dir() and not d.is_symlink() and d.name not in (RUNS_FOLDER, LOGS_FOLDER)
                  and not d.name.startswith("."))


class ResultsStore:
    def __init__(self, profile: str, records: str = "cases"):
        """``records``: the folder of per-case records (``cases`` for latency, ``energy`` for energy windows)."""
        self.profile = profile
        self.directory = paths.results_dir(profile)
        self.cases_dir = self.directory / records
        self.latency_csv = self.directory / "latency.csv"
        self.samples_csv = self.directory / "samples.csv"
        self.environment_json = self.directory / "environment.json"
        self.conversions_csv = self.directory / "conversions.csv"
        self.runs_dir = self.directory / RUNS_FOLDER
        self.logs_dir = self.directory / LOGS_FOLDER

    def _case_path(self, case_id: str) -> Path:
        return self.cases_dir / f"{case_id}.json"

    def get(self, case_id: str) -> dict | None:
        """The case's record, or None when it was never measured or its file was torn (then moved to quarantine, so
        the case is measured again)."""
        path = self._case_path(case_id)
        if not path.exists():
            return None
        return self._read_record(path)

    def _read_record(self, path: Path) -> dict | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return self._quarantine(path, f"torn or corrupt ({type(exc).__name__})")
        missing = [key for key in RECORD_KEYS if key not in record] if isinstance(record, dict) else list(RECORD_KEYS)
        if missing:
            return self._quarantine(path, f"lacks {', '.join(missing)}")
        if record["case_id"] != path.stem:
            return self._quarantine(path, f"names case {record['case_id']} but is filed as {path.stem}")
        return record

    def _quarantine(self, path: Path, why: str) -> None:
        """A record that cannot be read is moved aside (never deleted: it may be looked at) with one line naming it;
        its case reads as unmeasured, and is measured again. Nothing else is touched."""
        import os
        import sys
        import time

        folder = self.directory / QUARANTINE_FOLDER / path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}{path.suffix}"
        try:
            os.replace(path, target)
        except FileNotFoundError:  # another reader moved it first
            return None
        print(f"{display_path(path)}: {why}: moved to {display_path(target)}; its case is measured again",
              file=sys.stderr, flush=True)
        return None

    def put(self, record: dict) -> None:
        write_json_atomic(self._case_path(record["case_id"]), record)

    def records(self, case_ids: list[str] | None = None) -> list[dict]:
        """Records for ``case_ids`` in that order (those measured), or every record on disk."""
        if case_ids is None:
            return [r for r in map(self._read_record, sorted(self.cases_dir.glob("*.json"))) if r is not None]
        return [r for r in (self.get(c) for c in case_ids) if r is not None]

    def write_tables(self, case_ids: list[str] | None = None, columns=LATENCY_COLUMNS) -> pd.DataFrame:
        """Rebuild latency.csv and samples.csv from the records of ``case_ids`` (the current plan).

        The machine's limits kept beside the records (GEMM GFLOP/s and streaming GB/s per thread count) fill the
        ceiling and roofline columns: they are not part of a case's measurement, so a better one never needs the
        cases measured again.
        """
        key = self._views_key(case_ids, columns)
        key_file = self.directory / "latency.key"
        if (key is not None and self.latency_csv.exists() and self.samples_csv.exists() and key_file.exists()
                and key_file.read_text() == key):  # the same records, ceilings and code: the same tables
            kept = self._readable(self.latency_csv, columns) \
                if self._readable(self.samples_csv, SAMPLE_COLUMNS, rows=5) is not None else None
            if kept is not None:
                return kept
        records = self.records(case_ids)
        peaks, bandwidths = self.ceilings("peak.json", "gflops"), self.ceilings("bandwidth.json", "gb_per_s")
        rows = [table_row(r) for r in records]
        table = pd.DataFrame([{col: row.get(col) for col in columns} for row in rows], columns=list(columns))
        for column, per_threads in (("peak_gflops", peaks), ("bandwidth_gbs", bandwidths)):
            if per_threads and len(table):
                table[column] = table["threads"].map(lambda t: per_threads.get(int(t)))
        table = derived_columns(table)
        sample_rows = [
            (r["case_id"], process, phase, index, value)
            for r in records
            for process, measured in enumerate(processes_of(r))
            for phase, key in (("warmup", "warmup_ms"), ("timed", "samples_ms"))
            for index, value in enumerate(measured.get(key) or [])
        ]
        samples = pd.DataFrame(sample_rows, columns=list(SAMPLE_COLUMNS))
        write_text_atomic(self.latency_csv, csv_text(table))
        write_text_atomic(self.samples_csv, csv_text(samples))
        if key is not None:
            write_text_atomic(key_file, key)
        return table

    def _readable(self, path: Path, columns, rows: int | None = None) -> pd.DataFrame | None:
        """A derived table as written, or None with one line when it is empty, truncated or unparsable (a full disk
        or a sync tool leaves such files): it is then rebuilt from the records, whatever the cache key says."""
        import sys

        table = None
        try:
            with path.open("rb") as handle:  # every table is written whole, ending in a newline: else it was cut
                handle.seek(-1, 2)
                complete = handle.read(1) == b"\n"
            table = pd.read_csv(path, nrows=rows) if complete else None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
            why = "empty" if isinstance(exc, OSError) and not path.stat().st_size else \
                f"unreadable ({type(exc).__name__})"
        else:
            why = "truncated"
        if table is not None:
            missing = [c for c in columns if c not in table.columns]
            if not missing:
                return table
            why = f"lacks columns {', '.join(missing[:3])}"
        print(f"{display_path(path)}: {why}: rebuilt from the case records", file=sys.stderr, flush=True)
        return None

    def _views_key(self, case_ids: list[str] | None, columns) -> str | None:
        """What the tables are computed from: the records (by name, size and change time), the machine's ceilings,
        the columns and the code of the statistics; None when the plan is every record on disk."""
        from study.core.ids import code_digest

        if case_ids is None:
            return None
        digest = hashlib.sha256(json.dumps([list(case_ids), list(columns)]).encode())
        digest.update(code_digest("study.core.store", "study.core.statistics").encode())
        for path in [*(self._case_path(c) for c in case_ids), self.directory / "peak.json",
                     self.directory / "bandwidth.json"]:
            if path.exists():
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()

    def ceilings(self, filename: str, field_name: str) -> dict[int, float]:
        """The machine limits kept beside the results (peak.json, bandwidth.json), by thread count."""
        path = self.directory / filename
        try:
            kept = json.loads(path.read_text()) if path.exists() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return {int(key.split()[0]): entry[field_name] for key, entry in kept.items()
                if key.split()[0].isdigit() and isinstance(entry, dict) and field_name in entry}

    def write_conversions(self, matrix: pd.DataFrame) -> None:
        write_text_atomic(self.conversions_csv, csv_text(matrix))

    def write_run(self, run_id: str, environment: dict, measured: list[str], run: dict | None = None,
                  describes_results: bool = True) -> None:
        """``runs/<run_id>.json``: the environment, the cases measured, and the run's plan and phase times. With
        ``describes_results`` it also becomes ``environment.json``, the environment the tables are said to come from;
        a run that measured nothing (it only converted or checked) keeps the one that did."""
        write_json_atomic(self.runs_dir / f"{run_id}.json", {**environment, **(run or {}), "measured_cases": measured})
        if describes_results:
            write_json_atomic(self.environment_json, {**environment, "run_id": run_id})

    def runs(self) -> list[dict]:
        """Every run record of the profile, oldest first."""
        found = []
        for path in sorted(self.runs_dir.glob("*.json")):
            try:
                run = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a damaged run record loses only its own timing line
            if isinstance(run, dict):
                found.append({"run_id": path.stem, **run})
        return found


_STATISTICS: dict[str, dict] = {}  # per process: a table is rewritten after every case, its bootstraps computed once


def latency_statistics(record: dict) -> dict:
    """The statistics of a measured case, computed from the samples its record keeps, process by process: a better
    interval is a change to ``study.core.statistics`` and a re-render, never a re-measure."""
    row = record.get("row") or {}
    measured = [p for p in processes_of(record) if p.get("status", record.get("status")) == "ok"]
    if record.get("status") != "ok" or not measured or not any(p.get("samples_ms") for p in measured):
        return {}
    processes = [p["samples_ms"] for p in measured]
    batch = int(row.get("batch") or 1)
    key = hashlib.sha256(json.dumps([batch, processes]).encode()).hexdigest()
    if key not in _STATISTICS:
        _STATISTICS[key] = summarize([v for p in processes for v in p], batch=batch, processes=processes)
    return dict(_STATISTICS[key])


def round_p50s(record: dict | None) -> list[float]:
    """The p50 of each round (process) of a case, in order; nan where that process failed or kept no samples."""
    return [float(np.median(r["samples_ms"])) if r.get("status") == "ok" and r.get("samples_ms") else float("nan")
            for r in (record or {}).get("replicates") or []]


def pooled_p50(record: dict | None) -> float:
    """The p50 over every sample of a case's processes (as its table row has it), without its interval: for
    ranking cases cheaply; inf for a case with no samples."""
    samples = [v for r in (record or {}).get("replicates") or [] if r.get("status") == "ok"
               for v in r.get("samples_ms") or []]
    return float(np.percentile(samples, 50)) if samples else math.inf


def rounds_of_samples(samples: pd.DataFrame) -> dict[str, list[float]]:
    """Each case's p50 per round (process, in order) from a samples table: the paired comparisons' evidence."""
    if samples.empty:
        return {}
    medians = samples[samples["phase"] == "timed"].groupby(["case_id", "process"])["latency_ms"].median()
    return {case: [float(v) for v in part.sort_index().values] for case, part in medians.groupby(level=0)}


def table_row(record: dict) -> dict:
    """A case's row as the tables show it: what it is and observed (kept in the record), with the statistics of
    its samples and the rate they give, computed now."""
    row = dict(record.get("row") or {})
    stats = latency_statistics(record)
    row.update(stats)
    if stats and row.get("gflop_per_inference"):
        row["gflops"] = row["gflop_per_inference"] * int(row.get("batch") or 1) / (stats["p50_ms"] / 1e3)
    return row


def processes_of(record: dict) -> list[dict]:
    """What each process of a case measured (a record from before replication holds one, at its top level)."""
    return record.get("replicates") or [record]


def derived_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The columns computed from a case's own measurements and its neighbours': the ceiling, tails shown only
    where enough runs support them, and what the model costs in memory above the runtime's import."""
    table = with_ceiling(table)
    if table.empty:
        return table
    runs = pd.to_numeric(table["n_runs"], errors="coerce")
    for column, needed in MIN_RUNS_FOR.items():
        table[column] = pd.to_numeric(table[column], errors="coerce").where(runs >= needed)
    rss = {c: pd.to_numeric(table[c], errors="coerce") for c in ("rss_import_mib", "rss_load_mib", "rss_peak_mib")}
    table["load_above_import_mib"] = (rss["rss_load_mib"] - rss["rss_import_mib"]).clip(lower=0)
    table["inference_above_load_mib"] = (rss["rss_peak_mib"] - rss["rss_load_mib"]).clip(lower=0)
    return table


def with_ceiling(table: pd.DataFrame) -> pd.DataFrame:
    """``ceiling_gflops``: the best rate measured on the machine at each thread count, the GEMM's or any case's,
    so no case ever shows more than 100% of it; ``pct_peak`` is each case's share of it.

    A case above the GEMM means a runtime's kernels beat the BLAS libraries the GEMM uses (or the FLOP count
    misses work the runtime skips): the GEMM was then not the machine's ceiling, and the case says so.
    """
    table = table.copy()
    if table.empty:
        return table
    rate = pd.to_numeric(table["gflops"], errors="coerce").where(table["status"] == "ok")
    gemm = pd.to_numeric(table["peak_gflops"], errors="coerce")
    ceilings, sources = [], []
    for index in table.index:
        same = table["threads"] == table.at[index, "threads"]
        best_case = rate[same].max()
        ceiling, source = gemm[index], "fp32 GEMM"
        if pd.notna(best_case) and (pd.isna(ceiling) or best_case > ceiling):
            top = rate[same].idxmax()
            ceiling, source = best_case, f"case {table.at[top, 'model']} on {table.at[top, 'runtime']}"
        ceilings.append(ceiling)
        sources.append(source if pd.notna(ceiling) else "")
    table["ceiling_gflops"] = ceilings
    table["ceiling_source"] = sources
    table["pct_peak"] = 100.0 * pd.to_numeric(table["gflops"], errors="coerce") / table["ceiling_gflops"]
    return with_roofline(table)


def with_roofline(table: pd.DataFrame) -> pd.DataFrame:
    """``attainable_gflops``: the roofline at the model's arithmetic intensity, min(ceiling, intensity x bandwidth);
    ``pct_attainable`` is each case's share of it, and ``roofline_bound`` says which roof applies."""

    intensity = pd.to_numeric(table["arithmetic_intensity"], errors="coerce")
    ceiling = pd.to_numeric(table["ceiling_gflops"], errors="coerce")
    bandwidth = pd.to_numeric(table["bandwidth_gbs"], errors="coerce")
    table["attainable_gflops"] = attainable_gflops(intensity, ceiling, bandwidth)
    table["pct_attainable"] = 100.0 * pd.to_numeric(table["gflops"], errors="coerce") / table["attainable_gflops"]
    memory_roof = intensity * bandwidth
    table["roofline_bound"] = np.where(memory_roof.isna() | ceiling.isna(), "",
                                       np.where(memory_roof < ceiling, "memory", "compute"))
    return table


def load_latency(profile: str) -> pd.DataFrame:
    """The tidy latency table of a profile, for notebooks; a clear error when it was never measured."""
    store = ResultsStore(profile)
    if not store.latency_csv.exists():
        raise StudyError(f"{display_path(store.latency_csv)}: no results yet. Fix: python -m study bench --profile {profile}")
    try:
        table = pd.read_csv(store.latency_csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StudyError(f"{display_path(store.latency_csv)}: unreadable ({type(exc).__name__}). Fix: python -m study "
                         f"bench --profile {profile} rebuilds it from the case records") from None
    missing = [c for c in required_latency_columns() if c not in table.columns]
    if missing:
        raise StudyError(f"{display_path(store.latency_csv)}: lacks columns {', '.join(missing)}. Fix: python -m study "
                         f"bench --profile {profile} rebuilds it from the case records")
    for column in LATENCY_COLUMNS:  # a tracker added since the table was measured: its column is blank there
        if column not in table.columns:
            table[column] = np.nan
    return table


def load_conversions(profile: str) -> pd.DataFrame:
    store = ResultsStore(profile)
    if not store.conversions_csv.exists():
        raise StudyError(f"{display_path(store.conversions_csv)}: no conversion matrix yet. Fix: python -m study bench "
                         f"--profile {profile}")
    return pd.read_csv(store.conversions_csv, keep_default_na=False, na_values=[""])


def load_samples(profile: str) -> pd.DataFrame:
    return pd.read_csv(ResultsStore(profile).samples_csv)


CASE_KEY = ["model", "runtime", "format", "precision", "threads", "batch"]


def overview(table: pd.DataFrame) -> pd.DataFrame:
    """Which cases exist and whether each succeeded: the stable shape of a results table."""
    return table[CASE_KEY + ["status"]].sort_values(CASE_KEY).reset_index(drop=True)


SHORT_KEY = ["model", "runtime", "threads", "batch"]


def latency_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Steady-state latency of every case, fastest first within each setting, rounded for reading."""
    columns = SHORT_KEY + ["n_runs", "p50_ms", "ci_low_ms", "ci_high_ms", "p90_ms", "p99_ms", "cv",
                           "throughput_ips", "contended"]
    ok = table[table["status"] == "ok"]
    return ok[columns].sort_values(["model", "threads", "batch", "p50_ms"]).round(2).reset_index(drop=True)


def replication(table: pd.DataFrame) -> pd.DataFrame:
    """Each case's processes: how far apart their own p50s were, and the CI that covers that spread."""
    columns = SHORT_KEY + ["n_processes", "n_runs", "p50_ms", "ci_low_ms", "ci_high_ms", "process_spread_pct"]
    ok = table[table["status"] == "ok"]
    return ok[columns].sort_values("process_spread_pct", ascending=False).reset_index(drop=True)


def startup_and_memory(table: pd.DataFrame) -> pd.DataFrame:
    """What a cold start costs (import, load, first inference) and peak resident memory at each stage."""
    columns = SHORT_KEY + ["import_ms", "load_ms", "first_ms", "rss_import_mib", "load_above_import_mib",
                           "inference_above_load_mib", "rss_peak_mib"]
    ok = table[table["status"] == "ok"]
    return ok[columns].sort_values(["model", "threads", "batch", "rss_peak_mib"]).round(1).reset_index(drop=True)


def contention(table: pd.DataFrame) -> pd.DataFrame:
    """What else the machine did during each case's timed runs, and the cases measured under contention."""
    columns = SHORT_KEY + ["steal_pct", "others_pct", "involuntary_switches_per_s", "loadavg_1m", "contended"]
    ok = table[table["status"] == "ok"]
    return ok[columns].sort_values(["contended", "others_pct"], ascending=False,
                                   na_position="last").reset_index(drop=True)


def failures(table: pd.DataFrame) -> pd.DataFrame:
    """Every case that failed, with the first line of its error."""
    return table.loc[table["status"] != "ok", SHORT_KEY + ["error"]].reset_index(drop=True)


def load_naive(profile: str) -> pd.DataFrame:
    path = ResultsStore(profile).directory / "naive.json"
    return pd.DataFrame(list(json.loads(path.read_text()).values())) if path.exists() else pd.DataFrame()


def naive_vs_steady(naive: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The article's one timed call beside the steady-state p50 of the same model and framework (batch 1)."""
    if naive.empty or "naive_ms" not in naive:
        return pd.DataFrame(columns=["model", "call", "naive_ms", "second_call_ms", "steady_p50_ms", "naive_over_p50"])
    rows = []
    for entry in naive[naive["status"] == "ok"].itertuples():
        steady = table[(table["model"] == entry.model) & (table["runtime"] == entry.steady_runtime)
                       & (table["batch"] == 1) & (table["threads"] == entry.threads) & (table["status"] == "ok")]
        p50 = float(steady["p50_ms"].iloc[0]) if len(steady) else float("nan")
        rows.append({"model": entry.model, "call": entry.call, "naive_ms": entry.naive_ms,
                     "second_call_ms": entry.second_call_ms, "steady_p50_ms": p50, "steady_runtime": entry.steady_runtime,
                     "naive_over_p50": entry.naive_ms / p50 if p50 == p50 else float("nan")})
    return pd.DataFrame(rows).round(2)


def efficiency(table: pd.DataFrame) -> pd.DataFrame:
    """How much of the machine each case uses, and what the timing loop itself costs."""
    ok = table[table["status"] == "ok"].copy()
    ok["overhead_pct_of_p50"] = 100 * ok["harness_overhead_ms"] / ok["p50_ms"]
    columns = SHORT_KEY + ["gflop_per_inference", "gflops", "peak_gflops", "ceiling_gflops", "ceiling_source",
                           "pct_peak", "arithmetic_intensity", "bandwidth_gbs", "attainable_gflops", "roofline_bound",
                           "pct_attainable", "harness_overhead_ms", "overhead_pct_of_p50"]
    return ok[columns].sort_values(["model", "threads", "batch", "pct_peak"], ascending=[True, True, True, False]) \
        .round(4).reset_index(drop=True)


def shown(table: pd.DataFrame, empty: str):
    """The table, or a sentence when it has no rows: a report never shows an empty table."""
    if len(table):
        return table
    from IPython.display import Markdown

    return Markdown(f"*{empty}*")
