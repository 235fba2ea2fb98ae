"""Peak resident memory (the process's own VmHWM) after import, after load and at the end."""

from __future__ import annotations

import resource

from study.measure.trackers.base import Field, Tracker


def peak_rss_mib() -> float:
    """Peak resident set size of this process image so far, in MiB.

    On Linux this is ``VmHWM``: ``ru_maxrss`` is no use in a fresh subprocess, because it survives
    ``execve`` and so starts at the resident size of the parent that forked it.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # reported in kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


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
