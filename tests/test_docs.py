from conftest import REPO
from study.results import LATENCY_COLUMNS, SAMPLE_COLUMNS


def test_readme_documents_every_results_column():
    readme = (REPO / "README.md").read_text()
    for column, meaning in {**LATENCY_COLUMNS, **SAMPLE_COLUMNS}.items():
        assert f"| `{column}` | {meaning} |" in readme, f"README lacks column {column}"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert "make test" in readme and ci[-1] == "make test"
