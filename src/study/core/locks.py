"""One measurement at a time per set of CPUs: a run takes the lock of what it times on (this machine, or a device)
before it times anything, so two runs never time side by side on the same cores (one profile started twice, two
local profiles, two profiles naming one device).

The locks are ``flock`` locks on files in the user's cache (``STUDY_CACHE``): the kernel releases them when their
holder dies, so a killed run leaves no stale lock. The file says who holds it, so the second run names the first.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from study.core import paths
from study.core.errors import StudyError


def lock_file(target: str) -> Path:
    """The lock of one measuring target: ``local`` (this machine) or ``device-HOST-PORT``."""
    return paths.locks_dir() / (re.sub(r"[^A-Za-z0-9_.-]+", "_", target) + ".lock")


def holder(path: Path) -> dict:
    """Who holds (or last held) a lock: profile, pid, command and since when."""
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(found: dict) -> str:
    if not found:
        return "another run"
    return (f"profile '{found.get('profile', '?')}' (pid {found.get('pid', '?')}, "
            f"since {found.get('since', '?')}: {found.get('command', '?')})")


@contextmanager
def measuring(target: str, profile: str, wait: bool = True, say: Callable[[str], None] = print,
              poll_s: float = 2.0, timeout_s: float | None = None) -> Iterator[None]:
    """Hold ``target``'s lock while measuring. Held by another run: wait for it (``wait``; saying whom once), or
    refuse with one line naming it. ``timeout_s`` bounds the wait."""
    path = lock_file(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        started, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                other = describe(holder(path))
                if not wait:
                    raise StudyError(f"{target} is being measured by {other}. Fix: wait until it finishes (or stop "
                                     f"it), then run this again: two runs timing on the same CPUs spoil both") from None
                if timeout_s is not None and time.monotonic() - started > timeout_s:
                    raise StudyError(f"{target} was still being measured by {other} after {timeout_s:.0f} s. Fix: "
                                     f"wait until it finishes (or stop it), then run this again") from None
                if not told:
                    say(f"[{profile}] waiting: {target} is being measured by {other}")
                    told = True
                time.sleep(poll_s)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"profile": profile, "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                 "command": " ".join(_command())[:200]}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def _command() -> list[str]:
    try:
        return Path("/proc/self/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return ["?"]
