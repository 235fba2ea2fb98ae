"""Energy per inference. With a counter or a meter, each case gets a second process after its latency case (load,
warm up, an idle window, then repeated active windows: the engine's ``windows`` scenario); its raw windows are
the record (``results/<p>/energy/``). With the power model nothing is run: ``study.analyze.energy_tables``
computes energy from the latency cases' CPU time. Either way, ``energy.csv`` and ``energy_windows.csv``."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from study.analyze.energy_tables import energy_batches, energy_cases, write_energy_tables
from study.core import environment
from study.core.errors import StudyError
from study.core.store import ResultsStore
from study.measure.energy import rapl_available
from study.phases.base import Estimate, Phase, Run
from study.phases.side_cases import lost, measure_side
from study.plan import estimate as costs
from study.plan.cases import settings
from study.plan.profiles import Profile


def measure_energy_case(profile: Profile, case, log_path, launcher):
    budget = (profile.energy.windows + 1) * profile.energy.window_seconds + case.timing["max_seconds"]
    return measure_side(launcher, case, "windows", 2 * budget + 300, log_path, trackers=[],
                        energy={**profile.energy.settings(), "rapl_root": profile.energy.rapl_root})


def check_energy_source(profile: Profile) -> None:
    """Fail before measuring anything when the profile's energy source cannot work on this machine."""
    energy = profile.energy
    if energy.source == "rapl" and not rapl_available(Path(energy.rapl_root)):
        raise StudyError(f"{profile.path.name}: energy.source: rapl, but no readable RAPL counters under "
                         f"{energy.rapl_root}. Fix: use source model (labelled modelled) or meter, or make "
                         "energy_uj readable (root, or chmod on the powercap files)")
    if energy.source == "meter" and not Path(energy.meter_csv).parent.is_dir():
        raise StudyError(f"{profile.path.name}: energy.meter_csv: folder {Path(energy.meter_csv).parent} does not "
                         "exist. Fix: point it where your meter's CSV will be saved")


class Energy(Phase):
    name = "energy"

    def needs(self, profile: Profile) -> tuple[str, ...]:
        return ("latency",) if profile.energy.source == "model" else ()

    def check(self, profile: Profile) -> None:
        check_energy_source(profile)

    def estimate(self, profile: Profile, force: bool) -> Estimate:
        energy = profile.energy
        batches = energy_batches(profile)
        n = sum(1 for s in settings(profile, log=lambda message: None) if s.batch in batches)
        if energy.source == "model":
            return Estimate({"energy cases": n})  # computed from the latency cases' CPU time: no extra process
        recorded = len(list(ResultsStore(profile.name, records="energy").cases_dir.glob("*.json")))
        count = n if force else max(0, n - recorded)
        return Estimate({"energy cases": count},
                        count * (costs.PROCESS_S + (energy.windows + 1) * energy.window_seconds))

    def run(self, run: Run) -> list[str]:
        """Measure the energy of every planned case not measured yet, rewriting energy.csv after each; their ids.
        With the power model nothing is measured here: the table is computed from the latency cases."""
        profile, cases = run.profile, run.cases()
        store = ResultsStore(profile.name, records="energy")
        planned = energy_cases(profile, cases)
        if profile.energy.source == "model":
            table = write_energy_tables(profile, [p[1] for p in planned], cases)
            run.log(f"energy (modelled from each latency case's CPU time): {int((table['status'] == 'ok').sum())}"
                    f" of {len(table)} cases")
            return []
        pending = [p for p in planned if run.force or store.get(p[1]) is None]
        label = f"{profile.energy.source} ({profile.energy.measurement})"
        run.log(f"energy, source {label}: {len(planned)} cases, {len(pending)} to measure, "
                f"{profile.energy.windows} x {profile.energy.window_seconds:g} s windows + 1 idle each")
        for case, case_id, inputs in tqdm(pending, desc=f"{profile.name}: energy", unit="case",
                                          disable=None if run.progress else True):
            run.log(f"energy of {case.label}")
            result = measure_energy_case(profile, case, store.logs_dir / f"energy-{case_id}.log",
                                         run.launcher)
            if lost(run, result, case.label):
                continue
            store.put({"case_id": case_id, "status": result.status, "inputs": inputs,
                       "latency_case_id": case.case_id, "error": result.error,
                       "windows": result.get("windows"), "warmup_ms": result.get("warmup_ms"),
                       "label": {"model": case.model, "variant": f"{case.artifact.format}-{case.artifact.precision}",
                                 "runtime": case.runtime, "threads": case.threads, "batch": case.batch,
                                 "cpus": " ".join(map(str, case.cpus))},
                       "machine": run.launcher.machine, "run_id": run.run_id,
                       "measured_at": environment.utc_now()})
            table = write_energy_tables(profile, [p[1] for p in planned], cases)
            row = table[table["case_id"] == case_id].iloc[0]
            if row["status"] == "ok":
                run.log(f"  {row['gross_mj_per_inference']:.3f} mJ/inference gross, "
                        f"{row['net_mj_per_inference']:.3f} net, {row['avg_watts']:.2f} W ({row['measurement']})")
            else:
                run.log(f"  FAILED: {row['error']}")
        write_energy_tables(profile, [p[1] for p in planned], cases)
        return [p[1] for p in pending]


PHASE = Energy()
