"""Peak resident memory (the process's own VmHWM) after import, after load and at the end."""

from __future__ import annotations

from study.measure.timing import peak_rss_mib
from study.measure.trackers.base import Field, Tracker


class Memory(Tracker):
    fields = {"rss_import_mib": Field("worst", "peak resident memory after importing the runtime (MiB)"),
              "rss_load_mib": Field("worst", "peak resident memory after loading the artifact (MiB)"),
              "rss_peak_mib": Field("worst", "peak resident memory after all inferences (MiB)")}

    def __init__(self):
        self.peaks: dict[str, float] = {}

    def stage(self, name: str) -> None:
        if name in ("imported", "loaded", "done"):
            self.peaks[name] = peak_rss_mib()

    def result(self) -> dict:
        return {"rss_import_mib": self.peaks.get("imported"), "rss_load_mib": self.peaks.get("loaded"),
                "rss_peak_mib": self.peaks.get("done")}
