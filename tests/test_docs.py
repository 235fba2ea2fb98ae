from helpers import REPO
from study.schema import schema_markdown


def test_readme_schema_is_the_one_the_code_writes():
    readme = (REPO / "README.md").read_text()
    section = readme.split("<!-- schema:start (python -m study.schema) -->\n", 1)[1].split("<!-- schema:end -->", 1)[0]
    assert section == schema_markdown(), "regenerate the README schema: python -m study.schema"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert "make test" in readme and ci[-1] == "make test"
