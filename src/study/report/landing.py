"""``reports/index.html``: the page that answers. Per profile and model, the runtime to ship for the default
budgets with its full reason, ties named, the runner-up and its margin; the headline figure; findings written
from the data; then the notebook pages, the raw tables and where every number was measured.

Self-contained: styles inline, figures embedded, nothing fetched from another host.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import pandas as pd

from study.report import display
from study.core import paths
from study.core.fsutil import write_text_atomic
from study.plan.profiles import load_profile
from study.core.store import ResultsStore

def raw_tables() -> tuple[str, ...]:
    """Every table a phase writes (the registry says which), then where they were measured."""
    from study.phases import PHASES

    return (*dict.fromkeys(t for entry in PHASES.values() for t in entry.tables if not t.endswith(".json")),
            "environment.json", "device.json")


def _figure_tag(fig, alt: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{encoded}'>"


def _environment(profile: str) -> str:
    store = ResultsStore(profile)
    if not store.environment_json.exists():
        return ""
    env = json.loads(store.environment_json.read_text())
    device = env.get("timed_on")
    if device:
        return (f"<p class=env>Timed on the device {html.escape(str(device.get('machine')))}: "
                f"{html.escape(str(device.get('cpu_model')))} · {len(device.get('cpus_available') or [])} CPUs · "
                f"{html.escape(str(device.get('os')))} · Python {html.escape(str(device.get('python')))}; built and "
                f"checked on {html.escape(str(env.get('machine')))} · commit {html.escape(str(env.get('git_commit')))[:12]}"
                f" · {html.escape(str(env.get('utc_time')))}</p>")
    return (f"<p class=env>Measured on {html.escape(str(env.get('machine')))}: {html.escape(str(env.get('cpu_model')))}"
            f" · {env.get('cpu_count')} CPUs · {html.escape(str(env.get('os')))} · Python {env.get('python')} · "
            f"commit {html.escape(str(env.get('git_commit')))[:12]} · {html.escape(str(env.get('utc_time')))}</p>")


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
    from study.phases import PHASES

    split = ", ".join(f"{phase} {phases[phase] / 60:.1f}" for phase in PHASES if phase in phases)
    return (f"<p class=env>Measured here, last on {html.escape(str(last))}: {total / 60:.1f} min of measuring over "
            f"{len(runs)} run(s) (minutes per phase: {html.escape(split)}).</p>")


def _origin(profile: str) -> str:
    from study.measure.importer import imported

    origin = imported(profile)
    if not origin:
        return ""
    return (f"<p class=env>Imported: measured on {html.escape(str(origin['machine']))} "
            f"({html.escape(str(origin['cpu_model']))}), not on this machine.</p>")


def _budgets_sentence(budgets: dict) -> str:
    return (f"p50 at batch 1 ≤ {budgets['latency_budget_ms']:g} ms, model file ≤ {budgets['size_budget_mb']:g} MB, "
            f"accuracy drop ≤ {budgets['max_accuracy_drop_pp']:g} pp overall and ≤ "
            f"{budgets['max_group_drop_pp']:g} pp for any group")


def _picks(view: pd.DataFrame) -> str:
    """The picks in the first screen: a short sentence per model, and why in full a click away."""
    rows = "".join(
        f"<tr><td class='text'>{html.escape(str(r['model']))}</td><td class='text'>{html.escape(str(r['ship']))}"
        f"<details><summary>why</summary>{html.escape(str(r['reason']))}</details></td></tr>"
        for r in view.to_dict("records"))
    return f"<table class='picks'><thead><tr><th class='text'>model</th><th class='text'>ship</th></tr></thead>" \
           f"<tbody>{rows}</tbody></table>"


_DRAWN: dict[tuple, str] = {}  # per process: a report rewrites this page as each phase lands, often from the same tables


def _tables_state(profile: str) -> tuple:
    """What a profile's answer is drawn from: its tables and parameters, by content (a phase rewrites a table it did
    not change)."""
    import hashlib

    found = [*sorted(paths.results_dir(profile).glob("*.csv")), paths.notebook_params_file()]
    return tuple((str(path), hashlib.sha256(path.read_bytes()).hexdigest()) for path in found if path.exists())


def _answer(profile: str, budgets: dict) -> str:
    """The profile's picks and headline figure, drawn again only when its tables changed."""
    key = (profile, json.dumps(budgets, sort_keys=True), _tables_state(profile))
    if key not in _DRAWN:
        _DRAWN[key] = _draw_answer(profile, budgets)
    return _DRAWN[key]


def _draw_answer(profile: str, budgets: dict) -> str:
    from study.report import plots, summary

    store = ResultsStore(profile)
    if not store.latency_csv.exists():
        return "<p>Not measured yet: <code>python -m study bench --profile " + html.escape(profile) + "</code>.</p>"
    picks = summary.recommend(profile, **budgets)
    parts = []
    if len(picks):
        parts.append(_picks(summary.pick_view(picks)))
    else:
        parts.append("<p>No case succeeded; the inference-time page lists the errors.</p>")
    small = summary.recommend_small_models(profile, **budgets)
    if len(small):
        parts.append("<h4>Small trained models (the quantization study's 16x16 and 64x64 networks)</h4>"
                     "<p class=note>Trained here so accuracy can be measured; far smaller than anything shipped, so "
                     "their picks do not transfer to the models above.</p>" + _picks(summary.pick_view(small)))
    shipped = summary.recommend_shipped(profile, **budgets)
    if len(shipped):
        names = ", ".join(html.escape(str(m)) for m in dict.fromkeys(shipped["model"]))
        parts.append(f"<h4>Trained models people ship ({names})</h4>"
                     "<p class=note>The files as their packages ship them, in every runtime they reach, and their "
                     "float16 and int8 variants; a variant's drop is what its task fidelity against the shipped "
                     "fp32 file lost on real images (face boxes, text maps, labels), not accuracy.</p>"
                     + _picks(summary.pick_view(shipped)))
    duelled = store.directory / "comparisons.csv"
    comparisons = pd.read_csv(duelled) if duelled.exists() and duelled.stat().st_size else pd.DataFrame()
    fig = plots.duel_ratios(comparisons, profile)
    if fig is not None:
        parts.append(_figure_tag(fig, f"each contender's time relative to the pick, per duel, profile {profile}"))
        view = summary.duels_view(profile)
        over = view[view["idle CPU %"].astype(str).str.contains("over")]
        parts.append("<p class=note>Each pick is judged in a duel: one worker per contender, loaded and warm, the "
                     "workers taking turns in bursts of about 50 ms on the same CPUs, so a slow spell of the machine "
                     "slows both sides of each ratio; the interval is over several sets of fresh workers. The band "
                     "is ±5%, where two runtimes are called equivalent."
                     + (f" {len(over)} duel pair(s) had idle workers taking more than 1% of a CPU." if len(over)
                        else "") + "</p>")
    table = pd.read_csv(store.latency_csv)
    fig = plots.relative_latency(table, profile)
    if fig is not None:
        parts.append(_figure_tag(fig, f"p50 relative to the fastest runtime per model, profile {profile}"))
        parts.append("<p class=note>Each dot is a runtime's median latency divided by the fastest runtime's for the "
                     "same model; the bar is its 95% interval over processes. Which runtime is faster is judged in "
                     "the duels above (the pick's sentence), not on these bars.</p>")
    return "".join(parts)


def _across_devices(profiles: list[str]) -> str:
    """Every runtime on every device, relative to the fastest there: one figure, when two profiles are measured."""
    key = ("across devices", tuple((p, _tables_state(p)) for p in profiles))
    if key not in _DRAWN:
        _DRAWN[key] = _draw_across_devices(profiles)
    return _DRAWN[key]


def _draw_across_devices(profiles: list[str]) -> str:
    from study.report import plots

    tables = {p: pd.read_csv(ResultsStore(p).latency_csv) for p in profiles if ResultsStore(p).latency_csv.exists()}
    fig = plots.across_devices(tables)
    if fig is None:
        return ""
    return ("<h2>Across devices</h2>" + _figure_tag(fig, "p50 relative to the fastest runtime per model, per device")
            + "<p class=note>Each marker is one device's (profile's) p50 for a runtime, divided by the fastest "
              "runtime's for the same model on the same device: never absolute times across machines. Where the "
              "markers of one runtime spread, its rank depends on the device.</p>")


def _drawn(key: tuple, draw):
    """``draw()``, once per process for the same tables (``key`` holds their state)."""
    if key not in _DRAWN:
        _DRAWN[key] = draw()
    return _DRAWN[key]


def _claims(profile: str) -> str:
    return _drawn(("claims", profile, _tables_state(profile)), lambda: _draw_claims(profile))


def _draw_claims(profile: str) -> str:
    """How the source articles' claims fare against this profile's measurements (the table is on the summary page)."""
    from study.analyze.claims import check_claims

    checked = check_claims(profile)
    if checked.empty:
        return ""
    counts = ", ".join(f"{n} {html.escape(verdict)}" for verdict, n in checked["verdict"].value_counts().items())
    return (f"<p class=note>The source articles' claims against these measurements: {counts} (each claim, its "
            f"evidence and verdict on <a href='{html.escape(profile)}/05_summary.html'>the summary page</a>).</p>")


def shown_profiles(current: list[str]) -> list[str]:
    """The landing page's profiles: those of this report and every other measured so far here, newest first (a
    report of one device profile keeps the host's answer on the page). A profile whose results are there but whose
    file is gone or broken is left out, not fatal."""
    from study.core.errors import StudyError
    from study.report import summary

    now = float("inf")  # a profile of this report not measured yet is the newest of all

    def measured_at(profile: str) -> float:
        table = ResultsStore(profile).latency_csv
        return table.stat().st_mtime if table.exists() else now

    earlier = []
    for profile in summary.profiles_with_results():
        if profile in current:
            continue
        try:
            load_profile(profile)
        except StudyError:
            continue
        earlier.append(profile)
    return sorted(dict.fromkeys([*current, *earlier]), key=measured_at, reverse=True)


def _links(profile: str, pages: list[Path]) -> str:
    pages = pages or sorted((paths.reports_dir() / profile).glob("*.html"))  # rendered by an earlier report
    notebooks = " · ".join(f"<a href='{html.escape(profile)}/{p.name}'>{html.escape(p.stem)}</a>" for p in pages)
    directory = paths.results_dir(profile)
    tables = " · ".join(f"<a href='../results/{html.escape(profile)}/{name}'>{name}</a>"
                        for name in raw_tables() if (directory / name).exists())
    return f"<p><b>{html.escape(profile)}</b>: {notebooks}<br><span class=note>Raw tables: {tables}</span></p>"


def write_index(profiles: list[str], pages: dict[str, list[Path]], failures: list[str], status: str = "") -> Path:
    """The landing page; ``status`` (HTML) is shown first while a report is still measuring or was interrupted."""
    from study.report import summary
    from study.core.environment import utc_now

    budgets = summary.budgets()
    profiles = shown_profiles(list(profiles))
    answers = []
    for profile in profiles:
        device = load_profile(profile)
        answers.append(f"<h3>Profile <code>{html.escape(profile)}</code></h3>"
                       f"<p class=note>{html.escape(device.description)}</p>{_origin(profile)}{_environment(profile)}"
                       f"{_answer(profile, budgets)}{_claims(profile)}")
    measured = [p for p in profiles if ResultsStore(p).latency_csv.exists()]
    found = _drawn(("findings", tuple((p, _tables_state(p)) for p in measured)), lambda: summary.findings(measured))
    devices = _across_devices(profiles)
    findings = "".join(f"<li>{html.escape(f)}</li>" for f in found) or "<li>Nothing measured yet.</li>"
    links = "".join(_links(p, pages.get(p, [])) for p in profiles)
    provenance = "".join(_measuring_time(p) for p in profiles)
    problems = "".join(f"<li>{html.escape(f)}</li>" for f in failures)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Edge runtime study</title>
<style>{display.css()}</style></head><body class="study-index">
<h1>Which runtime should I ship my model on?</h1>
{status}
<p>Per model and device profile, the runtime this study's measurements pick for the default budgets
({html.escape(_budgets_sentence(budgets))}; change them in <code>params/notebooks.yaml</code>). Every number is
measured on the machine named. Each pick says how it compares with the runner-up in a duel (the two kept loaded and
timed in alternating bursts of about 50 ms, over several sets of fresh workers): faster by a share with its 95%
interval, equivalent within ±5% (two one-sided tests), or undetermined with the smallest difference the duel could
detect.</p>
{"<h2>Problems</h2><ul>" + problems + "</ul>" if problems else ""}
<h2>The answer</h2>
{"".join(answers)}
{devices}
<h2>Findings</h2>
<ul>{findings}</ul>
<h2>Pages and raw tables</h2>
{links}
{provenance}
<p class=note>Generated {utc_now()}.</p></body></html>"""
    index = paths.reports_dir() / "index.html"
    index.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(index, page)
    return index
