"""Notebooks only read results; a missing profile is one line; nbval against the fixture catches a change."""

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from helpers import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MEASURING = re.compile(r"\bbench\(|convert_profile|bench_energy|bench_quantization|study\.bench\b|from study import "
                       r"[^\n]*\bbench\b|quant\.run|run_isolated|ensure_artifact|conversion_matrix\(")


def code_cells(notebook):
    return [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]


def test_no_notebook_measures():
    for notebook in NOTEBOOKS:
        for cell in code_cells(notebook):
            assert not MEASURING.search("".join(cell["source"])), (notebook.name, "".join(cell["source"]))


def test_at_most_a_fifth_of_cells_ignore_their_output():
    with_output = [c for nb in NOTEBOOKS for c in code_cells(nb) if c.get("outputs")]
    ignored = [c for c in with_output if "nbval-ignore-output" in c.get("metadata", {}).get("tags", [])]
    assert with_output and len(ignored) <= len(with_output) / 5


def test_a_profile_never_measured_is_one_line_with_the_command(study_root):
    from helpers import write_profile
    from study.report import notebook

    write_profile(study_root, "fresh")
    with pytest.raises(notebook.NotMeasured) as raised:
        notebook.require("fresh", "latency")
    shown = raised.value._render_traceback_()
    assert len(shown) == 1 and "python -m study bench --profile fresh --only latency" in shown[0]


def test_a_phase_the_profile_leaves_out_reads_not_measured(study_root):
    from helpers import write_profile
    from study.report import notebook

    write_profile(study_root, "lean", energy=None)
    (study_root / "results" / "lean").mkdir(parents=True)
    energy = notebook.load("lean", "energy")
    assert not energy and "not measured for this profile" in notebook.show(len, energy).data
    assert isinstance(notebook.load("lean", "quantization"), notebook.Off)  # the tiny profile has none


def _nbval(root, notebook):
    """nbval on one notebook against the study root ``root``, as `make test` runs it; (exit code, output)."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "STUDY_ROOT"}
    env["STUDY_NBVAL_ROOT"] = str(root)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                           "--nbval-current-env", "--nbval-sanitize-with", str(REPO / "notebooks" / "sanitize.cfg"),
                           str(notebook)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def test_nbval_fails_on_a_changed_verdict_or_column(tmp_path):
    """The regression test can fail: the committed outputs pass on the fixture and fail when a verdict or a
    table's column changes in it."""
    from study.report.fixture import scratch_copy

    summary = REPO / "notebooks" / "05_summary.ipynb"
    code, output = _nbval(scratch_copy(), summary)
    assert code == 0, output[-3000:]

    flipped = scratch_copy()
    claims = flipped / "results" / "ci" / "quant_claims.csv"
    table = pd.read_csv(claims)
    new = "supported" if table.loc[0, "verdict"] != "supported" else "contradicted"
    table.loc[0, "verdict"] = new
    table.to_csv(claims, index=False)
    code, output = _nbval(flipped, summary)
    assert code != 0 and "05_summary.ipynb::Cell" in output and new in output, output[-3000:]

    changed = scratch_copy()
    conversions = changed / "results" / "ci" / "conversions.csv"
    table = pd.read_csv(conversions)
    table.loc[table.index[table["status"] == "ok"][-1], "status"] = "failed"  # one cell of the status column
    table.to_csv(conversions, index=False)
    code, output = _nbval(changed, REPO / "notebooks" / "00_conversion.ipynb")
    assert code != 0 and "00_conversion.ipynb::Cell" in output, output[-3000:]


MEASURING_MODULES = {"study.phases.bench", "study.phases.base", "study.phases.convert", "study.phases.latency",
                     "study.phases.energy", "study.phases.operators", "study.phases.sustained",
                     "study.phases.quantization", "study.build.convert", "study.core.isolate", "study.measure.engine",
                     "study.measure.cases", "study.measure.launcher", "study.measure.worker", "study.measure.timing",
                     "study.measure.naive", "study.measure.peak", "study.build.quant.build", "study.build.quant.nets",
                     "study.plan.estimate", "study.plan.cases"}


def test_no_notebook_imports_the_measuring_code():
    """Every import line of every notebook, run in a fresh interpreter: no measuring module comes along."""
    imports = sorted({line.strip() for nb in NOTEBOOKS for cell in code_cells(nb)
                      for line in "".join(cell["source"]).splitlines()
                      if line.startswith(("import ", "from ")) and "study" in line})
    assert imports
    probe = "\n".join(imports) + "\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith('study')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    modules = set(eval(loaded.stdout.strip().splitlines()[-1]))  # a printed list of names
    assert "study.report.notebook" in modules and not modules & MEASURING_MODULES, sorted(modules & MEASURING_MODULES)
