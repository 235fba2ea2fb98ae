"""A device over SSH, through the system's OpenSSH client: it honours ``~/.ssh/config`` (aliases, ``ProxyJump``,
``IdentityFile``), the agent and ``known_hosts`` as the user's own ``ssh`` does. ``STUDY_SSH_CONFIG`` names another
config file (the tests' stand-in device).

Strict by design: ``BatchMode`` (never a password prompt: keys or the agent only, and no password in any profile
or log) and ``StrictHostKeyChecking=yes`` (an unknown or changed host key is refused with one line naming the fix,
never accepted silently). One connection per device is shared by every command (``ControlMaster``), so a case costs
no new handshake; a dropped connection is opened again on the next command.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import tarfile
import tempfile
from pathlib import Path

from study.measure.devices.base import Completed, DeviceError, Transport

CONNECT_TIMEOUT_S = 10
# ssh's own exit status when the connection failed (the remote command's status otherwise)
SSH_FAILED = 255


def _control_dir() -> Path:
    """Short, private, per user: a socket path must fit in 104 bytes."""
    path = Path(tempfile.gettempdir()) / f"study-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class SshTransport(Transport):
    name = "ssh"

    def _base(self) -> list[str]:
        device = self.device
        command = ["ssh"]
        config = os.environ.get("STUDY_SSH_CONFIG")
        if config:
            command += ["-F", config]
        command += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                    "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}", "-o", "ServerAliveInterval=5",
                    "-o", "ServerAliveCountMax=3", "-o", "ControlMaster=auto",
                    "-o", f"ControlPath={_control_dir()}/%C", "-o", "ControlPersist=60", "-o", "LogLevel=ERROR"]
        if device.port:
            command += ["-p", str(device.port)]
        return [*command, "--", device.host]

    def run(self, argv: list[str], stdin: bytes | Path | None = None, timeout_s: float = 120) -> Completed:
        command = [*self._base(), shlex.join(argv)]
        source = open(stdin, "rb") if isinstance(stdin, Path) else None
        try:
            feed = {"stdin": source} if source else {"input": stdin or b""}
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, **feed)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{self.device.host}: no answer within {timeout_s:.0f} s. Fix: check that the device is "
                              f"on and reachable (ssh {self.device.host} true), then run the same command again")
        except FileNotFoundError:
            raise DeviceError("the ssh command is not installed. Fix: install the OpenSSH client (Debian: apt-get "
                              "install openssh-client)", retryable=False) from None
        finally:
            if source:
                source.close()
        completed = Completed(done.returncode, done.stdout, done.stderr)
        if done.returncode == SSH_FAILED:
            raise self._connection_error(completed.text)
        return completed

    def open(self, argv: list[str]):
        """The remote command over the shared connection (``ControlMaster``), its pipes kept open."""
        try:
            return subprocess.Popen([*self._base(), shlex.join(argv)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        except FileNotFoundError:
            raise DeviceError("the ssh command is not installed. Fix: install the OpenSSH client (Debian: apt-get "
                              "install openssh-client)", retryable=False) from None

    def _connection_error(self, stderr: str) -> DeviceError:
        host = self.device.host
        name = f"[{host}]:{self.device.port}" if self.device.port and self.device.port != 22 else host
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "Host key for" in stderr and "has changed" in stderr:
            return DeviceError(f"{host}: its host key has changed since it was last trusted, so it was refused (this "
                               f"happens when a device is re-installed, and when someone is in between). Fix: check "
                               f"the new key's fingerprint on the device, then ssh-keygen -R '{name}' and connect once "
                               f"with ssh {host} to accept it", retryable=False)
        if "Host key verification failed" in stderr or "No ED25519 host key is known" in stderr \
                or "host key is known" in stderr:
            return DeviceError(f"{host}: its host key is not in known_hosts, so it was refused. Fix: connect once "
                               f"with ssh {host}, check the fingerprint it shows against the device's, and accept it",
                               retryable=False)
        if "Permission denied" in stderr:
            return DeviceError(f"{host}: the device refused our key (no password is ever sent). Fix: ssh-copy-id "
                               f"{host}, or add the key to the agent (ssh-add), then run the same command again",
                               retryable=False)
        last = stderr.splitlines()[-1] if stderr else "the connection failed"
        return DeviceError(f"{host} unreachable: {last}. Fix: check that the device is on and reachable (ssh {host} "
                           f"true), then run the same command again: what was measured is kept")

    def push(self, local: Path, remote: str, timeout_s: float = 600) -> None:
        remote_dir, name = os.path.split(remote.rstrip("/"))
        partial = f"{remote_dir}/.{name}.partial-{hashlib.sha256(str(local).encode()).hexdigest()[:8]}"
        if local.is_dir():  # a folder (a SavedModel) travels as a tar stream, unpacked beside its final name
            with tempfile.NamedTemporaryFile(suffix=".tar") as bundle:
                with tarfile.open(bundle.name, "w") as tar:
                    tar.add(local, arcname=".")
                script = ('set -e; mkdir -p "$1"; rm -rf "$2"; mkdir "$2"; tar -xf - -C "$2"; rm -rf "$3"; '
                          'mv "$2" "$3"')
                done = self.run(["sh", "-c", script, "push", remote_dir or ".", partial, remote],
                                Path(bundle.name), timeout_s)
        else:
            script = 'set -e; mkdir -p "$1"; cat > "$2"; mv -f "$2" "$3"'
            done = self.run(["sh", "-c", script, "push", remote_dir or ".", partial, remote], local, timeout_s)
        if done.returncode != 0:
            raise push_error(self.device.host, remote, done.text)

    def close(self) -> None:
        try:
            subprocess.run([*self._base()[:-2], "-O", "exit", "--", self.device.host], capture_output=True,
                           timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass


def push_error(host: str, remote: str, stderr: str) -> DeviceError:
    if "No space left" in stderr or "Disk quota" in stderr:
        return DeviceError(f"{host} is full: {remote} could not be written ({stderr.splitlines()[-1]}). Fix: free "
                           f"space on the device (old artifacts are in its study folder's artifacts/), then run the "
                           f"same command again")
    last = stderr.splitlines()[-1] if stderr else "no message"
    return DeviceError(f"{host}: {remote} could not be written: {last}. Fix: check the device's study folder "
                       f"(the profile's device.workdir) is writable, then run the same command again")
