"""The package is laid out by its data flow, and the layers hold: the import-linter contract in pyproject.toml is
kept, a breach of each of its contracts breaks it, and no module imports itself back through others (no import cycle)."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                              "sys.exit(lint_imports_command())", "--no-cache"]  # no cache in the checkout


def lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under ``root/src``, with the contract of ``root/pyproject.toml``."""
    return subprocess.run(LINT, cwd=root, env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def test_the_layers_contract_is_kept():
    done = lint(REPO)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


BREACHES = {  # a module, the import added to it, the line lint-imports must print
    "upward": ("core/paths.py", "from study.report import landing", "study.core.paths -> study.report.landing"),
    "backend to backend": ("measure/runtimes/litert.py", "from study.measure.runtimes import onnxruntime",
                           "study.measure.runtimes.litert -> study.measure.runtimes.onnxruntime"),
    "tracker to tracker": ("measure/trackers/thermal.py", "from study.measure.trackers import memory",
                           "study.measure.trackers.thermal -> study.measure.trackers.memory"),
    "scenario to scenario": ("measure/scenarios/sustained.py", "from study.measure.scenarios import latency",
                             "study.measure.scenarios.sustained -> study.measure.scenarios.latency"),
}


@pytest.mark.parametrize("breach", sorted(BREACHES))
def test_a_breach_of_each_contract_breaks_it(tmp_path, breach):
    module, line, said = BREACHES[breach]
    shutil.copytree(REPO / "src" / "study", tmp_path / "src" / "study",
                    ignore=shutil.ignore_patterns("__pycache__", "templates"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "src" / "study" / module
    path.write_text(path.read_text() + f"\n\ndef _breach():\n    {line}  # noqa: F401\n")
    done = lint(tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout[-3000:]
    assert said in done.stdout, done.stdout[-3000:]


def strongly_connected(graph) -> list[set[str]]:
    """The import cycles: Tarjan's components of more than one module (a module importing itself is no cycle)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(module: str) -> None:
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    graph = grimp.build_graph("study", include_external_packages=False, cache_dir=None)
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert strongly_connected(grimp.build_graph("cyclic", cache_dir=None)) == [{"cyclic.a", "cyclic.b"}]


def test_the_top_level_shows_the_stages():
    entries = sorted(p.name for p in (REPO / "src" / "study").iterdir() if p.name != "__pycache__")
    assert entries == ["__init__.py", "__main__.py", "analyze", "build", "cli.py", "core", "measure", "phases",
                       "plan", "report"]
