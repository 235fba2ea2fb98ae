"""A stand-in device on this machine: an OpenSSH server on 127.0.0.1 with throw-away host and client keys, reached
through an ssh config of its own (``STUDY_SSH_CONFIG``) under the alias a profile names. Its lean venv (numpy and the
profile's runtimes at the lock's versions, nothing else) is made by ``device setup``, as on a real board.

The tests use it to measure over real SSH; ``python -m study device stand-in ci-device`` serves one for trying the
device path out (``make report PROFILES=ci-device`` in a second shell, with the printed ``export``). It listens on
loopback only, and stops by itself after its time limit even if nobody stops it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from study.core.errors import StudyError

START_TIMEOUT_S = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sshd() -> str:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if not found:
        raise StudyError("the OpenSSH server is not installed. Fix: apt-get install openssh-server (.ci/run does)")
    return found


def _keygen(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.pub").unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "study-stand-in", "-f", str(path)],
                   check=True, capture_output=True)


class StandIn:
    """One stand-in device: ``start``, ``stop`` (every connection drops), ``new_host_key`` (as a re-installed device)."""

    def __init__(self, directory: Path, alias: str, limit_s: float = 1800):
        self.directory, self.alias, self.limit_s = Path(directory), alias, limit_s
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.config = self.directory / "ssh_config"
        host_key, client_key = self.directory / "host_key", self.directory / "client_key"
        if not host_key.exists():
            _keygen(host_key)
        if not client_key.exists():
            _keygen(client_key)
        (self.directory / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
        self.trust()
        (self.directory / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
            f"PidFile {self.directory / 'sshd.pid'}", f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password", "MaxSessions 64",
            "MaxStartups 64", "LogLevel ERROR", ""]))
        self.config.write_text("\n".join([
            f"Host {alias}", "  HostName 127.0.0.1", f"  Port {self.port}", f"  User {getpass.getuser()}",
            f"  IdentityFile {client_key}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {self.directory / 'known_hosts'}",
            "  StrictHostKeyChecking yes", ""]))

    def trust(self) -> None:
        """known_hosts holds the current host key (as a user who checked its fingerprint would)."""
        key = (self.directory / "host_key.pub").read_text().split()
        (self.directory / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n")

    def new_host_key(self) -> None:
        """The device re-installed: a new host key, which known_hosts does not have."""
        _keygen(self.directory / "host_key")

    def start(self) -> "StandIn":
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        # `timeout`: a server left behind by a crashed test stops by itself
        self.process = subprocess.Popen(["timeout", str(int(self.limit_s)), _sshd(), "-D", "-e", "-f",
                                         str(self.directory / "sshd_config")],
                                        stdout=subprocess.DEVNULL, stderr=open(self.directory / "sshd.log", "ab"),
                                        start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StudyError(f"sshd stopped at once (see {self.directory / 'sshd.log'}): "
                                 f"{(self.directory / 'sshd.log').read_text()[-300:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise StudyError(f"sshd did not listen on 127.0.0.1:{self.port} within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        """Stop the server and every connection it holds (its session processes are in its process group)."""
        if self.process is not None and self.process.poll() is None:
            import psutil

            # each connection's sshd is a child of the listener in a session of its own: found before it goes
            try:
                held = psutil.Process(self.process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                held = []
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for child in held:
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


def serve(profile_ref: str, minutes: float = 120) -> int:
    """Serve the stand-in device a profile names (its ``device.host`` is the alias) until Ctrl-C or ``minutes``."""
    from study.core import paths
    from study.measure.devices.setup import setup
    from study.plan.profiles import load_profile

    profile = load_profile(profile_ref)
    if profile.device is None:
        raise StudyError(f"profile '{profile.name}' names no device. Fix: use params/profiles/ci-device.yaml")
    stand_in = StandIn(paths.standin_dir() / profile.device.host, profile.device.host, limit_s=minutes * 60).start()
    os.environ["STUDY_SSH_CONFIG"] = str(stand_in.config)

    def stopped(*_):  # `kill` as Ctrl-C: the server goes with this command
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stopped)
    try:
        setup(profile)
        print(f"stand-in device '{profile.device.host}' on 127.0.0.1:{stand_in.port}, for {minutes:g} min. In another "
              f"shell:\n  export STUDY_SSH_CONFIG={stand_in.config}\n  make report PROFILES={profile.name}")
        stand_in.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in.stop()
    return 0
