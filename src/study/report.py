"""``make report``: per profile, measure what is missing, execute every notebook with Papermill, export
HTML with the code hidden, and write ``reports/index.html`` linking them all.

A notebook is re-executed only when something it reads changed (the notebook, its parameters, the
profile's results, the study's code): its inputs are hashed into a stamp beside the HTML.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

import yaml

from study import paths
from study.bench import bench
from study.errors import StudyError
from study.fsutil import write_text_atomic
from study.profiles import load_profile
from study.results import ResultsStore

KERNEL = "python3"  # the kernel of the interpreter running the report: the study's environment


def notebooks() -> list[Path]:
    return sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def notebook_parameters(notebook: Path, profile: str) -> dict:
    source = paths.notebook_params_file()
    every = {}
    if source.exists():
        try:
            every = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise StudyError(f"{source.name}: malformed YAML ({str(exc).splitlines()[0]}). Fix: correct it") from None
        if not isinstance(every, dict):
            raise StudyError(f"params/{source.name}: expected a mapping of notebook name to parameters. Fix: "
                             "write e.g. '01_inference_time: {}'")
    own = every.get(notebook.stem) or {}
    if not isinstance(own, dict):
        raise StudyError(f"params/{source.name}: {notebook.stem}: expected a mapping of parameters. Fix: write "
                         f"'{notebook.stem}: {{name: value}}'")
    return {**own, "profile": profile}


def reads_every_profile(notebook: Path) -> bool:
    """A notebook that compares profiles (the summary) says so in its metadata: ``"study": {"reads_every_profile": true}``."""
    metadata = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    return bool(metadata.get("study", {}).get("reads_every_profile"))


def _inputs_hash(notebook: Path, parameters: dict, profile: str) -> str:
    from study.summary import profiles_with_results

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


def render(notebook: Path, profile: str, force: bool = False) -> tuple[Path, bool, str]:
    """Execute one notebook for one profile and export it; (html path, re-executed?, error or "")."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

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
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(str(executed), as_version=4))
    write_text_atomic(page, body)
    if not error:
        write_text_atomic(stamp, key)
    else:
        stamp.unlink(missing_ok=True)
    return page, True, error


def _headline(profile: str) -> str:
    store = ResultsStore(profile)
    if not store.latency_csv.exists():
        return "<p>No results.</p>"
    import pandas as pd

    table = pd.read_csv(store.latency_csv)
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return "<p>No case succeeded; see the notebook for the errors.</p>"
    pivot = ok.pivot_table(index=["model", "threads", "batch"], columns="runtime", values="p50_ms").round(2)
    return ("<div class=scroll>" + pivot.to_html(classes="headline", border=0, na_rep="–") + "</div>"
            "<p class=note>p50 latency in ms, measured; – where the runtime has no route from that model's "
            "framework.</p>")


def _environment(profile: str) -> str:
    store = ResultsStore(profile)
    if not store.environment_json.exists():
        return ""
    env = json.loads(store.environment_json.read_text())
    return (f"<p class=env>{html.escape(str(env.get('cpu_model')))} · {env.get('cpu_count')} CPUs · "
            f"{html.escape(str(env.get('os')))} · Python {env.get('python')} · commit "
            f"{html.escape(str(env.get('git_commit')))[:12]} · measured {html.escape(str(env.get('utc_time')))} · "
            f"<a href='../results/{html.escape(profile)}/environment.json'>environment.json</a></p>")


def _claims(profile: str) -> str:
    from study.claims import check_claims

    checked = check_claims(profile)
    if checked.empty:
        return ""
    counts = checked["verdict"].value_counts()
    return ("<p>The articles' claims against this profile's measurements: " + ", ".join(
        f"{n} {html.escape(v)}" for v, n in counts.items()) + " (table in the summary notebook).</p>")


def _measuring_time(profile: str) -> str:
    """When the profile was last measured here and how long measuring it took, phase by phase, over its runs."""
    runs = [r for r in ResultsStore(profile).runs() if r.get("phases")]
    if not runs:
        return ""
    phases: dict[str, float] = {}
    for run in runs:
        for phase, seconds in run["phases"].items():
            phases[phase] = phases.get(phase, 0.0) + seconds
    total = sum(phases.values())
    last = max(r.get("finished_at") or r.get("utc_time", "") for r in runs)
    from study.bench import PHASES

    split = ", ".join(f"{phase} {phases[phase] / 60:.1f}" for phase in PHASES if phase in phases)
    return (f"<p class=env>Measured here, last on {html.escape(str(last))}: {total / 60:.1f} min of measuring over "
            f"{len(runs)} run(s) (minutes per phase: {html.escape(split)}).</p>")


def _origin(profile: str) -> str:
    from study.importer import imported

    origin = imported(profile)
    if not origin:
        return ""
    return (f"<p class=env>Imported: measured on {html.escape(str(origin['machine']))} "
            f"({html.escape(str(origin['cpu_model']))}), not on this machine.</p>")


def write_index(profiles: list[str], pages: dict[str, list[Path]], failures: list[str]) -> Path:
    from study.environment import utc_now

    sections = []
    for profile in profiles:
        links = " · ".join(f"<a href='{html.escape(profile)}/{p.name}'>{html.escape(p.stem)}</a>"
                           for p in pages.get(profile, []))
        sections.append(f"<h2>Profile <code>{html.escape(profile)}</code></h2>"
                        f"<p>{html.escape(load_profile(profile).description)}</p>"
                        f"{_origin(profile)}{_environment(profile)}{_measuring_time(profile)}{_headline(profile)}"
                        f"{_claims(profile)}"
                        f"<p>Notebooks: {links}</p>")
    problems = "".join(f"<li>{html.escape(f)}</li>" for f in failures)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Edge runtime study</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}}
table.headline{{border-collapse:collapse}} table.headline td,table.headline th{{padding:.3em .8em;text-align:right;
border-bottom:1px solid #ddd}} .env,.note{{color:#555;font-size:.9em}} .scroll{{overflow-x:auto}}</style></head><body>
<h1>Edge runtime study</h1>
<p>Which runtime should I ship my model on, for my device? Every number below is measured by this study's code
on the machine named; the notebooks carry the raw distributions and the caveats.</p>
{"<h2>Problems</h2><ul>" + problems + "</ul>" if problems else ""}
{"".join(sections)}
<p class=note>Generated {utc_now()}.</p></body></html>"""
    index = paths.reports_dir() / "index.html"
    write_text_atomic(index, page)
    return index


def build_report(profiles: list[str], force: bool = False) -> Path:
    from study.importer import imported_profiles

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
    index = write_index(profiles, pages, failures)
    if failures:
        raise StudyError(f"{len(failures)} notebook(s) failed ({'; '.join(failures)}). Fix: open the HTML pages "
                         f"in {paths.reports_dir()} for the errors; the others were written")
    return index
