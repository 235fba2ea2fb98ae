"""``make report``: per profile, measure what is missing, execute every notebook with Papermill, export
HTML with the code hidden, and write ``reports/index.html`` linking them all.

A notebook is re-executed only when something it reads changed (the notebook, its parameters, the
profile's results, the study's code): its inputs are hashed into a stamp beside the HTML.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from importlib import resources
from pathlib import Path


from study.report import display, landing
from study.core import paths
from study.core.environment import utc_now
from study.core.fsutil import write_json_atomic
from study.measure.importer import imported
from study.phases.bench import answer_first, bench, estimate, phases_for
from study.core.errors import StudyError
from study.plan.parameters import notebook_parameters
from study.core.fsutil import write_text_atomic
from study.plan.profiles import load_profile
from study.core.store import ResultsStore

KERNEL = "python3"  # the kernel of the interpreter running the report: the study's environment


def notebooks() -> list[Path]:
    return sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def reads_every_profile(notebook: Path) -> bool:
    """A notebook that compares profiles (the summary) says so in its metadata: ``"study": {"reads_every_profile": true}``."""
    metadata = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    return bool(metadata.get("study", {}).get("reads_every_profile"))


def _inputs_hash(notebook: Path, parameters: dict, profile: str) -> str:
    from study.report.summary import profiles_with_results

    digest = hashlib.sha256()
    digest.update(notebook.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    # every table and summary of the results it reads (the per-case records are behind them); a notebook that
    # compares profiles is stale when any of them changed
    read = sorted({profile, *profiles_with_results()}) if reads_every_profile(notebook) else [profile]
    for name in read:
        for table in sorted(ResultsStore(name).directory.glob("*.[cj]s*")):
            digest.update(f"{name}/{table.name}".encode() + table.read_bytes())
    digest.update(_code_digest().encode())
    return digest.hexdigest()


_CODE: list[str] = []  # per process: the study's code does not change while a report runs


def _code_digest() -> str:
    if not _CODE:
        digest = hashlib.sha256()
        for source in sorted((paths.root() / "src" / "study").rglob("*.py")):
            digest.update(source.read_bytes())
        _CODE.append(digest.hexdigest())
    return _CODE[0]


def page_exporter():
    """HTML with the code hidden, in the study's template: self-contained (nothing fetched from the internet)."""
    from nbconvert import HTMLExporter

    templates = resources.files("study.report").joinpath("templates")
    return HTMLExporter(template_name="study_page", extra_template_basedirs=[str(templates)], exclude_input=True,
                        exclude_input_prompt=True, exclude_output_prompt=True)


def render(notebook: Path, profile: str, force: bool = False) -> tuple[Path, bool, str]:
    """Execute one notebook for one profile and export it; (html path, re-executed?, error or "")."""
    out_dir = paths.reports_dir() / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    executed, page, stamp = (out_dir / f"{notebook.stem}{suffix}" for suffix in (".ipynb", ".html", ".inputs"))
    parameters = notebook_parameters(notebook, profile)
    key = _inputs_hash(notebook, parameters, profile)
    if not force and page.exists() and stamp.exists() and stamp.read_text() == key:
        return page, False, ""
    import nbformat  # a second or two to import: only when a page is made
    import papermill

    error = ""
    try:
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name=KERNEL,
                                   cwd=str(notebook.parent), progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}".splitlines()[0]
    body, _ = page_exporter().from_notebook_node(nbformat.read(str(executed), as_version=4),
                                                 resources={"study_css": display.css()})
    write_text_atomic(page, body)
    if not error:
        write_text_atomic(stamp, key)
    else:
        stamp.unlink(missing_ok=True)
    return page, True, error


class Progress:
    """What a report still has to measure, per profile and phase with its estimate: shown on the landing page while
    it measures (the picks appear as soon as the first profile's latency is in), kept in ``reports/progress.json``
    with when the first answer appeared."""

    def __init__(self, profiles: list[str], force: bool):
        self.started, self.started_at = time.monotonic(), utc_now()
        self.left: dict[str, dict[str, float]] = {}
        for profile in profiles:
            if imported(profile):
                continue
            device = load_profile(profile)
            phases = answer_first(phases_for(device, say=lambda message: None))
            try:
                self.left[profile] = dict(estimate(device, phases, force).phases)
            except StudyError:  # a device not described yet: its cases are counted once it answers
                self.left[profile] = {name: 0.0 for name in phases}
        self.first_answer_s: float | None = None
        self.events: list[dict] = []  # each phase as it lands (and the latency phase's planned rounds), when
        self.file = paths.reports_dir() / "progress.json"

    def landed(self, profile: str, phase: str, left: dict[str, float]) -> None:
        """``phase`` (or a milestone of it, "latency (racing ...)") is in; ``left`` re-estimates what the same bench
        call still runs. Phases that a later call runs keep their first estimate."""
        still = {name: s for name, s in self.left.get(profile, {}).items() if name.split(" (")[0] != phase}
        self.left[profile] = {**still, **left}
        self.events.append({"profile": profile, "landed": phase, "still": list(left),
                            "s": round(time.monotonic() - self.started, 1)})

    def pending(self) -> str:
        parts = [f"{profile}: {', '.join(phases)}" for profile, phases in self.left.items() if phases]
        return "; ".join(parts) or "nothing"

    def minutes_left(self) -> float:
        return sum(sum(phases.values()) for phases in self.left.values()) / 60

    def measuring_banner(self) -> str:
        return (f"<div class=progress><b>Still measuring</b> {html.escape(self.pending())}, about "
                f"{self.minutes_left():.0f} min left by the estimate. The picks below come from what is measured so "
                f"far (every profile's picks once its latency phase is in); this page is rewritten as each phase "
                f"lands, and the notebook pages follow when everything is measured.</div>")

    def interrupted_banner(self, why: str) -> str:
        return (f"<div class=progress><b>Interrupted</b> at {html.escape(utc_now())} ({html.escape(why)}), before "
                f"measuring {html.escape(self.pending())}. What was measured is kept. Finish with <code>make report"
                f"</code>: it measures only what is missing.</div>")

    def save(self, **extra) -> None:
        write_json_atomic(self.file, {"started_at": self.started_at, "first_answer_s": self.first_answer_s,
                                      "pending": self.pending(), "events": self.events, **extra})


def _by_place(profiles: list[str]) -> tuple[list[str], list[str]]:
    """The profiles timed on this machine, and those timed on a device (imported results count as local: nothing is
    measured for them)."""
    local, remote = [], []
    for profile in profiles:
        (remote if load_profile(profile).device is not None and not imported(profile) else local).append(profile)
    return local, remote


def _answered(profiles: list[str]) -> bool:
    return any(ResultsStore(profile).latency_csv.exists() for profile in profiles)


def build_report(profiles: list[str], force: bool = False) -> Path:
    from study.measure.importer import imported_profiles

    profiles = list(dict.fromkeys([*profiles, *imported_profiles()]))  # results imported from devices join in
    for profile in profiles:  # every profile is checked before anything is measured
        load_profile(profile)
    found = notebooks()
    if not found:
        raise StudyError(f"no notebooks in {paths.notebooks_dir()}. Fix: run from the project checkout")
    progress = Progress(profiles, force)

    def landed(profile: str, phase: str, left: dict[str, float]) -> None:
        progress.landed(profile, phase, left)
        if not _answered(profiles):
            return
        index = landing.write_index(profiles, {}, [], status=progress.measuring_banner())
        if progress.first_answer_s is None:
            progress.first_answer_s = round(time.monotonic() - progress.started, 1)
            print(f"first answer on the landing page after {progress.first_answer_s / 60:.1f} min: {index} "
                  f"(still measuring {progress.pending()})")
        progress.save()

    local, remote = _by_place(profiles)
    lost: dict[str, str] = {}
    try:  # every profile measured before any notebook runs, so the summary compares every profile; every local
        # profile's latency phase first (the picks need only it), so the landing page answers for all of them early;
        # then the device profiles, all at once (each device times its own cases: the host is free of them)
        for profile in local:
            bench(profile, force=force, only=["latency"], on_phase=landed)
        for profile in local:
            bench(profile, force=force, skip=("latency",), on_phase=landed)
        if remote:
            from study.phases.farm import bench_devices

            lost = bench_devices(remote, force=force, on_phase=landed)
    except BaseException as exc:  # Ctrl-C or a failed phase: the landing page says what is missing, then it stops
        why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}".splitlines()[0]
        landing.write_index(profiles, {}, [], status=progress.interrupted_banner(why))
        progress.save(interrupted=why)
        raise
    pages: dict[str, list[Path]] = {}
    failures: list[str] = [f"{profile}: not measured on its device: {why}" for profile, why in lost.items()]
    for profile in profiles:
        if profile in lost and not ResultsStore(profile).latency_csv.exists():
            continue  # nothing to show: its failure is named on the landing page
        for notebook in found:
            page, executed, error = render(notebook, profile, force=force)
            print(f"[{profile}] {notebook.stem}: {'executed' if executed else 'unchanged, kept'}"
                  + (f" -- FAILED: {error}" if error else ""))
            pages.setdefault(profile, []).append(page)
            if error:
                failures.append(f"{profile}/{notebook.stem}: {error}")
    index = landing.write_index(profiles, pages, failures)
    progress.save(finished_s=round(time.monotonic() - progress.started, 1))
    if failures:
        raise StudyError(f"{len(failures)} profile(s) or notebook(s) failed ({'; '.join(failures)}). Fix: open the HTML pages "
                         f"in {paths.reports_dir()} for the errors; the others were written")
    return index
