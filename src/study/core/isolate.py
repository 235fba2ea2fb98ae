"""Run one unit of work (a conversion or a measured case) in a fresh Python subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from study.core import paths

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def child_environment(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the project root too, so a bring-your-own factory module kept in the checkout imports
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.root() / "src"), str(paths.root()),
                                                      env.get("PYTHONPATH")]))
    env["STUDY_ROOT"] = str(paths.root())
    if threads is not None:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
        env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


def run_isolated(spec: dict, timeout_s: float, threads: int | None = None, log_path: Path | None = None) -> dict:
    """The worker's result dict; a crash, a timeout or a missing result becomes a ``failed`` result."""
    with tempfile.TemporaryDirectory(prefix="study-case-") as scratch:
        spec_path, result_path = Path(scratch) / "spec.json", Path(scratch) / "result.json"
        spec_path.write_text(json.dumps(spec))
        stderr_path = log_path or Path(scratch) / "stderr.log"
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with open(stderr_path, "w", encoding="utf-8") as stderr:
            try:
                completed = subprocess.run(
                    [sys.executable, "-m", "study.measure.worker", str(spec_path), str(result_path)],
                    env=child_environment(threads), stdout=stderr, stderr=stderr, stdin=subprocess.DEVNULL,
                    timeout=timeout_s,
                )
            except subprocess.TimeoutExpired:
                return {"status": "failed", "error": f"timed out after {timeout_s:.0f} s"}
        if result_path.exists():
            return json.loads(result_path.read_text())
        tail = [line for line in stderr_path.read_text(errors="replace").splitlines() if line.strip()]
        last = tail[-1].strip()[:300] if tail else "no output"
        return {"status": "failed", "error": f"process died (exit {completed.returncode}): {last}"}


def start_isolated(spec: dict, threads: int | None = None, log_path: Path | None = None):
    """The worker started on ``spec`` and left running, its standard input and output as pipes (a kept-alive
    worker's protocol), its standard error to ``log_path``: (the process, its scratch folder, where it writes its
    record as it ends, and what to call once it has ended)."""
    import shutil

    scratch = Path(tempfile.mkdtemp(prefix="study-worker-"))
    spec_path, result_path = scratch / "spec.json", scratch / "result.json"
    spec_path.write_text(json.dumps(spec))
    stderr_path = log_path or scratch / "stderr.log"
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stderr_path, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "study.measure.worker", str(spec_path), str(result_path)],
                                   env=child_environment(threads), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr)
    return process, scratch, lambda: shutil.rmtree(scratch, ignore_errors=True)
