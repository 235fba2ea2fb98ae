"""What a notebook reads: a profile's stored results, never a measurement.

``study bench`` measures; notebooks open ``results/<profile>/`` (and the artifact records behind the
conversion matrix) through these helpers. A profile never measured stops the notebook with one line and
the command to run; a phase the profile does not configure reads as "not measured for this profile".
"""

from __future__ import annotations

from study.report import display
from study.core import paths
from study.core.registry import resolve
from study.phases import PHASES, configured as phase_configured
from study.plan.profiles import Profile, load_profile

display.install()  # every table a notebook shows: no index column, whole cells, units, rounded to its interval



class NotMeasured(Exception):
    """Shown by IPython as its one line, without a traceback: the reader needs the command, not the stack."""

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


def profile_of(profile: str) -> Profile:
    return load_profile(profile)


def configured(profile: str, phase: str) -> bool:
    """Whether the profile measures ``phase`` at all (energy and quantization are optional sections)."""
    return phase_configured(load_profile(profile), phase)


def require(profile: str, *phases: str) -> Profile:
    """The profile, after checking that every configured phase among ``phases`` has been measured."""
    device = load_profile(profile)
    directory = paths.results_dir(profile)
    missing = [p for p in phases if configured(profile, p) and not (directory / PHASES[p].table).exists()]
    if missing:
        which = ",".join(missing)
        raise NotMeasured(f"profile '{profile}' has no {which} results in results/{profile}/. Measure first: "
                          f"python -m study bench --profile {profile} --only {which}")
    return device


def not_measured(profile: str, phase: str):
    """The sentence a report shows where a profile does not measure a phase."""
    from IPython.display import Markdown

    section = PHASES[phase].section
    where = section if section in Profile.model_fields else f"phases: {section}"  # an added phase's lives there
    return Markdown(f"*{phase.capitalize()}: not measured for this profile (`{profile}` has no `{where}` section; "
                    f"add one to params/profiles/{profile}.yaml to measure it).*")


class Off:
    """Stands for the tables of a phase the profile does not measure: every view of it says so."""

    def __init__(self, profile: str, phase: str):
        self.profile, self.phase = profile, phase

    def __bool__(self) -> bool:
        return False


def load(profile: str, phase: str):
    """A phase's tables (energy: energy.csv; quantization: every quant_*.csv), or ``Off`` where not configured."""
    if not configured(profile, phase):
        return Off(profile, phase)
    require(profile, phase)
    if PHASES[phase].loader is None:
        raise ValueError(f"no loader for phase {phase!r}")
    return resolve(PHASES[phase].loader)(profile)


def show(view, tables, *args, **kwargs):
    """``view(tables, ...)``, or the "not measured for this profile" line when the phase is off."""
    if isinstance(tables, Off):
        return not_measured(tables.profile, tables.phase)
    return view(tables, *args, **kwargs)


def measured(tables) -> bool:
    """Whether a phase's tables were loaded (not ``Off``)."""
    return not isinstance(tables, Off)


def sentence(view, tables, *args, **kwargs):
    """``view(tables, ...)``'s sentence shown as text, or the "not measured for this profile" line."""
    if isinstance(tables, Off):
        return not_measured(tables.profile, tables.phase)
    from IPython.display import Markdown

    return Markdown(view(tables, *args, **kwargs))
