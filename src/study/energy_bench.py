"""Measuring energy with a counter or a meter: each case gets a second process after its latency case (load,
warm up, an idle window, then repeated active windows: the engine's ``windows`` scenario); its raw windows are
the record (``results/<p>/energy/``). With the power model nothing is run: ``study.energy_tables`` computes
energy from the latency cases' CPU time.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from study import environment
from study.energy import rapl_available
from study.energy_tables import energy_cases, write_energy_tables
from study.errors import StudyError
from study.isolate import run_isolated
from study.profiles import Profile
from study.results import ResultsStore
from study.side_cases import spec_for


def measure_energy_case(profile: Profile, case, log_path) -> dict:
    if not case.artifact.ok:
        return {"status": "failed", "error": f"no {case.artifact.format} artifact: "
                                             f"conversion failed: {case.artifact.record.get('error')}"}
    spec = spec_for(case, "windows", trackers=[],
                    energy={**profile.energy.settings(), "rapl_root": profile.energy.rapl_root})
    budget = (profile.energy.windows + 1) * profile.energy.window_seconds + case.timing["max_seconds"]
    return run_isolated(spec, 2 * budget + 300, threads=case.threads, log_path=log_path)


def bench_energy(profile: Profile, cases: list, run_id: str, force: bool = False, progress: bool = True,
                 say=tqdm.write) -> list[str]:
    """Measure the energy of every planned case not measured yet, rewriting energy.csv after each; their ids.
    With the power model nothing is measured here: the table is computed from the latency cases."""
    store = ResultsStore(profile.name, records="energy")
    planned = energy_cases(profile, cases)
    if profile.energy.source == "model":
        table = write_energy_tables(profile, [p[1] for p in planned], cases)
        say(f"[{profile.name}] energy (modelled from each latency case's CPU time): {int((table['status'] == 'ok').sum())}"
            f" of {len(table)} cases")
        return []
    pending = [p for p in planned if force or store.get(p[1]) is None]
    label = f"{profile.energy.source} ({profile.energy.measurement})"
    say(f"[{profile.name}] energy, source {label}: {len(planned)} cases, {len(pending)} to measure, "
        f"{profile.energy.windows} x {profile.energy.window_seconds:g} s windows + 1 idle each")
    for case, case_id, inputs in tqdm(pending, desc=f"{profile.name}: energy", unit="case",
                                      disable=None if progress else True):
        say(f"[{profile.name}] energy of {case.label}")
        result = measure_energy_case(profile, case, store.directory / "logs" / f"energy-{case_id}.log")
        store.put({"case_id": case_id, "status": result["status"], "inputs": inputs,
                   "latency_case_id": case.case_id, "error": result.get("error", ""),
                   "windows": result.get("windows"), "warmup_ms": result.get("warmup_ms"),
                   "label": {"model": case.model, "variant": f"{case.artifact.format}-{case.artifact.precision}",
                             "runtime": case.runtime, "threads": case.threads, "batch": case.batch,
                             "cpus": " ".join(map(str, case.cpus))},
                   "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now()})
        table = write_energy_tables(profile, [p[1] for p in planned], cases)
        row = table[table["case_id"] == case_id].iloc[0]
        if row["status"] == "ok":
            say(f"[{profile.name}]   {row['gross_mj_per_inference']:.3f} mJ/inference gross, "
                f"{row['net_mj_per_inference']:.3f} net, {row['avg_watts']:.2f} W ({row['measurement']})")
        else:
            say(f"[{profile.name}]   FAILED: {row['error']}")
    write_energy_tables(profile, [p[1] for p in planned], cases)
    return [p[1] for p in pending]


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
