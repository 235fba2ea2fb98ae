"""What a profile's device is, as it last described itself (``results/<profile>/device.json``, written by ``bench``
and ``device check`` from the lean worker's ``device_facts``): the CPUs a case may be pinned to and the runtimes'
versions there, which name its cases. What comes from a device is untrusted: it is validated here before use."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from study.core import paths
from study.core.errors import StudyError


class DeviceFacts(BaseModel):
    """The lean worker's description of its device (``study.core.environment.device_facts``)."""
    model_config = ConfigDict(extra="allow")

    machine: str = Field(max_length=256)
    cpu_model: str = Field(max_length=512)
    cpu_count: int | None = Field(default=None, ge=1, le=4096)
    cpus_available: list[int] = Field(min_length=1, max_length=4096)
    architecture: str = Field(max_length=64)
    isa: dict[str, bool] = {}
    governors: dict[str, str] = {}
    max_freq_mhz: dict[str, float] = {}
    temps_c: dict[str, float] = {}
    freqs_mhz: dict[str, float] = {}
    os: str = Field(default="", max_length=512)
    kernel: str = Field(default="", max_length=256)
    python: str = Field(max_length=64)
    versions: dict[str, str | None] = {}


def parse_facts(data: Any, source: str) -> DeviceFacts:
    """Facts from a device (or the file they were kept in), checked; one line naming ``source`` when malformed."""
    try:
        return DeviceFacts.model_validate(data)
    except ValidationError as invalid:
        first = invalid.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "top level"
        raise StudyError(f"{source}: malformed device description ({where}: {first['msg']}). Fix: run "
                         f"python -m study device check PROFILE to describe the device again") from None


def facts(profile) -> DeviceFacts | None:
    """The profile's device as last described, or None when it never was."""
    path = paths.device_results_file(profile.name)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise StudyError(f"{path}: not JSON. Fix: delete it; bench or python -m study device check "
                         f"{profile.name} writes it again") from None
    return parse_facts(data, str(path))


def device_cpus(profile) -> list[int]:
    found = facts(profile)
    if found is None:
        raise StudyError(f"profile '{profile.name}': its device {profile.device.host} has not described itself yet, so "
                         f"its CPUs are unknown. Fix: python -m study device check {profile.name} (bench does it too)")
    return sorted(found.cpus_available)


def device_versions(profile) -> dict[str, str | None] | None:
    """The runtimes' distribution versions on the profile's device (None for a local profile)."""
    if profile.device is None:
        return None
    found = facts(profile)
    return dict(found.versions) if found is not None else {}
