"""The landing page's figure across devices: each runtime's p50 relative to the fastest runtime for the same model on
the same device (never absolute times across machines), one marker per device; none with a single device."""

from __future__ import annotations

import pandas as pd


def _table(p50s: dict[str, float], threads: int = 1) -> pd.DataFrame:
    return pd.DataFrame([{"model": "mobilenet_v2", "runtime": runtime, "p50_ms": p50, "status": "ok", "batch": 1,
                          "threads": threads, "precision": "fp32"} for runtime, p50 in p50s.items()])


def test_each_device_is_drawn_relative_to_its_own_fastest_runtime():
    from study.report.plots import across_devices

    host = _table({"litert": 3.0, "onnxruntime": 3.3})
    board = _table({"litert": 30.0, "onnxruntime": 24.0})  # ten times slower, and the other runtime wins
    assert across_devices({"host-1t": host}) is None
    fig = across_devices({"host-1t": host, "rpi5": board})
    ax = fig.axes[0]
    drawn = {line.get_label(): sorted(round(x, 3) for x in line.get_xdata()) for line in ax.get_lines()
             if not line.get_label().startswith("_")}
    assert drawn == {"host-1t (1t)": [1.0, 1.1], "rpi5 (1t)": [1.0, 1.25]}
    assert "relative to the fastest runtime for the model on the same device" in fig.axes[-1].get_xlabel()
