"""What a phase is: it estimates its work from the profile and what is on disk, runs it, and writes its tables.

A ``Run`` is what one ``bench`` run shares between its phases: the profile, the results store, the run id, the
launcher that starts case processes, and the latency cases once planned (most phases repeat some of them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

from study.build.convert import spans_seconds, timing_conversions
from study.core.store import ResultsStore
from study.measure.launcher import Launcher, LocalLauncher
from study.phases import PHASES, PhaseEntry
from study.plan.cases import Case, latency_cases
from study.plan.profiles import Profile


@dataclass
class Estimate:
    """A phase's share of the plan: what it will do (counts), about how long, and the artifacts it needs."""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    artifacts: set[tuple] = field(default_factory=set)  # (model, format, batch or None) it needs converted
    bound_seconds: float = 0.0  # what it may take on top, at most (the race for close calls)


@dataclass
class Run:
    profile: Profile
    store: ResultsStore
    run_id: str
    force: bool = False
    progress: bool = True
    say: Callable[[str], None] = print
    launcher: Launcher = field(default_factory=LocalLauncher)
    measured: list[str] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)  # what the device could not run this time: a rerun measures it
    race_s: dict[str, float] = field(default_factory=dict)  # per phase, the seconds its race took beyond the plan
    # per phase, the seconds it spent converting (a kind of work the estimate scales apart)
    conversion_s: dict[str, float] = field(default_factory=dict)
    phase: str = ""  # the phase running now: its conversions are counted to it
    # writes the run record; a phase calls it before its first case, so an interrupted run still leaves one
    record_run: Callable[[], None] = lambda: None
    # a phase says a first result is in before it ends (latency: the planned rounds, before the race), so a report
    # can show it; the text names what the phase still does
    milestone: Callable[[str], None] = lambda still: None
    _cases: list[Case] | None = None

    def log(self, message: str) -> None:
        self.say(f"[{self.profile.name}] {message}")

    def cases(self) -> list[Case]:
        """The profile's latency cases, converting the artifacts they need the first time a phase asks."""
        if self._cases is None:
            self.log("planning cases (converting artifacts where needed)")
            with timing_conversions() as spans:
                self._cases = latency_cases(self.profile, log=self.log)
            self.converted_for(spans_seconds(spans))  # the checks of artifacts on disk stay the phase's own
        return self._cases

    def converted_for(self, seconds: float) -> None:
        """Count ``seconds`` of conversions to the phase running now (the run record keeps them per phase)."""
        self.conversion_s[self.phase] = round(self.conversion_s.get(self.phase, 0.0) + seconds, 3)


class Phase(ABC):
    name: str

    @property
    def entry(self) -> PhaseEntry:
        return PHASES[self.name]

    def needs(self, profile: Profile) -> tuple[str, ...]:
        """Other phases this one needs in the same run (modelled energy needs the latency cases)."""
        return ()

    def check(self, profile: Profile) -> None:
        """Raise ``StudyError`` before anything runs when the phase cannot work on this machine."""

    @abstractmethod
    def estimate(self, profile: Profile, force: bool) -> Estimate:
        """Its counts and seconds, from the profile and what is on disk, without converting or measuring."""

    @abstractmethod
    def run(self, run: Run) -> list[str]:
        """Measure what is missing (all with ``run.force``) and write the phase's tables; the ids measured."""
