"""Trackers: what a case's process observes besides its timed samples. Adding a metric is one file in this folder
(a ``Tracker`` subclass declaring its ``fields``) and one line in ``TRACKERS``."""

from __future__ import annotations

from study.core.schema import LATENCY_COLUMNS
from study.measure.trackers.base import COMBINE, Field, Tracker
from study.measure.trackers.contention import Contention
from study.measure.trackers.cpu_time import CpuTime
from study.measure.trackers.libraries import Libraries
from study.measure.trackers.memory import Memory

TRACKERS: dict[str, type[Tracker]] = {"memory": Memory, "libraries": Libraries, "cpu": CpuTime,
                                      "contention": Contention}

# The engine's own fields: the stages it times itself, around the trackers' work.
ENGINE_FIELDS: dict[str, Field] = {
    "import_ms": Field("median", "time to import the runtime in a fresh process (ms)"),
    "load_ms": Field("median", "time to load the artifact and prepare it for the batch (ms)"),
    "first_ms": Field("median", "first (cold) inference after load (ms)"),
    "harness_overhead_ms": Field("median", "median time of the same timing loop around a no-op call, measured in the "
                                           "case process (ms)"),
}


def fields() -> dict[str, Field]:
    """Every field a case's process can record, the engine's first, then each tracker's."""
    found = dict(ENGINE_FIELDS)
    for tracker in TRACKERS.values():
        found.update(tracker.fields)
    return found


def latency_columns() -> dict[str, str]:
    """latency.csv's columns in order with their meanings: the schema's, a tracked column described by its tracker,
    and any field a tracker declares that the schema does not place yet appended at the end."""
    declared = {name: field for name, field in fields().items() if field.column}
    columns = {name: meaning if meaning is not None else declared[name].description
               for name, meaning in LATENCY_COLUMNS.items()}
    for name, field in declared.items():
        columns.setdefault(name, field.description)
    return columns


__all__ = ["latency_columns", "COMBINE", "ENGINE_FIELDS", "TRACKERS", "Field", "Tracker", "fields"]
