"""``python -m study import PATH``: bring a ``results/<profile>/`` folder measured on another machine
(a Raspberry Pi, a phone-class board) into this checkout's report.

Everything is checked before anything is written: the environment record, every per-case record
(valid JSON, its keys, filed under its own id) and the tables' columns. A folder that fails any check
is one error line and changes nothing. Existing results are never overwritten unless ``--replace``.
The imported profile is marked (``imported.json``), so ``make report`` renders it without measuring
it on this machine, and every figure names the machine its numbers came from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from study.core import paths
from study.core.errors import StudyError
from study.core.fsutil import write_json_atomic
from study.core.store import RECORD_KEYS, ResultsStore, record_folders
from study.core.schema import required_latency_columns

ENVIRONMENT_KEYS = ("machine", "cpu_model", "architecture", "python", "versions", "utc_time", "profile")
MARKER = "imported.json"


def _fail(message: str) -> None:
    raise StudyError(message)


def check_folder(source: Path) -> dict:
    """The folder's environment record if every file in it is sound; one StudyError naming the first problem."""
    source = Path(source)
    if not source.is_dir():
        _fail(f"{source}: not a folder. Fix: give the results/<profile> folder copied from the other machine")
    linked = next((p for p in source.rglob("*") if p.is_symlink()), None)
    if linked is not None:  # copied, a link would bring in whatever it points to on this machine
        _fail(f"{linked}: a symbolic link, which an imported folder may not hold. Fix: copy the results folder with "
              "its files themselves (cp -r, rsync without --links)")
    env_path = source / "environment.json"
    if not env_path.is_file():
        _fail(f"{source}: no environment.json, so nothing says where these numbers were measured. Fix: copy the "
              "whole results/<profile> folder written by python -m study bench on that machine")
    try:
        environment = json.loads(env_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        _fail(f"{env_path}: not valid JSON (truncated copy?). Fix: copy it again from the other machine")
    missing = [k for k in ENVIRONMENT_KEYS if not isinstance(environment, dict) or k not in environment]
    if missing:
        _fail(f"{env_path}: lacks {', '.join(missing)}. Fix: re-run python -m study bench there with this version")
    profile = environment["profile"]
    if paths.slug(profile) != profile:
        _fail(f"{env_path}: profile name {profile!r} is not a plain name. Fix: use the folder of a real profile")
    carried = source / "profile.yaml"
    if carried.is_file():
        # the profile the folder was measured with travels in it: validated, and matched with the measurements
        from study.plan.profiles import load_profile

        measured_with = load_profile(carried, name=profile)
        if environment.get("profile_hash") and measured_with.content_hash != environment["profile_hash"]:
            _fail(f"{carried}: differs from the profile the results were measured with (hash "
                  f"{measured_with.content_hash}, environment.json says {environment['profile_hash']}). Fix: copy "
                  "the folder again, whole, after python -m study bench finished there")
    elif not paths.profile_file(profile).is_file():
        _fail(f"{source}: no profile.yaml, and profile '{profile}' is not defined in params/profiles here. Fix: "
              f"re-run python -m study bench there with this version (it writes profile.yaml into the folder), or "
              f"copy its YAML from that machine to params/profiles/{profile}.yaml")
    cases = sorted((source / "cases").glob("*.json"))
    if not cases:
        _fail(f"{source}/cases: no case records. Fix: copy the whole folder after python -m study bench finished")
    for directory in record_folders(source):
        for record_path in sorted(directory.glob("*.json")):
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                _fail(f"{record_path}: corrupt record (not valid JSON). Fix: copy it again, or delete it to leave "
                      "that one case out")
            if not isinstance(record, dict) or any(k not in record for k in RECORD_KEYS) \
                    or record["case_id"] != record_path.stem:
                _fail(f"{record_path}: not a results record of this study (keys {', '.join(RECORD_KEYS)}, filed "
                      "under its case_id). Fix: copy it again, or delete it to leave that one case out")
    latency = source / "latency.csv"
    if not latency.is_file():
        _fail(f"{latency}: missing. Fix: python -m study bench --profile {profile} there writes it")
    try:
        columns = set(pd.read_csv(latency, nrows=1).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        _fail(f"{latency}: unreadable CSV. Fix: copy it again")
    absent = [c for c in required_latency_columns() if c not in columns]
    if absent:
        _fail(f"{latency}: lacks columns {', '.join(absent)} (an older version of the study?). Fix: re-run "
              "python -m study bench there with this version")
    return environment


def import_results(source: Path, replace: bool = False, log=print) -> Path:
    source = Path(source).resolve()
    environment = check_folder(source)
    profile = environment["profile"]
    destination = paths.results_dir(profile)
    if destination.resolve() == source:
        _fail(f"{source}: is already this checkout's results folder. Fix: give a folder copied from elsewhere")
    incoming = {d.name: {p.name for p in d.glob("*.json")} for d in record_folders(source)}
    clashes = sum(len(names & {p.name for p in (destination / d).glob("*.json")}) for d, names in incoming.items())
    if destination.exists() and any(destination.iterdir()) and not replace:
        _fail(f"{paths.results_dir(profile).relative_to(paths.root()) if paths.root() in destination.parents else destination}"
              f": results for profile '{profile}' exist here ({clashes} of the imported cases among them). "
              "Fix: add --replace to overwrite them with the imported ones, or import into a checkout without them")
    staging = destination.with_name(f".{destination.name}.importing")
    shutil.rmtree(staging, ignore_errors=True)
    if destination.exists():
        shutil.copytree(destination, staging)
    # everything is copied into a staging folder first; the real folder is swapped in only when complete
    shutil.copytree(source, staging, dirs_exist_ok=True)
    write_json_atomic(staging / MARKER, {"source": str(source), "machine": environment["machine"],
                                         "cpu_model": environment["cpu_model"], "measured_at": environment["utc_time"],
                                         "replaced": clashes if replace else 0})
    backup = destination.with_name(f".{destination.name}.previous")
    shutil.rmtree(backup, ignore_errors=True)
    if destination.exists():
        destination.rename(backup)
    staging.rename(destination)
    shutil.rmtree(backup, ignore_errors=True)
    if replace and clashes:
        ResultsStore(profile).write_tables()  # the latency tables again, from every record now present
    counts = ", ".join(f"{len(v)} {k}" for k, v in incoming.items() if v)
    log(f"imported profile '{profile}' measured on {environment['machine']} ({environment['cpu_model']}): {counts}")
    return destination


def imported(profile: str) -> dict | None:
    """The import marker of a profile measured elsewhere, or None when this machine measures it."""
    marker = paths.results_dir(profile) / MARKER
    return json.loads(marker.read_text()) if marker.exists() else None


def imported_profiles() -> list[str]:
    root = paths.root() / "results"
    return sorted(p.parent.name for p in root.glob(f"*/{MARKER}")) if root.exists() else []
