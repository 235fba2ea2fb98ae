"""The profile `study compare` writes for a user's model: only what differs from the defaults, so that
``bench``, ``report`` and a rerun of ``compare`` repeat exactly this (and measure only what is missing)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from study.build.models import MODELS, check_model_ref
from study.build.models import byo
from study.core import paths
from study.core.errors import StudyError
from study.core.fsutil import write_text_atomic
from study.core.runtimes import RUNTIMES

HERE = ("here", "local", "this")  # --device names for this machine


@dataclass(frozen=True)
class Request:
    """What the user asked ``compare`` for, as given on the command line."""
    model: str
    device: str | None = None
    runtimes: tuple[str, ...] | None = None
    threads: tuple = (1,)
    batch: tuple[int, ...] = (1,)
    name: str | None = None


def model_ref(given: str) -> str:
    """The model as a profile names it: a file given relative to the working directory becomes a path the study
    finds from its root (relative when inside it), with its ``@`` part kept. StudyError for a ref no route names."""
    if given in MODELS or byo.kind(given) != "file":
        check_model_ref(given)
        return given
    base, at, shape = given.rpartition("@") if "@" in given else (given, "", "")
    found = Path(base).expanduser()
    if not found.is_absolute():  # where the user stands first, then where a profile's paths start
        found = Path.cwd() / found if (Path.cwd() / found).is_file() else paths.root() / found
    found = found.resolve()
    try:  # inside the study: the path a profile names, so the folder can move
        found = found.relative_to(paths.root().resolve())
    except ValueError:
        pass
    ref = str(found) + (at + shape if at else "")
    check_model_ref(ref)
    return ref


def _ssh_hosts() -> set[str]:
    """The aliases of the ssh config the study's ssh uses (``STUDY_SSH_CONFIG``, else ``~/.ssh/config``)."""
    config = Path(os.environ.get("STUDY_SSH_CONFIG") or Path.home() / ".ssh" / "config")
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    hosts = set()
    for line in text.splitlines():
        words = line.strip().split()
        if len(words) >= 2 and words[0].lower() == "host":
            hosts.update(w for w in words[1:] if not any(c in w for c in "*?!"))
    return hosts


def device_section(device: str) -> tuple[dict, dict]:
    """(the device: section, the profile keys taken with it) for ``--device``: a device profile's name (its device,
    runtimes, CPUs, threads and timing: what was set up there), an alias of the ssh config, or user@address."""
    from study.plan.profiles import load_profile, profile_names

    if device in profile_names():
        profile = load_profile(device)
        if profile.device is None:
            raise StudyError(f"--device {device}: profile '{device}' is timed on this machine, not on a device. Fix: "
                             f"leave --device out to time here, or name a profile with a device: section")
        section = {k: v for k, v in profile.device.model_dump().items() if v is not None}
        taken = {"runtimes": list(profile.runtimes), "threads": list(profile.threads), "cpu_affinity": profile.cpu_affinity
                 if profile.cpu_affinity == "all" else list(profile.cpu_affinity),
                 "timing": profile.timing.model_dump()}
        return section, taken
    if re.fullmatch(r"[A-Za-z0-9._-]+@[A-Za-z0-9._:%\[\]-]+", device) or device in _ssh_hosts():
        return {"transport": "ssh", "host": device}, {}
    devices = []
    for name in profile_names():
        try:
            if load_profile(name).device is not None:
                devices.append(name)
        except StudyError:  # a broken profile is not this error's subject
            continue
    raise StudyError(f"--device {device}: unknown device: neither a device profile ({', '.join(devices)}) nor a Host "
                     f"of your ssh config. Fix: add 'Host {device}' (HostName, User) to ~/.ssh/config, or write "
                     f"--device user@address")


def profile_name(request: Request) -> str:
    if request.name:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", request.name):
            raise StudyError(f"--name {request.name!r}: a profile name is letters, digits, '_', '.' and '-'. Fix: "
                             "give such a name")
        return request.name
    import hashlib

    base = Path(byo.split_ref(request.model)[0])
    stem = f"{base.stem}-{base.suffix[1:]}" if byo.kind(request.model) == "file" else request.model.replace(":", "-")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "model"
    device = "" if request.device in (None, *HERE) else "-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.device)
    name = f"compare-{stem}{device}"
    taken = paths.profile_file(name)
    if taken.is_file():  # another file of the same name (elsewhere, or another shape) gets a profile of its own
        try:
            models = (yaml.safe_load(taken.read_text(encoding="utf-8")) or {}).get("models")
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError):
            models = None
        if models != [request.model]:
            name += "-" + hashlib.sha256(request.model.encode()).hexdigest()[:6]
    return name


def profile_content(request: Request) -> dict:
    """The profile's keys: what this request sets, nothing a default already says."""
    ref = model_ref(request.model)
    unknown = [r for r in request.runtimes or () if r not in RUNTIMES]
    if unknown:
        raise StudyError(f"--runtimes: unknown runtime {', '.join(unknown)}. Fix: name some of {', '.join(RUNTIMES)}")
    name = profile_name(Request(ref, request.device, request.runtimes, request.threads, request.batch, request.name))
    content: dict = {"name": name, "description": f"{ref} compared by python -m study compare", "models": [ref]}
    if request.device not in (None, *HERE):
        section, taken = device_section(request.device)
        content.update(taken)
        content["device"] = section
    if request.runtimes:
        content["runtimes"] = list(request.runtimes)
    if request.threads != (1,) or "threads" not in content:
        content["threads"] = list(request.threads)
    if "cpu_affinity" not in content:  # one thread on one CPU here, as host-1t; more threads on every CPU
        content["cpu_affinity"] = [0] if list(request.threads) == [1] else "all"
    if tuple(request.batch) != (1,):
        content["batch_sizes"] = list(request.batch)
    return content


def write_profile(content: dict) -> Path:
    """``params/profiles/<name>.yaml`` with ``content`` (``profile_content``; rewritten only when it changes),
    validated."""
    from study.plan.profiles import load_profile

    path = paths.profile_file(content["name"])
    text = ("# Written by `python -m study compare`: `make bench PROFILE=" + content["name"] + "`, `make report "
            "PROFILES=" + content["name"] + "` and the same compare repeat exactly this.\n"
            + yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=110))
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    load_profile(path)  # refused here, with its one line, rather than half-way through
    return path


def parse_threads(text: str) -> tuple:
    """``1,all`` -> (1, "all"); one clear line for anything else."""
    values = []
    for word in (w.strip() for w in text.split(",")):
        if word == "all":
            values.append("all")
        elif word.isdigit() and int(word) >= 1:
            values.append(int(word))
        else:
            raise StudyError(f"--threads {text!r}: expected whole numbers >= 1 or 'all', comma-separated. Fix: "
                             "write e.g. --threads 1 or --threads 1,all")
    return tuple(dict.fromkeys(values))


def parse_batch(text: str) -> tuple[int, ...]:
    words = [w.strip() for w in text.split(",")]
    if not all(w.isdigit() and int(w) >= 1 for w in words):
        raise StudyError(f"--batch {text!r}: expected whole numbers >= 1, comma-separated. Fix: write e.g. --batch 1")
    return tuple(dict.fromkeys(int(w) for w in words))
