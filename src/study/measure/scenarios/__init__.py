"""How a case's process drives its runtime once it is loaded and warm: one module per scenario, registered once
below. The engine (``study.measure.engine``) resolves the spec's scenario here and calls its ``drive``; the launcher
checks a spec's scenario against the same names.

A scenario's ``drive(call, backend, inputs, spec, stage, after_each)`` returns the fields it adds to the process's
record: ``call()`` is one inference, ``stage(name)`` marks a stage for the trackers, ``after_each`` (or None) is
what the trackers observe between calls. Adding a scenario is one file (``study/measure/scenarios/NAME.py``
defining ``drive``) and one line below. This module imports nothing, so the launcher can read the names.
"""

from __future__ import annotations

SCENARIOS: dict[str, str] = {
    "latency": "study.measure.scenarios.latency:drive",      # timed runs until the profile's budget is met
    "sustained": "study.measure.scenarios.sustained:drive",  # one continuous run: does the rate hold?
    "operators": "study.measure.scenarios.operators:drive",  # the runtime's own profiler: time per operator
    "windows": "study.measure.scenarios.windows:drive",      # energy: long windows and an idle one
    "duel": "study.measure.scenarios.duel:drive",            # kept alive, loaded and warm: bursts on request
}
