"""Trackers: what a case's process observes besides its timed samples. Adding a metric is one file in this folder
(a ``Tracker`` subclass declaring its ``fields``) and one line in ``TRACKERS``."""

from __future__ import annotations

from study.core.registry import resolve
from study.core.schema import LATENCY_COLUMNS
from study.measure.trackers.base import COMBINE, Field, Tracker

# name -> "module:Class", imported when used: a new tracker is its file and one line here
TRACKERS: dict[str, str | type[Tracker]] = {
    "memory": "study.measure.trackers.memory:Memory",
    "libraries": "study.measure.trackers.libraries:Libraries",
    "cpu": "study.measure.trackers.cpu_time:CpuTime",
    "contention": "study.measure.trackers.contention:Contention",
    "thermal": "study.measure.trackers.thermal:Thermal",
}


def tracker_class(name: str) -> type[Tracker]:
    """The tracker registered as ``name`` (a class, or its ``module:Class`` reference)."""
    entry = TRACKERS[name]
    return resolve(entry) if isinstance(entry, str) else entry

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
    for name in TRACKERS:
        found.update(tracker_class(name).fields)
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


__all__ = ["latency_columns", "COMBINE", "ENGINE_FIELDS", "TRACKERS", "Field", "Tracker", "fields", "tracker_class"]
