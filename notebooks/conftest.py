"""nbval runs every notebook against the committed results fixture (tests/fixtures/study), never against
results measured on this machine: a scratch copy of it becomes the kernel's STUDY_ROOT.
``STUDY_NBVAL_ROOT`` points the notebooks at another copy (the test that shows nbval catches a change)."""

import os

import pytest

_root = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "STUDY_ROOT" not in _root:
        from study.report.fixture import scratch_copy

        _root["STUDY_ROOT"] = os.environ.get("STUDY_NBVAL_ROOT") or str(scratch_copy())
    os.environ["STUDY_ROOT"] = _root["STUDY_ROOT"]  # the kernel nbval starts inherits it
