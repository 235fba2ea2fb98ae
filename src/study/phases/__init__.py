"""The phases of a ``bench`` run, registered once. Each is one module of this folder that says what it plans,
estimates and measures and which tables it writes (a ``Phase``, ``study.phases.base``); ``bench``, the estimate,
the notebooks' "not measured" lines, the CLI's ``--only`` and the Makefile's help read this registry.

Adding a phase is one file (``study/phases/NAME.py`` defining ``PHASE``) and one line below. This module imports
nothing, so a notebook can read the registry without the measuring code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseEntry:
    name: str
    table: str                  # the results file whose presence says the phase was measured
    section: str | None = None  # the profile section that configures it; None: every profile has it
    about: str = ""
    loader: str | None = None   # "module:function" reading its tables for a notebook (profile name -> tables)
    module: str | None = None   # "module:attribute" of its Phase, when not study.phases.<name>:PHASE
    writes: tuple[str, ...] = ()  # the other results files it writes, beside ``table``

    @property
    def tables(self) -> tuple[str, ...]:
        """Every results file the phase writes, the one that says it was measured first."""
        return (self.table, *self.writes)

    @property
    def implementation(self) -> str:
        return self.module or f"study.phases.{self.name}:PHASE"


PHASES: dict[str, PhaseEntry] = {entry.name: entry for entry in (
    PhaseEntry("convert", "conversions.csv", about="export every model to every format, validated against its source"),
    PhaseEntry("latency", "latency.csv", about="time every (model, runtime, threads, batch) case",
               writes=("samples.csv", "comparisons.csv", "peak.json", "bandwidth.json", "naive.json")),
    PhaseEntry("energy", "energy.csv", "energy", "energy per inference: modelled, or a counter's or meter's",
               "study.analyze.energy_tables:load_energy", writes=("energy_windows.csv",)),
    PhaseEntry("operators", "operator_types.csv", "operators", "each runtime's operator profiler",
               "study.measure.operators:load_operator_types", writes=("operators.csv",)),
    PhaseEntry("sustained", "sustained.csv", "sustained", "the fastest runtime per model under sustained load",
               "study.measure.sustained:load_sustained", writes=("sustained_series.csv",)),
    PhaseEntry("quantization", "quant_summary.csv", "quantization", "quantized variants: accuracy, groups, speed",
               "study.analyze.quant_tables:load_tables",
               writes=("quant_latency.csv", "quant_groups.csv", "quant_overview.csv", "quant_claims.csv",
                       "quant_calibration.csv", "quant_exemplars.csv", "quant_pictures.csv", "quant_shipped.csv",
                       "variant_comparisons.csv")),
)}
OPTIONAL = tuple(name for name, entry in PHASES.items() if entry.section)


def configured(profile, name: str) -> bool:
    """Whether ``profile`` measures phase ``name`` (an optional phase needs its section: a key of the profile for the
    study's own phases, an entry of its ``phases:`` mapping for a phase added later)."""
    section = PHASES[name].section
    if section is None:
        return True
    if section in type(profile).model_fields:
        return getattr(profile, section) is not None
    return section in (getattr(profile, "phases", None) or {})


def settings(profile, name: str) -> dict:
    """The section of an added phase, as its profile gives it (the phase validates its own keys in ``check``)."""
    return dict((getattr(profile, "phases", None) or {}).get(PHASES[name].section) or {})
