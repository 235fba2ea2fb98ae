"""The tracker interface: what a tracker observes in a case's process, and the fields it owns.

A tracker is told each stage of the engine (start, imported, loaded, first, timed, timed_done, done) and is
called between timed calls, outside the timed interval. It declares its fields: how each combines over a
case's processes, whether it is a column of the latency table, and what it means. The case core
(``study.measure.cases``) pools and tabulates from these declarations alone, so a new metric is one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np


def _median(values: list) -> Any:
    return float(np.median(values))


COMBINE: dict[str, Callable[[list], Any]] = {
    "median": _median,   # a typical process (start-up times)
    "worst": max,        # the worst process (memory peaks, contention)
    "first": lambda values: values[0],  # the same in every process (what the runtime mapped)
}


@dataclass(frozen=True)
class Field:
    """One measured field: ``combine`` names how processes combine into the case (``kept``: stays per process in
    the record, never pooled into a column), and ``description`` is its schema line (meaning and unit)."""
    combine: str
    description: str = ""

    def __post_init__(self):
        if self.combine not in (*COMBINE, "kept"):
            raise ValueError(f"combine must be one of {', '.join((*COMBINE, 'kept'))}, not {self.combine!r}")

    @property
    def column(self) -> bool:
        return self.combine != "kept"


class Tracker:
    """Observes one case: told each stage, and called between timed calls (outside the timed interval)."""
    fields: ClassVar[dict[str, Field]] = {}

    def stage(self, name: str) -> None:
        pass

    def between_calls(self) -> None:
        pass

    def result(self) -> dict:
        return {}
