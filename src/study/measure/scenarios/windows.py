"""Energy from a counter or a meter: ``windows`` windows of ``window_seconds`` of calls and an idle one
(``study.measure.energy.measure_windows``)."""

from __future__ import annotations


def drive(call, backend, inputs, spec, stage, after_each) -> dict:
    from study.measure.energy import measure_windows

    settings = spec.options["energy"]
    return {"windows": measure_windows(call, settings["window_seconds"], settings["windows"], settings["source"],
                                       settings.get("rapl_root"))}
