"""The committed results the notebook regression tests read: ``tests/fixtures/study/`` (a study root).

It holds the `ci` profile as it was measured and the tables of its results (not the raw per-case records),
so nbval runs every notebook in seconds, compares what is stable and masks what a machine changes
(``notebooks/sanitize.cfg``). ``make fixture`` measures the `ci` profile afresh in a scratch root, copies
its tables here and re-executes the notebooks against them, so the committed outputs match the fixture.

    python -m study.report.fixture regenerate   # measure `ci`, replace the fixture, re-execute the notebooks
    python -m study.report.fixture notebooks    # only re-execute the notebooks against the committed fixture
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from study.core.paths import checkout

REPO = checkout()
FIXTURE = REPO / "tests" / "fixtures" / "study"
PROFILE = "ci"
# what a notebook reads: the tables and the environment, never the raw records behind them
KEPT = ("*.csv", "*.json", "runs/*.json")


def scratch_copy(source: Path = FIXTURE) -> Path:
    """A throw-away copy of the fixture, so a notebook's figures never land in the committed folder."""
    scratch = Path(tempfile.mkdtemp(prefix="study-fixture-"))
    shutil.copytree(source, scratch, dirs_exist_ok=True)
    return scratch


def _copy_tables(measured: Path, destination: Path) -> None:
    results = measured / "results" / PROFILE
    target = destination / "results" / PROFILE
    shutil.rmtree(destination, ignore_errors=True)
    for pattern in KEPT:
        for file in results.glob(pattern):
            (target / file.relative_to(results)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target / file.relative_to(results))
    for name in (f"profiles/{PROFILE}.yaml", "notebooks.yaml"):
        (destination / "params" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "params" / name, destination / "params" / name)


def regenerate() -> None:
    """Measure the `ci` profile in a scratch root (every phase) and make its tables the fixture."""
    scratch = Path(tempfile.mkdtemp(prefix="study-ci-"))
    for name in (f"profiles/{PROFILE}.yaml", "notebooks.yaml"):
        (scratch / "params" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "params" / name, scratch / "params" / name)
    env = {**os.environ, "STUDY_ROOT": str(scratch)}
    subprocess.run([sys.executable, "-m", "study", "bench", "--profile", PROFILE], env=env, check=True)
    _copy_tables(scratch, FIXTURE)
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"fixture: {FIXTURE.relative_to(REPO)} holds the tables of profile {PROFILE}")


def execute_notebooks() -> None:
    """Re-execute every notebook in place against the fixture: the outputs nbval compares with."""
    scratch = scratch_copy()
    env = {**os.environ, "STUDY_ROOT": str(scratch)}
    for notebook in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(f"executing {notebook.name} against the fixture")
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                        str(notebook)], env=env, check=True, cwd=notebook.parent)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "regenerate":
        regenerate()
        execute_notebooks()
    elif what == "notebooks":
        execute_notebooks()
    else:
        sys.exit("usage: python -m study.report.fixture regenerate|notebooks")
