"""The shared libraries the runtime mapped to import, load and run the model: its native footprint."""

from __future__ import annotations

import os

from study.measure.trackers.base import Field, Tracker


def mapped_libraries() -> set[str]:
    """Shared libraries mapped into this process now (Linux /proc/self/maps; empty elsewhere)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return {line.split(maxsplit=5)[5].strip() for line in maps
                    if line.count(" ") >= 5 and ".so" in line.rsplit("/", 1)[-1]}
    except OSError:
        return set()


class Libraries(Tracker):
    fields = {"native_lib_mib": Field("first", "size on disk of the shared libraries the runtime mapped to load and "
                                               "run the model (MiB)"),
              "native_libs": Field("kept", "paths of those libraries")}

    def __init__(self):
        self.before: set[str] = set()
        self.added: list[str] = []

    def stage(self, name: str) -> None:
        if name == "start":
            self.before = mapped_libraries()
        elif name == "first":
            self.added = sorted(mapped_libraries() - self.before)

    def result(self) -> dict:
        size = sum(os.path.getsize(p) for p in self.added if os.path.exists(p))
        return {"native_lib_mib": size / 2**20, "native_libs": self.added}
