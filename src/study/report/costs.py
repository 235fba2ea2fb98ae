"""What the project's commands cost, per machine class: records of timed runs in ``runs/``, and the README's cost
table generated from them (``python -m study.report.costs --write``; a test checks the README holds what the
records say).

The class comes from a number the study measures: MobileNetV2 fp32 in LiteRT at one thread, batch 1 (its p50, ms).
At most 5 ms is the fast class, above it the slow one. The budgets are the project's, per class.

    python -m study.report.costs record ".ci/run" 738 --fresh --tests 316   # after timing a command
    python -m study.report.costs --write                                   # regenerate the README table
    python -m study.report.costs estimates                                 # the estimate beside each phase's time
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from study.core import environment, paths
from study.core.errors import StudyError
from study.core.fsutil import write_json_atomic, write_text_atomic

FAST_CLASS_MAX_MS = 5.0
PROBE = {"model": "mobilenet_v2", "runtime": "litert", "threads": 1, "batch": 1, "precision": "fp32"}
# minutes, per class: the one place the project's budgets are written
BUDGETS_MIN: dict[str, dict[str, float]] = {
    "make test": {"fast": 10, "slow": 20},
    ".ci/run": {"fast": 15, "slow": 30},
    "make report": {"fast": 40, "slow": 90},
    "first answer": {"fast": 10, "slow": 20},
    "make report again": {"fast": 0.25, "slow": 0.25},
}
COMMANDS = tuple(BUDGETS_MIN)
WHAT = {"make test": "`make test`, environment built", ".ci/run": "`.ci/run` on a fresh clone",
        "make report": "first default `make report` on a fresh clone, environment built",
        "first answer": "first answer on the landing page", "make report again": "`make report` again, nothing changed"}
MARKER_START = "<!-- costs:start (python -m study.report.costs --write) -->\n"
MARKER_END = "<!-- costs:end -->"


def machine_class(probe_ms: float | None) -> str | None:
    if probe_ms is None or not probe_ms > 0:
        return None
    return "fast" if probe_ms <= FAST_CLASS_MAX_MS else "slow"


def probe_ms(results_root: Path | None = None) -> float | None:
    """This machine's probe, from the latest measured profile that has the probe case (``None`` when none has)."""
    found = []
    for latency in sorted((results_root or paths.root() / "results").glob("*/latency.csv")):
        table = pd.read_csv(latency)
        mine = table[(table["status"] == "ok") & (table["machine"] == environment.machine_name())]
        for key, value in PROBE.items():
            mine = mine[mine[key] == value]
        found += [(row.measured_at, row.p50_ms) for row in mine.itertuples()]
    return float(sorted(found)[-1][1]) if found else None


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.root(), capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def record(command: str, seconds: float, probe: float | None, fresh: bool, tests: int | None = None,
           note: str = "") -> Path:
    """Keep one timed run of a project command in ``runs/`` (atomically; one file per run)."""
    if command not in COMMANDS:
        raise StudyError(f"unknown command {command!r}. Fix: one of {', '.join(COMMANDS)}")
    klass = machine_class(probe)
    if klass is None:
        raise StudyError("no machine probe: MobileNetV2 fp32 in LiteRT at one thread has not been measured on this "
                         "machine. Fix: run make report (host-1t measures it), or pass --probe-ms")
    now = datetime.now(timezone.utc)
    entry = {"command": command, "seconds": round(float(seconds), 1), "machine_class": klass,
             "probe_ms": round(float(probe), 3), "cpu_model": environment.cpu_model(), "fresh_clone": fresh,
             "tests": tests, "commit": _commit(), "recorded_at": now.isoformat(timespec="seconds"), "note": note}
    slug = re.sub(r"[^a-z0-9]+", "-", command.lower()).strip("-")
    path = paths.project_runs_dir() / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{slug}.json"
    write_json_atomic(path, entry)
    return path


def runs(directory: Path | None = None) -> list[dict]:
    """Every valid record, oldest first; a damaged or foreign file is skipped with a warning, never trusted."""
    found = []
    for path in sorted((directory or paths.project_runs_dir()).glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            ok = (isinstance(entry, dict) and entry.get("command") in COMMANDS
                  and entry.get("machine_class") in ("fast", "slow") and float(entry["seconds"]) >= 0)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            ok = False
        if ok:
            found.append(entry)
        else:
            print(f"warning: {path.name}: not a run record (command, machine_class, seconds); skipped", file=sys.stderr)
    return found


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _budget(minutes: float) -> str:
    return f"{minutes:g} min" if minutes >= 1 else f"{minutes * 60:g} s"


def table_markdown(entries: list[dict] | None = None) -> str:
    """One row per machine class: each command's latest timed run there against its budget."""
    entries = runs() if entries is None else entries
    lines = ["| machine class | " + " | ".join(WHAT[c] for c in COMMANDS) + " |",
             "| --- |" + " --- |" * len(COMMANDS)]
    for klass, rule in (("fast", f"probe at most {FAST_CLASS_MAX_MS:g} ms"), ("slow", f"probe above {FAST_CLASS_MAX_MS:g} ms")):
        mine = [e for e in entries if e["machine_class"] == klass]
        probes = sorted({round(e["probe_ms"], 1) for e in mine})
        seen = f"; measured: {', '.join(f'{p:g} ms' for p in probes)}" if probes else ""
        cells = []
        for command in COMMANDS:
            latest = [e for e in mine if e["command"] == command]
            budget = BUDGETS_MIN[command][klass]
            if not latest:
                cells.append(f"not timed (budget {_budget(budget)})")
                continue
            seconds = latest[-1]["seconds"]
            verdict = "within" if seconds <= budget * 60 else "over"
            cells.append(f"{_duration(seconds)}, {verdict} {_budget(budget)}")
        lines.append(f"| {klass} ({rule}{seen}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def readme_section(readme: str) -> str:
    if MARKER_START not in readme or MARKER_END not in readme:
        raise StudyError("README.md has no cost table markers. Fix: put the costs markers back (see study.report.costs)")
    return readme.split(MARKER_START, 1)[1].split(MARKER_END, 1)[0]


def write_readme(readme_path: Path | None = None) -> None:
    path = readme_path or paths.root() / "README.md"
    text = path.read_text(encoding="utf-8")
    write_text_atomic(path, text.replace(MARKER_START + readme_section(text) + MARKER_END,
                                         MARKER_START + table_markdown() + MARKER_END))


def estimates(results_root: Path | None = None) -> pd.DataFrame:
    """Each run's estimate beside what it took, phase by phase, from the run records (``results/*/runs/``): the
    estimate counts the race's expected share (``estimate_races``), the measured seconds include the race it ran
    (``race_s``). ``error_pct`` is the measured time's distance from the estimate, in % of the measured time;
    ``error_s`` the same in seconds (a phase that only checks the disk takes hundredths of a second)."""
    rows = []
    for path in sorted((results_root or paths.root() / "results").glob("*/runs/*.json")):
        try:
            run = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a damaged record says nothing about the estimate; the run's own tables are elsewhere
        measured, estimated = run.get("phases") or {}, run.get("estimate_phases") or {}
        for phase, took in measured.items():
            if phase not in estimated:
                continue
            rows.append({"profile": path.parent.parent.name, "run_id": path.stem, "commit": run.get("git_commit"),
                         "phase": phase, "estimate_s": estimated[phase], "measured_s": took,
                         "race_estimate_s": (run.get("estimate_races") or {}).get(phase),
                         "race_s": (run.get("race_s") or {}).get(phase),
                         "error_pct": 100.0 * (estimated[phase] - took) / took if took else None,
                         "error_s": round(estimated[phase] - took, 3),
                         "calibrated_from": (run.get("estimate_sources") or {}).get(phase)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m study.report.costs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the README's cost table from runs/")
    sub = parser.add_subparsers(dest="action")
    add = sub.add_parser("record", help="keep one timed run of a project command")
    add.add_argument("command", choices=COMMANDS)
    add.add_argument("seconds", type=float)
    add.add_argument("--probe-ms", type=float, default=None, help="default: this machine's latest measured probe")
    add.add_argument("--fresh", action="store_true", help="timed on a fresh clone")
    add.add_argument("--tests", type=int, default=None, help="tests that ran")
    add.add_argument("--note", default="")
    sub.add_parser("estimates", help="each run's estimate beside what it took, phase by phase (results/*/runs/)")
    args = parser.parse_args(argv)
    try:
        if args.action == "record":
            print(record(args.command, args.seconds, args.probe_ms if args.probe_ms is not None else probe_ms(),
                         args.fresh, args.tests, args.note))
        if args.action == "estimates":
            with pd.option_context("display.width", 200, "display.max_colwidth", 60):
                print(estimates().to_string(index=False))
        if args.write:
            write_readme()
        if not args.action and not args.write:
            print(table_markdown(), end="")
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
