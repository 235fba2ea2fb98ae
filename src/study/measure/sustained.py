"""Sustained load: does a runtime keep its rate over a continuous run? Phones and boards without a heatsink
throttle after tens of seconds; a short timed phase never sees it. Tables rebuilt from the records of
``study.phases.sustained`` (``results/<profile>/sustained/``), never measured here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.core.statistics import contended, ratio_of_medians_ci

SUSTAINED_VERSION = 1
SERIES_WINDOWS = 30  # the run cut into this many equal spans of time for the throughput-over-time figure


def tenth_ratio(samples_ms, offsets_s, seconds: float) -> dict:
    """p50 of the last tenth of the run's time over that of the first tenth, with a 95% bootstrap CI (each tenth
    resampled on its own); and each tenth's throughput."""
    samples, offsets = np.asarray(samples_ms, dtype=float), np.asarray(offsets_s, dtype=float)
    first, last = samples[offsets < seconds / 10], samples[offsets >= seconds * 0.9]
    if len(first) < 2 or len(last) < 2:
        return {}
    ci_low, ci_high = ratio_of_medians_ci(last, first)
    return {"first_tenth_p50_ms": float(np.median(first)), "last_tenth_p50_ms": float(np.median(last)),
            "last_over_first": float(np.median(last) / np.median(first)), "ratio_ci_low": float(ci_low),
            "ratio_ci_high": float(ci_high), "throughput_first_ips": len(first) / (seconds / 10),
            "throughput_last_ips": len(last) / (seconds / 10)}


def series(samples_ms, offsets_s, seconds: float, batch: int = 1, windows: int = SERIES_WINDOWS) -> list[dict]:
    """Throughput and p50 in equal spans of the run."""
    samples, offsets = np.asarray(samples_ms, dtype=float), np.asarray(offsets_s, dtype=float)
    span = seconds / windows
    rows = []
    for index in range(windows):
        inside = samples[(offsets >= index * span) & (offsets < (index + 1) * span)]
        rows.append({"window": index, "start_s": index * span, "calls": int(inside.size),
                     "throughput_ips": batch * inside.size / span,
                     "p50_ms": float(np.median(inside)) if inside.size else None})
    return rows


def write_sustained_tables(profile, record_ids: list[str]) -> pd.DataFrame:
    from study.core.fsutil import write_rows_atomic
    from study.core.store import ResultsStore
    from study.core.schema import SUSTAINED_COLUMNS, SUSTAINED_SERIES_COLUMNS

    store = ResultsStore(profile.name, records="sustained")
    rows, series_rows = [], []
    for record in store.records(record_ids):
        label, seconds = record["label"], record["inputs"]["seconds"]
        row = {"profile": profile.name, **label, "status": record["status"], "error": record.get("error", ""),
               "seconds": seconds, "machine": record["machine"], "run_id": record["run_id"],
               "measured_at": record["measured_at"], "measurement": "measured"}
        if record["status"] == "ok":
            samples, offsets = record["samples_ms"], record["offsets_s"]
            row.update(calls=len(samples), **tenth_ratio(samples, offsets, seconds),
                       steal_pct=record.get("steal_pct"), others_pct=record.get("others_pct"),
                       contended=contended(record.get("steal_pct"), record.get("others_pct")))
            series_rows += [{"model": label["model"], "runtime": label["runtime"], **s}
                            for s in series(samples, offsets, seconds, label["batch"])]
        rows.append(row)
    write_rows_atomic(store.directory / "sustained_series.csv", series_rows, SUSTAINED_SERIES_COLUMNS)
    return write_rows_atomic(store.directory / "sustained.csv", rows, SUSTAINED_COLUMNS)


def load_sustained(profile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from study.core import paths
    from study.core.errors import StudyError
    from study.core.fsutil import display_path

    directory = paths.results_dir(profile)
    if not (directory / "sustained.csv").exists():
        raise StudyError(f"{display_path(directory / 'sustained.csv')}: no sustained-load run yet. Fix: python -m "
                         f"study bench --profile {profile} --only sustained")
    return (pd.read_csv(directory / "sustained.csv", keep_default_na=False, na_values=[""]),
            pd.read_csv(directory / "sustained_series.csv"))


def verdict(table: pd.DataFrame) -> str:
    """One sentence per run: did the rate hold? A slowdown counts only when the ratio's CI lies above 1.05."""
    sentences = []
    for row in table[table["status"] == "ok"].itertuples():
        where = f"{row.model} on {row.runtime} ({row.seconds:.0f} s)"
        interval = f"{row.last_over_first:.3f} [{row.ratio_ci_low:.3f}, {row.ratio_ci_high:.3f}]"
        if row.ratio_ci_low > 1.05:
            said = f"slowed down: last tenth's p50 / first tenth's = {interval}"
        elif row.ratio_ci_high < 1 / 1.05:
            said = f"sped up: last/first = {interval}"
        else:
            said = (f"held its rate within 5%: last/first = {interval}"
                    if row.ratio_ci_low >= 1 / 1.05 and row.ratio_ci_high <= 1.05 else
                    f"no change beyond 5% detected, though the interval ({interval}) cannot exclude one")
        sentences.append(f"{where} {said}" + (" (measured under contention)" if row.contended is True else "") + ".")
    return " ".join(sentences) or "No sustained-load run succeeded."
