"""``make report``: per profile, measure what is missing, execute every notebook with Papermill, export
HTML with the code hidden, and write ``reports/index.html`` linking them all.

A notebook is re-executed only when something it reads changed (the notebook, its parameters, the
profile's results, the study's code): its inputs are hashed into a stamp beside the HTML.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path


from study.report import display, landing
from study.core import paths
from study.phases.bench import bench
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
    for source in sorted((paths.root() / "src" / "study").rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def page_exporter():
    """HTML with the code hidden, in the study's template: self-contained (nothing fetched from the internet)."""
    from nbconvert import HTMLExporter

    templates = resources.files("study.report").joinpath("templates")
    return HTMLExporter(template_name="study_page", extra_template_basedirs=[str(templates)], exclude_input=True,
                        exclude_input_prompt=True, exclude_output_prompt=True)


def render(notebook: Path, profile: str, force: bool = False) -> tuple[Path, bool, str]:
    """Execute one notebook for one profile and export it; (html path, re-executed?, error or "")."""
    import nbformat
    import papermill

    out_dir = paths.reports_dir() / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    executed, page, stamp = (out_dir / f"{notebook.stem}{suffix}" for suffix in (".ipynb", ".html", ".inputs"))
    parameters = notebook_parameters(notebook, profile)
    key = _inputs_hash(notebook, parameters, profile)
    if not force and page.exists() and stamp.exists() and stamp.read_text() == key:
        return page, False, ""
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


def build_report(profiles: list[str], force: bool = False) -> Path:
    from study.measure.importer import imported_profiles

    profiles = list(dict.fromkeys([*profiles, *imported_profiles()]))  # results imported from devices join in
    for profile in profiles:  # every profile is checked before anything is measured
        load_profile(profile)
    found = notebooks()
    if not found:
        raise StudyError(f"no notebooks in {paths.notebooks_dir()}. Fix: run from the project checkout")
    pages: dict[str, list[Path]] = {}
    failures: list[str] = []
    for profile in profiles:  # all measured before any notebook runs, so the summary compares every profile
        bench(profile, force=force)
    for profile in profiles:
        for notebook in found:
            page, executed, error = render(notebook, profile, force=force)
            print(f"[{profile}] {notebook.stem}: {'executed' if executed else 'unchanged, kept'}"
                  + (f" -- FAILED: {error}" if error else ""))
            pages.setdefault(profile, []).append(page)
            if error:
                failures.append(f"{profile}/{notebook.stem}: {error}")
    index = landing.write_index(profiles, pages, failures)
    if failures:
        raise StudyError(f"{len(failures)} notebook(s) failed ({'; '.join(failures)}). Fix: open the HTML pages "
                         f"in {paths.reports_dir()} for the errors; the others were written")
    return index
