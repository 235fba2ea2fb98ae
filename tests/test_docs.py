from helpers import REPO
from study.report import costs, schema


def test_readme_schema_is_the_one_the_code_writes():
    readme = (REPO / "README.md").read_text()
    section = readme.split(schema.MARKER_START, 1)[1].split(schema.MARKER_END, 1)[0]
    assert section == schema.markdown(), "regenerate the README schema: python -m study.report.schema --write"


def test_readme_cost_table_is_the_one_the_run_records_give():
    readme = (REPO / "README.md").read_text()
    assert costs.readme_section(readme) == costs.table_markdown(), \
        "regenerate the README's cost table: python -m study.report.costs --write"


def test_the_estimate_is_shown_beside_each_phase_it_estimated(tmp_path):
    import json

    runs = tmp_path / "host" / "runs"
    runs.mkdir(parents=True)
    (runs / "20261207T000000Z-aaaaaa.json").write_text(json.dumps({
        "git_commit": "abc", "estimate_phases": {"latency": 500.0, "convert": 0.0},
        "phases": {"latency": 400.0, "quantization": 30.0}, "estimate_races": {"latency": 100.0},
        "race_s": {"latency": 120.0}, "estimate_sources": {"latency": "run x (300 s for an estimate of 280 s)"}}))
    (runs / "20261207T000001Z-bbbbbb.json").write_text("{torn")  # a damaged record is passed over
    table = costs.estimates(tmp_path)
    assert list(table["phase"]) == ["latency"]  # a phase without an estimate has nothing to compare
    row = table.iloc[0]
    assert row["error_pct"] == 25.0 and row["error_s"] == 100.0
    assert row["race_s"] == 120.0 and row["race_estimate_s"] == 100.0


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert "make test" in readme and ci[-1] == "make test"


def test_a_fresh_install_on_a_full_disk_stops_at_once_with_the_fix(tmp_path):
    """The Makefile checks the free space before creating a fresh venv: CI once failed minutes into pip with ENOSPC,
    under a message blaming the network."""
    import subprocess
    venv = tmp_path / "venv"
    done = subprocess.run(["make", "--no-print-directory", "env", f"VENV={venv}", "VENV_GB=1000000"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "GB are free" in errors[0] and "Fix: free disk space" in errors[0], done.stderr
    assert not venv.exists()
