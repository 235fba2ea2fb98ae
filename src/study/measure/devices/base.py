"""The transport interface: how the host runs a command on a device and puts a file there. One file per transport
(``ssh.py``; an adb transport is one more), named in ``study.core.transports``.

A transport quotes nothing itself: it takes an argument vector and turns it into the device's command line with
``shlex.join``, so a value from a profile or a file name is always one word there, never shell syntax.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from study.core.errors import StudyError


class DeviceError(StudyError):
    """The device could not be used for one operation; the message names the device, the problem and the fix.
    ``retryable``: the device may answer later (unreachable, connection dropped, full) and nothing was measured, so a
    rerun measures it; otherwise the device refused us for good (a changed host key) until the user acts."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable

    def __reduce__(self):  # crosses a Dask worker's boundary whole
        return type(self), (str(self), self.retryable)


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stderr.decode(errors="replace").strip()


class Transport(ABC):
    """Runs commands on one device and copies files to it. ``run`` raises ``DeviceError`` only when the device could
    not be reached or refused the connection; a command that ran and failed is a ``Completed`` with its code."""
    name = "transport"

    def __init__(self, device):
        self.device = device

    @abstractmethod
    def run(self, argv: list[str], stdin: bytes | Path | None = None, timeout_s: float = 120) -> Completed:
        """Run ``argv`` on the device (in the remote user's home), ``stdin`` fed to it (bytes or a local file)."""

    def open(self, argv: list[str]):
        """Start ``argv`` on the device and leave it running: a ``subprocess.Popen`` whose standard input and output
        are pipes to the remote command (a kept-alive worker), its standard error the remote one's."""
        raise DeviceError(f"the {self.name} transport cannot keep a command running", retryable=False)

    @abstractmethod
    def push(self, local: Path, remote: str, timeout_s: float = 600) -> None:
        """Copy a local file or folder to ``remote`` (a path on the device), atomically: a copy cut short never
        takes the final name."""

    def close(self) -> None:
        """Release what the transport keeps open (a shared connection)."""
