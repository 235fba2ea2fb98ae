"""Fixtures: a throw-away study root (STUDY_ROOT) so tests never touch the real results, and one tiny study
measured once per session (every phase) for every test that only reads results."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import REPO, TINY_PROFILE, TINY_STUDY, write_profile


@pytest.fixture
def study_root(tmp_path, monkeypatch):
    (tmp_path / "params" / "profiles").mkdir(parents=True)
    monkeypatch.setenv("STUDY_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def _shared_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("study-root")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    return root


@pytest.fixture
def bench_root(_shared_root, monkeypatch):
    """A root shared by the measuring tests, so the tiny model is converted once per session."""
    monkeypatch.setenv("STUDY_ROOT", str(_shared_root))
    return _shared_root


@pytest.fixture(scope="session", autouse=True)
def _machine_cache(tmp_path_factory):
    """The GEMM peak is measured once per machine: once per test session here."""
    previous = os.environ.get("STUDY_CACHE")
    os.environ["STUDY_CACHE"] = str(tmp_path_factory.mktemp("machine-cache"))
    yield
    if previous is None:
        os.environ.pop("STUDY_CACHE", None)
    else:
        os.environ["STUDY_CACHE"] = previous


class _Root:
    """STUDY_ROOT set for a session-scoped fixture (monkeypatch is function-scoped)."""

    def __init__(self, root: Path):
        self.root, self.previous = root, os.environ.get("STUDY_ROOT")

    def __enter__(self):
        os.environ["STUDY_ROOT"] = str(self.root)
        return self.root

    def __exit__(self, *exc):
        if self.previous is None:
            os.environ.pop("STUDY_ROOT", None)
        else:
            os.environ["STUDY_ROOT"] = self.previous


@pytest.fixture(scope="session")
def _tiny_study(_shared_root):
    from study.phases.bench import bench

    with _Root(_shared_root):
        write_profile(_shared_root, "tiny", timing={**TINY_PROFILE["timing"], "processes": 2}, **TINY_STUDY)
        bench("tiny", progress=False)
    return _shared_root


@pytest.fixture
def tiny_study(_tiny_study, monkeypatch):
    """The tiny profile (digits_cnn in three runtimes, batch 1 and 4, modelled energy, a one-build quantization
    study), measured once per session; for tests that only read its results."""
    monkeypatch.setenv("STUDY_ROOT", str(_tiny_study))
    return _tiny_study


@pytest.fixture(scope="session")
def tiny_report(_tiny_study):
    """The report of the tiny profile, built once the way `make report` builds it."""
    from study.report.pages import build_report

    with _Root(_tiny_study):
        return build_report(["tiny"])


# Under pytest-xdist (make test runs `-n auto --dist loadgroup`), these stay together on one worker: a notebook's
# cells, which nbval runs in order in one kernel, and the tests that read the session's tiny study, which is
# measured once per worker that needs it (twice would cost two minutes and time it on a busier machine).
SHARED_STUDY_FIXTURES = {"tiny_study", "tiny_report", "_tiny_study"}


# tryfirst: xdist's worker turns the xdist_group mark into a node-id suffix ("...@group") in its own
# pytest_collection_modifyitems, which must find the marks already there.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(f"notebook-{item.path.stem}"))
        elif SHARED_STUDY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("tiny-study"))



def pytest_xdist_node_collection_finished(node, ids):
    """Refuse to run split groups. xdist groups by that node-id suffix, and when it does not take (pytest 9.2 keeps
    node ids where xdist 3.8 no longer writes: pytest-dev/pytest-xdist#1386) the cells of one notebook land on two
    workers and fail with NameErrors, now and then, depending on the order the workers ask for tests."""
    if node.config.getvalue("dist") != "loadgroup":
        return
    ungrouped = [nodeid for nodeid in ids if ".ipynb::" in nodeid and "@" not in nodeid]
    if ungrouped:
        message = (f"error: pytest-xdist did not group {len(ungrouped)} notebook cells (first: {ungrouped[0]}), so "
                   f"they would run in different kernels. Fix: install the pinned pytest (requirements.lock; "
                   f"{pytest.__version__} is installed): rm .venv/.installed && make test")
        pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


# Nothing a test runs may leave files in the checkout (onnxruntime's shape inference once left a 4.8 MB
# sym_shape_infer_temp.onnx at its root, and it was committed): the controller compares the root before and after.
_ROOT_BEFORE: set[str] = set()
_GENERATED = {".venv", "artifacts", "results", "reports", ".pytest_cache", "__pycache__"}


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        _ROOT_BEFORE.update(os.listdir(REPO))


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput") or not _ROOT_BEFORE:
        return
    left = sorted(set(os.listdir(REPO)) - _ROOT_BEFORE - _GENERATED)
    if left:
        print(f"\nerror: the tests left {', '.join(left)} in the checkout's root. Fix: write temporary files under "
              f"tmp_path or a TemporaryDirectory, never the working directory")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
