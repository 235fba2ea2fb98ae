"""How the host reaches a device that times its cases, one description each. Adding a transport (adb, say) is one
file in ``study/measure/devices/`` with a ``Transport`` subclass and one line here. Nothing here imports it, so a
profile names a transport without loading it."""

from __future__ import annotations

TRANSPORTS: dict[str, str] = {
    "ssh": "study.measure.devices.ssh:SshTransport",  # the system OpenSSH client: ~/.ssh/config, agent, known_hosts
}
